"""K simulated users clicking Send back to back through the real Gradio queue, and Stop trials."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from benchmarks.gradio_queue import SendEvent, TurnResult, cancel, run_turn
from playground.replicas import ROUTE_COOKIE

_DROPPED = re.compile(r'^tgi_request_failure\{err="dropped"\} (\d+)', re.M)


@dataclass
class StopTrial:
    """One click of Stop mid-turn: how long until every backend saw its connection closed."""

    latency_s: float | None  # cancel sent -> the last server reports the drop (upper bound: poll period)
    error: str | None = None


@dataclass
class UserRun:
    """What K users saw during one load window."""

    turns: list[TurnResult]
    window: tuple[float, float]  # perf_counter bounds of the measured window
    stops: list[StopTrial] = field(default_factory=list)
    unfinished: int = 0  # turns still running when the drain deadline passed


def http_client(base_url: str, route: str | None = None) -> httpx.AsyncClient:
    """A pooled client (no connection cap, long reads); with ``route``, the cookie a browser gets from the
    nginx of ``python app.py --processes N`` (one user, one process), as a random key of its own."""
    return httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(180.0, connect=10.0),
                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
                             cookies={ROUTE_COOKIE: route} if route else None)


async def dropped_total(client: httpx.AsyncClient, server_urls: Sequence[str]) -> int:
    """Sum of the test servers' ``dropped`` counters (streams whose client hung up)."""
    texts = await asyncio.gather(*(client.get(f"{url}/metrics") for url in server_urls))
    return sum(int(m.group(1)) for r in texts for m in _DROPPED.finditer(r.text))


async def stop_trial(app: httpx.AsyncClient, probe: httpx.AsyncClient, send: SendEvent,
                     server_urls: Sequence[str], streaming_s: float = 0.3, poll_s: float = 0.005,
                     timeout_s: float = 5.0) -> StopTrial:
    """Start a turn, let it stream ``streaming_s``, send Stop, time the backends' disconnects."""
    session = uuid.uuid4().hex[:12]
    first = asyncio.Event()
    box: list[str] = []
    turn = asyncio.create_task(run_turn(app, send, session_hash=session, on_first_token=first, event_id_box=box))
    try:
        try:
            await asyncio.wait_for(first.wait(), 60)
        except TimeoutError:
            return StopTrial(None, "no first token within 60 s")
        await asyncio.sleep(streaming_s)
        if turn.done():
            return StopTrial(None, "turn finished before Stop")
        before = await dropped_total(probe, server_urls)
        sent = time.perf_counter()
        await cancel(app, send, session, box[0])
        while time.perf_counter() - sent < timeout_s:
            if await dropped_total(probe, server_urls) >= before + send.panes:
                return StopTrial(time.perf_counter() - sent)
            await asyncio.sleep(poll_s)
        return StopTrial(None, f"backends still streaming {timeout_s} s after Stop")
    finally:
        try:
            await asyncio.wait_for(turn, 30)
        except TimeoutError:
            pass


async def stop_trials(app_url: str, send: SendEvent, server_urls: Sequence[str], n: int) -> list[StopTrial]:
    """``n`` Stop trials one after another on an otherwise idle app."""
    async with http_client(app_url) as app, httpx.AsyncClient(timeout=5.0) as probe:
        return [await stop_trial(app, probe, send, server_urls) for _ in range(n)]


async def drive_users(app_urls: Sequence[str], send: SendEvent, users: int, window: tuple[float, float], drain_s: float,
                      server_urls: Sequence[str] = (), stopper: bool = False, turns_per_session: int = 4,
                      stop_every_s: float = 3.0) -> UserRun:
    """``users`` loops of back-to-back turns, arriving evenly until ``window[0]``; new turns stop at ``window[1]``.

    Each user keeps its session (its conversation) for ``turns_per_session`` turns, then opens a
    new one, as someone would reload the page. Each user is a browser of its own: its own
    connections and routing cookie (sticky behind ``--processes N``'s nginx). With several app
    replicas, user ``i`` always talks to replica ``i % len(app_urls)``, as behind a sticky load
    balancer. Turns still running ``drain_s`` after the window are cancelled and counted as
    unfinished. With ``stopper`` one extra user (not counted) runs a Stop trial every
    ``stop_every_s`` during the window.
    """
    turns: list[TurnResult] = []
    stops: list[StopTrial] = []
    ramp_s = max(0.0, window[0] - time.perf_counter())

    clients = [http_client(app_urls[i % len(app_urls)], uuid.uuid4().hex) for i in range(max(users, 1))]
    app = clients[0]
    async with contextlib.AsyncExitStack() as stack, httpx.AsyncClient(timeout=5.0) as probe:
        for client in clients:
            await stack.enter_async_context(client)

        async def user(i: int) -> None:
            await asyncio.sleep(i * ramp_s / max(users, 1))
            n = 0
            session = uuid.uuid4().hex[:12]
            previous = None
            while time.perf_counter() < window[1]:
                previous = await run_turn(clients[i], send, session_hash=session,
                                          data=send.data_after(previous))
                turns.append(previous)
                n += 1
                if n % turns_per_session == 0:
                    session, previous = uuid.uuid4().hex[:12], None

        async def stop_user() -> None:
            await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
            while time.perf_counter() < window[1]:
                began = time.perf_counter()
                stops.append(await stop_trial(app, probe, send, server_urls))
                await asyncio.sleep(max(0.0, began + stop_every_s - time.perf_counter()))

        tasks = [asyncio.create_task(user(i)) for i in range(users)]
        if stopper:
            tasks.append(asyncio.create_task(stop_user()))
        _, pending = await asyncio.wait(tasks, timeout=window[1] - time.perf_counter() + drain_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return UserRun(turns, window, stops, unfinished=len(pending))
