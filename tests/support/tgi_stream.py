"""Response scripts of the TGI test server, their pacing, and a disconnect-aware ASGI response."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tests.support import tgi_protocol as proto
from tests.support.tgi_protocol import Behavior, GenParams, Plan, Step

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

KEEPALIVE = b":\n\n"
SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache",
               "x-accel-buffering": "no"}
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class Start:
    """Send the response status and headers."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


DROP = _Marker("DROP")  # close the connection now, without finishing the response
COMPLETED = _Marker("COMPLETED")  # the generation reached its natural end
Action = Start | bytes | _Marker


class Tracker(Protocol):
    """What Exchange reports to (the server)."""

    def _stream_began(self, task: asyncio.Task[str]) -> None: ...
    def _stream_ended(self, task: asyncio.Task[str], outcome: str) -> None: ...


async def _idle_until(deadline: float, keepalive: float) -> AsyncIterator[bytes]:
    """Sleep until deadline (monotonic; inf = forever), yielding a `:` comment every keepalive s."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if remaining > keepalive:
            await asyncio.sleep(keepalive)
            yield KEEPALIVE
        else:
            await asyncio.sleep(remaining)
            return


async def paced(behavior: Behavior, steps: Sequence[Step]) -> AsyncIterator[Step | bytes]:
    """Yield steps on the behavior's schedule (ttft, then 1/rate apart) with keep-alives between.

    A "hang" behavior yields only keep-alives, forever.
    """
    start = time.monotonic()
    if behavior.failure == "hang":
        async for ka in _idle_until(math.inf, behavior.keepalive):
            yield ka
    for n, step in enumerate(steps):
        due = start + behavior.ttft + (n / behavior.rate if behavior.rate else 0.0)
        async for ka in _idle_until(due, behavior.keepalive):
            yield ka
        await asyncio.sleep(0)  # let disconnects and other streams through
        yield step


class Exchange:
    """ASGI response that plays a script of actions and notices a client hang-up at once.

    The script runs in its own task while another task waits on `receive()` for
    `http.disconnect`; whichever ends first decides the outcome reported to the tracker:
    "completed", "ended" (finished without success), "drop", "disconnect" or "shutdown".
    """

    def __init__(self, tracker: Tracker, script: AsyncIterator[Action]) -> None:
        self.tracker = tracker
        self.script = script

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        producer = asyncio.create_task(self._play(send))
        watcher = asyncio.create_task(self._wait_disconnect(receive))
        self.tracker._stream_began(producer)
        outcome = "ended"
        try:
            done, _ = await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if producer in done:
                outcome = "shutdown" if producer.cancelled() else producer.result()
            else:
                outcome = "disconnect"
        finally:
            for task in (producer, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.tracker._stream_ended(producer, outcome)

    async def _play(self, send: Send) -> str:
        outcome = "ended"
        try:
            async for action in self.script:
                if isinstance(action, Start):
                    headers = [(k.encode(), v.encode()) for k, v in action.headers.items()]
                    await send({"type": "http.response.start", "status": action.status,
                                "headers": headers})
                elif action is DROP:
                    return "drop"  # returning unfinished makes uvicorn close the socket
                elif action is COMPLETED:
                    outcome = "completed"
                else:
                    await send({"type": "http.response.body", "body": action, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return outcome
        finally:
            await self.script.aclose()  # type: ignore[attr-defined]

    @staticmethod
    async def _wait_disconnect(receive: Receive) -> None:
        message: dict[str, Any] = {}
        while message.get("type") != "http.disconnect":
            message = await receive()


# --- response scripts ---------------------------------------------------------------------


def _limit(behavior: Behavior, result: Plan) -> int | None:
    """How many tokens to send before an injected failure (never the final one)."""
    if behavior.failure in ("error_event", "drop"):
        return min(behavior.fail_after, len(result.steps) - 1)
    return None


async def tgi_stream(behavior: Behavior, params: GenParams, result: Plan) -> AsyncIterator[Action]:
    """`/generate_stream`: one event per token, the last with generated_text (and details)."""
    yield Start(200, SSE_HEADERS)
    limit = _limit(behavior, result)
    steps = result.steps if limit is None else result.steps[:limit]
    async for item in paced(behavior, steps):
        if isinstance(item, bytes):
            yield item
            continue
        final = (result, params) if item.index == len(result.steps) else None
        yield proto.sse(proto.stream_event(item, final))
    if behavior.failure == "error_event":
        message, error_type = behavior.event_error()
        yield proto.sse({"error": message, "error_type": error_type})
    elif behavior.failure == "drop":
        yield DROP
    else:
        yield COMPLETED


async def stream_error(body: dict[str, Any]) -> AsyncIterator[Action]:
    """HTTP 200 then one error event, as TGI streams a validation error."""
    yield Start(200, SSE_HEADERS)
    yield proto.sse(body)


async def chat_stream(behavior: Behavior, model: str, params: GenParams, result: Plan,
                      include_usage: bool) -> AsyncIterator[Action]:
    """Chat chunks: role, content per token, finish_reason, optional usage, `[DONE]`."""
    yield Start(200, SSE_HEADERS)
    limit = _limit(behavior, result)
    steps = result.steps if limit is None else result.steps[:limit]
    first = True
    async for item in paced(behavior, steps):
        if isinstance(item, bytes):
            yield item
            continue
        if first:
            yield proto.sse(proto.chat_chunk(model, ""))
            first = False
        if not item.special:
            yield proto.sse(proto.chat_chunk(model, item.text))
    if behavior.failure == "drop":
        yield DROP
        return
    if behavior.failure == "error_event":
        yield proto.sse(proto.chat_error_event(*behavior.event_error()))
        return
    yield proto.sse(proto.chat_chunk(model, "", proto.chat_finish_reason(result)))
    if include_usage:
        yield proto.sse(proto.chat_chunk(model, None, usage_=proto.usage(result, params)))
    yield proto.sse("[DONE]")
    yield COMPLETED


async def whole(behavior: Behavior, result: Plan, body: Any) -> AsyncIterator[Action]:
    """Non-streaming answer after the same pacing; failures become HTTP errors or a cut body."""
    limit = _limit(behavior, result)
    async for _ in paced(behavior, result.steps if limit is None else result.steps[:limit]):
        pass
    if behavior.failure == "error_event":
        message, error_type = behavior.event_error()
        yield Start(proto.ERROR_STATUS.get(error_type, 500), JSON_HEADERS)
        yield json.dumps({"error": message, "error_type": error_type}).encode()
        return
    data = json.dumps(body).encode()
    yield Start(200, JSON_HEADERS)
    if behavior.failure == "drop":
        yield data[: len(data) // 2]
        yield DROP
        return
    yield data
    yield COMPLETED
