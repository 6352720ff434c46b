"""``python app.py --processes 2``: two app processes behind nginx on one port, sticky per browser, one store."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import uuid

import httpx
import pytest

from benchmarks.gradio_queue import SendEvent, run_turn, send_event_from_config
from playground.replicas import ROUTE_COOKIE
from tests.support.app_process import running_app
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

pytestmark = pytest.mark.skipif(shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/bin") is None,
                                reason="needs Debian's nginx (scripts/test.sh installs it)")

BROWSERS = 16  # each lands on either process with even odds: all on the one process of the first, 2**-16


def _asked(servers, message: str, later: str | None) -> list[str]:
    """The request bodies (as text) of the turn that sent ``message`` (not of the ``later`` turn carrying it)."""
    bodies = [json.dumps(r["body"]) for s in servers for r in s.requests]
    return [b for b in bodies if message in b and (later is None or later not in b)]


async def _turn(client: httpx.AsyncClient, config: dict, message: str, session: str) -> None:
    send: SendEvent = send_event_from_config(config, message, panes=2)
    result = await run_turn(client, send, session_hash=session, timeout_s=90)
    assert result.ok, result.error


async def test_two_processes_behind_one_port_sticky_per_browser_sharing_one_store(tgi_server_factory, tmp_path):
    servers = [tgi_server_factory(behavior=Behavior(ttft=0.02, rate=200, tokens=6)) for _ in range(2)]
    store = tmp_path / "votes.db"
    args = ["--processes", "2", "--database-url", f"sqlite:///{store}",
            *(arg for i, s in enumerate(servers) for arg in ("--backend", f"{'AB'[i]}={s.url}"))]
    with running_app(args, timeout_s=240) as (url, launcher):
        async with httpx.AsyncClient(base_url=url, timeout=30) as anonymous:
            first = await anonymous.get("/")
            assert first.headers["server"].startswith("nginx")
            cookie = first.headers["set-cookie"]
            assert re.fullmatch(rf"{ROUTE_COOKIE}=[0-9a-f]{{32}}; Path=/; HttpOnly; SameSite=Lax", cookie), cookie
        async with httpx.AsyncClient(base_url=url, timeout=30, cookies={ROUTE_COOKIE: "a-browser"}) as known:
            assert "set-cookie" not in (await known.get("/")).headers  # a browser keeps the cookie it has
            config = (await known.get("/config")).json()
        async def forget(_: httpx.Response) -> None:
            api.cookies.clear()

        async with httpx.AsyncClient(base_url=url, timeout=30, event_hooks={"response": [forget]}) as api:
            # An API client that keeps no cookie sticks by its address: its conversation goes on.
            api_session = uuid.uuid4().hex[:12]
            await _turn(api, config, "api one", api_session)
            await _turn(api, config, "api two", api_session)
            assert not api.cookies

        async def browser(i: int) -> None:
            session = uuid.uuid4().hex[:12]
            async with httpx.AsyncClient(base_url=url, timeout=30, cookies={ROUTE_COOKIE: f"b{i}"}) as own, \
                    httpx.AsyncClient(base_url=url, timeout=30, cookies={ROUTE_COOKIE: f"other{i}"}) as other:
                await _turn(own, config, f"first {i}.", session)
                await _turn(own, config, f"second {i}.", session)
                await _turn(other, config, f"third {i}.", session)  # the same session sent with another cookie

        await asyncio.gather(*(browser(i) for i in range(BROWSERS)))
        assert launcher.poll() is None

    def carried(message: str, earlier: str, later: str | None = None) -> bool:
        asked = _asked(servers, message, later)
        assert len(asked) == 2, (message, len(asked))  # one request per pane
        return all(earlier in body for body in asked)

    # Every browser's second turn reached the process holding its conversation (both panes saw the first turn).
    assert all(carried(f"second {i}.", f"first {i}.", f"third {i}.") for i in range(BROWSERS))
    assert carried("api two", "api one")
    # Another cookie is another process for some of them: that process never saw the conversation.
    assert sum(not carried(f"third {i}.", f"first {i}.") for i in range(BROWSERS)) >= 1
    # Both processes wrote to the one store: every turn is there.
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM turns").fetchone()[0] == 3 * BROWSERS + 2
