"""A pane's TTFT counts from its request, not from the turn's setup (the first /info of a backend)."""

from __future__ import annotations

import asyncio
import time

from playground.backends.base import Backend
from playground.backends.registry import make_backend
from playground.compare import run as turn
from playground.compare.served import ServedModels
from playground.compare.state import PaneState
from playground.types import BackendInfo, BackendSpec, SamplingParams
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

SETUP_S = 0.6  # a cold backend's first /info answer


class SlowFirstInfo:
    """The backend's own ``info()``, answered ``SETUP_S`` late (as a server busy loading would)."""

    def __init__(self, backend: Backend) -> None:
        self.backend, self.spec = backend, backend.spec
        self.waited_s = 0.0

    async def info(self) -> BackendInfo:
        started = time.perf_counter()
        await asyncio.sleep(SETUP_S)
        info = await self.backend.info()
        self.waited_s = time.perf_counter() - started
        return info


async def test_first_turn_ttft_counts_from_the_request_not_from_the_window_lookup(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(ttft=0.05, text="Quick answer here."))
    spec = BackendSpec(id="a", label="A", base_url=server.url)
    backend = make_backend(spec, 30.0)
    slow = SlowFirstInfo(backend)
    pane = PaneState("a", "A")
    turn.begin(pane, "Hi")
    job = turn.PaneJob(backend, tuple(turn.conversation(pane, None, "Hi")), SamplingParams())
    started = time.perf_counter()
    try:
        async for _ in turn.run_turn([job], [pane], ServedModels({"a": slow})):  # type: ignore[dict-item]
            pass
    finally:
        await backend.aclose()
    wall = time.perf_counter() - started
    assert pane.status == "done" and slow.waited_s >= SETUP_S
    ttft, total = pane.metrics.ttft_s, pane.metrics.total_s
    assert ttft is not None and total is not None
    assert ttft < 0.5 * slow.waited_s, f"TTFT {ttft:.2f}s includes the {slow.waited_s:.2f}s window lookup"
    assert total < wall - 0.5 * slow.waited_s, "the pane's total time still counts the setup"
