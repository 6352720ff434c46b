"""The backends alone: one "turn" = 4 streams straight to the 4 test servers, no app.

Same request the app sends (raw ChatML on ``/generate_stream``, the default sampling values),
read with a plain line reader: this is the denominator of every ratio in the results.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

# What the app renders for the harness's message (written out: the harness must not depend on
# app code that may be mid-edit in the checkout it runs from).
PROMPT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
          "<|im_start|>user\nCompare yourself with the model in the next pane.<|im_end|>\n"
          "<|im_start|>assistant\n")
PARAMETERS = {"do_sample": True, "temperature": 0.8, "repetition_penalty": 1.1, "max_new_tokens": 750,
              "details": True}


@dataclass
class PaneTiming:
    ttft_s: float | None
    total_s: float | None
    error: str | None = None


@dataclass
class DirectTurn:
    """A 4-stream turn against the backends alone."""

    t_start: float
    panes: list[PaneTiming]

    @property
    def ok(self) -> bool:
        return all(p.error is None and p.total_s is not None for p in self.panes)

    @property
    def first_token_s(self) -> float | None:
        values = [p.ttft_s for p in self.panes if p.ttft_s is not None]
        return min(values) if values else None

    @property
    def wall_s(self) -> float | None:
        values = [p.total_s for p in self.panes if p.total_s is not None]
        return max(values) if len(values) == len(self.panes) else None


async def stream_pane(client: httpx.AsyncClient, url: str, timeout_s: float = 60.0) -> PaneTiming:
    """One ``/generate_stream`` request: time to first ``data:`` line and to the final event."""
    start = time.perf_counter()
    ttft = None
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("POST", f"{url}/generate_stream",
                                     json={"inputs": PROMPT, "parameters": PARAMETERS}) as response:
                if response.status_code != 200:
                    return PaneTiming(None, None, f"HTTP {response.status_code}")
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    now = time.perf_counter()
                    if '"error"' in line[:20]:
                        return PaneTiming(ttft, None, line[:200])
                    if ttft is None:
                        ttft = now - start
                    if '"details":{' in line or '"details": {' in line:
                        return PaneTiming(ttft, now - start)
        return PaneTiming(ttft, None, "stream ended without its final event")
    except (TimeoutError, httpx.HTTPError) as exc:
        return PaneTiming(ttft, None, f"{type(exc).__name__}: {exc}")


async def direct_turn(client: httpx.AsyncClient, urls: list[str]) -> DirectTurn:
    """All panes at once, as the app fans out one click."""
    start = time.perf_counter()
    panes = await asyncio.gather(*(stream_pane(client, url) for url in urls))
    return DirectTurn(start, list(panes))


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None, max_keepalive_connections=None))


async def direct_repeats(urls: list[str], repeats: int, pause_s: float = 0.2) -> list[DirectTurn]:
    """``repeats`` 4-stream turns one after another (the backend-alone baseline at K = 1)."""
    async with _client() as client:
        out = []
        for _ in range(repeats):
            out.append(await direct_turn(client, urls))
            await asyncio.sleep(pause_s)
        return out


async def single_streams(urls: list[str], repeats: int, pause_s: float = 0.1) -> list[list[PaneTiming]]:
    """Each backend alone, one stream at a time, ``repeats`` times: per URL, its timings."""
    async with _client() as client:
        out: list[list[PaneTiming]] = []
        for url in urls:
            timings = []
            for _ in range(repeats):
                timings.append(await stream_pane(client, url))
                await asyncio.sleep(pause_s)
            out.append(timings)
        return out


async def direct_load(urls: list[str], users: int, window: tuple[float, float], drain_s: float = 90.0
                      ) -> list[DirectTurn]:
    """``users`` back-to-back 4-stream loops, arriving evenly until ``window[0]``, starting turns until
    ``window[1]``."""
    ramp_s = max(0.0, window[0] - time.perf_counter())
    async with _client() as client:
        turns: list[DirectTurn] = []

        async def user(i: int) -> None:
            await asyncio.sleep(i * ramp_s / max(users, 1))
            while time.perf_counter() < window[1]:
                turns.append(await direct_turn(client, urls))

        tasks = [asyncio.create_task(user(i)) for i in range(users)]
        _, pending = await asyncio.wait(tasks, timeout=window[1] - time.perf_counter() + drain_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return turns
