"""Server-sent events as TGI writes them: one ``data: {json}`` line per event, ``:`` keep-alive comments.

Hand-written (a dozen lines) because the generic SSE parsers cost more per event than the
whole rest of the stream handling, and TGI uses none of SSE's other fields (PROTOCOLS.md §5.1).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from playground.types import EndEvent

if TYPE_CHECKING:
    from playground.backends.error_map import ErrorMapper


@dataclass(frozen=True)
class ParsedEvent:
    """One decoded ``data:`` payload: the token text to show (if any) and the end (if final)."""

    text: str | None
    end: EndEvent | None


async def data_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The payload of every ``data:`` line (the bytes after ``data:``), however the chunks split them.

    Comments, blank lines and other fields are skipped; a trailing ``\\r`` is left for the JSON
    parser to ignore. A last line without a newline still counts.

    >>> async def demo():
    ...     async def chunks():
    ...         yield b'data: {"a"'
    ...         yield b': 1}\\n\\n:\\n\\ndata:{"b": 2}\\n'
    ...     return [line async for line in data_lines(chunks())]
    >>> asyncio.run(demo())
    [b' {"a": 1}', b'{"b": 2}']
    """
    pending = b""
    async for chunk in chunks:
        if pending:
            chunk = pending + chunk
        lines = chunk.split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:]
    if pending.startswith(b"data:"):
        yield pending[5:]


async def drain(lines: AsyncIterator[bytes], timeout_s: float) -> None:
    """Read what is left of a finished stream, for at most ``timeout_s``, ignoring errors.

    A response read to its end returns its connection to the pool (no new TCP/TLS handshake
    for the next request); one cut short is closed instead, which is also fine.
    """
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            async for _ in lines:
                pass


def event_payload(data: bytes, errors: ErrorMapper | None) -> dict[str, Any] | None:
    """The JSON object of one ``data:`` payload; ``None`` for the ``[DONE]`` sentinel.

    Raises:
        BackendError: the payload is an in-stream error (TGI's or the chat API's shape).
        ValueError: the payload is not JSON.

    >>> event_payload(b" [DONE]", None) is None, event_payload(b'{"a": 1}', None)
    (True, {'a': 1})
    """
    if data.strip() == b"[DONE]":
        return None
    payload = orjson.loads(data)
    if payload.get("error") is not None:
        raise errors.from_stream_error(payload)
    return payload
