"""Past --max-turns, turns wait in the Gradio queue with their position shown, then stream in full."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import httpx

from benchmarks.gradio_queue import run_turn, send_event_from_config
from benchmarks.procs import ROOT, AppVariant, start_app
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

ONE_SECOND = Behavior(ttft=0.1, rate=20, tokens=18)


async def test_turns_past_the_limit_queue_one_after_another(tgi_server_factory, tmp_path):
    urls = [tgi_server_factory(behavior=ONE_SECOND).url for _ in range(2)]
    variant = AppVariant("queue", ROOT, {"DATABASE_URL": f"sqlite:///{tmp_path}/q.db"}, ("--max-turns", "1"))
    app = await asyncio.to_thread(start_app, variant, urls, tmp_path, "queue")
    try:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            send = send_event_from_config((await client.get("/config")).json(), "Hello", panes=2)
            turns = await asyncio.gather(*(run_turn(client, send) for _ in range(3)))
    finally:
        await asyncio.to_thread(app.stop)
    assert all(t.ok for t in turns), [t.error for t in turns]
    turns = sorted(turns, key=lambda t: t.t_started or 0)
    for before, after in pairwise(turns):
        # Unlimited, all three would start together, a whole turn before the first one ends; the slack (for the
        # client reading two streams) is a share of the turn measured here, so a slow machine widens it.
        slack = 0.3 * (before.t_done - before.t_started)
        assert after.t_started >= before.t_done - slack, "two turns streamed at once past --max-turns 1"
    assert max(t.max_rank for t in turns) >= 1, "the last turn in line was never shown its position"
