"""A small ASGI middleware in front of Gradio's routes: refuses, before Gradio creates any state,

- a new browser session from an address that opened too many (so a flood of throw-away
  sessions cannot push other users' state out of Gradio's session cache),
- a second turn from a session that already has one queued or running,
- a request body over the size limit, a call to a listener that does not exist, and values a
  listener cannot take (``payload_problem``: wrong count or shape, answered with its message),
- and, whatever the method, the Gradio routes this page never uses that write to the server's disk
  (``CLOSED``: file uploads, the footer's screen-recording converter, which runs ffmpeg on what it
  is sent, and deep links, which save a session's values to a new file on every call).

Hand-written because the refusals must happen before Gradio reads the request (Gradio creates
a session's state on first contact); the body is read once and handed on unchanged.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from playground.access.identity import client_address
from playground.access.quotas import Quotas

GUARDED = ("/gradio_api/queue/join", "/gradio_api/run/", "/gradio_api/call/", "/gradio_api/component_server")
CLOSED = {  # no component of the page takes a file, records the screen or makes a deep link
    "/gradio_api/upload": "This app takes no file uploads.",
    "/gradio_api/process_recording": "This app does not process screen recordings.",
    "/gradio_api/deep_link": "This app makes no deep links.",
}


@dataclass
class SessionGate:
    """What the guard decides with: quotas, trusted proxy hops, and the app's turn bookkeeping.

    ``turn_busy(session_hash, fn_index)`` says whether a join for ``fn_index`` starts a turn
    while the session already has one queued or running; ``fn_exists(fn_index)`` whether such a
    listener exists; ``payload_problem(fn_index, body)`` why the body's values cannot go to it. All three
    are set once the Blocks are built.
    """

    quotas: Quotas | None  # None on a local deployment: only this machine reaches it, nothing to ration
    proxy_hops: int
    max_body_bytes: int
    max_known_sessions: int
    busy_grace_s: float = 1.0
    turn_busy: Callable[[str, int], bool] = lambda _session, _fn: False
    fn_exists: Callable[[int], bool] = lambda _fn: True
    payload_problem: Callable[[int, dict[str, Any]], str | None] = lambda _fn, _body: None
    known: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def refusal(self, path: str, address: str, body: dict[str, Any]) -> tuple[int, str] | None:
        """(HTTP status, message) when this request must not reach Gradio, else ``None``."""
        fn_index = body.get("fn_index")
        if fn_index is not None and (not isinstance(fn_index, int) or not self.fn_exists(fn_index)):
            return 400, f"There is no listener number {fn_index!r} in this app."
        session = body.get("session_hash")
        session = session if isinstance(session, str) and 0 < len(session) <= 64 else None
        if session is None or session not in self.known:
            if self.quotas is not None and not self.quotas.take_session(address):
                return 429, ("Too many new sessions from your network: please reuse an open page "
                             "or come back in a while.")
            if session is not None:
                self.known[session] = None
                if len(self.known) > self.max_known_sessions:
                    self.known.popitem(last=False)
        else:
            self.known.move_to_end(session)
        problem = self.payload_problem(fn_index, body) if fn_index is not None else None
        return (422, problem) if problem else None

    def joins_busy_turn(self, path: str, body: dict[str, Any]) -> bool:
        """Would this join start a second turn in a session that has one queued or running?"""
        session, fn_index = body.get("session_hash"), body.get("fn_index")
        return (path.endswith("/queue/join") and isinstance(session, str) and isinstance(fn_index, int)
                and self.turn_busy(session, fn_index))


class RequestGuard:
    """ASGI middleware applying a ``SessionGate`` to the POST routes that reach listeners."""

    def __init__(self, app: ASGIApp, gate: SessionGate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (closed := CLOSED.get(path.rstrip("/"))):
            await _reply(send, 404, closed)
            return
        if scope["type"] != "http" or scope.get("method") != "POST" or not path.startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = int(headers.get("content-length") or 0)
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= self.gate.max_body_bytes and declared <= self.gate.max_body_bytes:
            message = await receive()
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        if size > self.gate.max_body_bytes or declared > self.gate.max_body_bytes:
            await _reply(send, 413, f"The request is larger than {self.gate.max_body_bytes:,} bytes: "
                                    "shorten the message or the pasted text.")
            return
        raw = b"".join(chunks)
        try:
            parsed = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            parsed = _lenient_json(raw)
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        peer = scope["client"][0] if scope.get("client") else None
        address = client_address(peer, headers, self.gate.proxy_hops)
        refused = self.gate.refusal(path, address, body)
        if refused is None and self.gate.joins_busy_turn(path, body):
            await asyncio.sleep(self.gate.busy_grace_s)  # a Stop just clicked may still be unwinding
            if self.gate.joins_busy_turn(path, body):
                refused = 429, ("A turn is already running or waiting in this session: "
                                "wait for it to end, or press Stop.")
        if refused:
            await _reply(send, *refused)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


def _lenient_json(raw: bytes) -> Any:
    """The body as Starlette reads it for Gradio (``json.loads``: NaN and Infinity too), else ``{}``."""
    try:
        return json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return {}


async def _reply(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"detail": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
