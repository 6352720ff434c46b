"""The one HTTP stack of the backends: a pooled ``aiohttp`` session per backend, and its probe.

Why aiohttp for everything (token streams, ``/info``, ``/tokenize``, ``/v1/models``): with hundreds
of streams open, ``httpx2``'s per-read machinery cost the app about as much as the rest of its
backend work; aiohttp's C parser reads the same stream for a fraction of that (README, Benchmarks:
95 → 72 ms of app CPU per turn), and a plain GET or POST costs about a third of the client CPU.

Requests carry exactly the backend's own token or none: ``trust_env`` is off, so no ``.netrc``
credential (nor the user's Hugging Face token) is ever added; proxies from the environment are
honoured explicitly instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from playground.backends import errors as e
from playground.backends.error_map import ErrorMapper
from playground.backends.redact import mask_url_credentials
from playground.backends.sse import ParsedEvent, data_lines, drain
from playground.types import BackendInfo, BackendSpec, StreamEvent, TokenEvent

log = logging.getLogger(__name__)

POOL_KEEPALIVE_S = 3.0
"""How long an idle pooled connection is kept: well under the 5 s after which uvicorn (so vLLM)
and llama.cpp close idle connections, with room for a busy event loop noticing late."""

DRAIN_S = 0.25  # after the final event, how long to wait for the body's end so the connection is reused
_STALE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def read_token(spec: BackendSpec) -> str | None:
    """The backend's token from its environment variable, read server-side only."""
    return os.environ.get(spec.token_env) or None if spec.token_env else None


def auth_headers(spec: BackendSpec) -> dict[str, str]:
    """The ``Authorization`` header this backend's requests carry (empty without a token)."""
    token = read_token(spec)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP(S)_PROXY`` minus ``NO_PROXY``), if any."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def _note_reuse(_: aiohttp.ClientSession, context: Any, __: object) -> None:
    context.trace_request_ctx["reused"] = True


class HttpSession:
    """A backend's pooled aiohttp session, opened lazily in the running event loop.

    Idle connections expire after ``POOL_KEEPALIVE_S``, before common servers close them; a
    request whose reused connection fails before any response byte is sent again, once, on a
    new connection (hand-written: aiohttp retries only idempotent methods, and a POST is not).

    Args:
        errors: the backend's error mapper (its spec gives the URL and token).
        timeout_s: longest silence while reading an answer; connecting gets 10 s.
    """

    def __init__(self, errors: ErrorMapper, timeout_s: float) -> None:
        self.spec = errors.spec
        self._errors = errors
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=timeout_s)
        self._proxy = _env_proxy(self.spec.base_url)
        self._sessions: dict[bool, aiohttp.ClientSession] = {}  # by force_close: pooled, or one connection per request
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self, fresh: bool = False) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._sessions, self._loop = {}, loop
        session = self._sessions.get(fresh)
        if session is None or session.closed:
            trace = aiohttp.TraceConfig()
            trace.on_connection_reuseconn.append(_note_reuse)
            keep = {"force_close": True} if fresh else {"keepalive_timeout": POOL_KEEPALIVE_S}
            connector = aiohttp.TCPConnector(limit=0, **keep)
            session = self._sessions[fresh] = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, trust_env=False, json_serialize_bytes=orjson.dumps,
                auto_decompress=True, trace_configs=[trace])
        return session

    async def _send(self, url: str, body: dict[str, Any] | None) -> aiohttp.ClientResponse:
        """GET (no body) or POST ``body`` as JSON and read the status line and headers, retrying
        once if a reused connection was stale."""
        method = "GET" if body is None else "POST"
        kwargs: dict[str, Any] = {"json": body, "headers": auth_headers(self.spec), "proxy": self._proxy}
        attempt: dict[str, bool] = {}
        try:
            return await self._current().request(method, url, trace_request_ctx=attempt, **kwargs)
        except _STALE as exc:
            if not attempt.get("reused"):
                raise
            log.info("%s on a reused connection to %s before any answer; sending again on a new one",
                     type(exc).__name__, mask_url_credentials(url))
        return await self._current(fresh=True).request(method, url, **kwargs)

    @asynccontextmanager
    async def open(self, path: str, body: dict[str, Any] | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send to ``path`` (GET, or POST with a JSON ``body``); yields the open response, raising a
        typed error for HTTP errors.

        Leaving the block before the body ended closes the connection (that is how TGI learns
        to stop); leaving it after the end returns the connection to the pool.
        """
        async with await self._send(f"{self.spec.base_url}{path}", body) as response:
            if response.status >= 400:
                raise await self._errors.from_response(response)
            yield response

    async def stream_events(self, path: str, body: dict[str, Any], parse: Callable[[bytes], ParsedEvent | None],
                            what: str) -> AsyncIterator[StreamEvent]:
        """POST ``body`` to ``path`` and yield the stream's events, each ``data:`` payload read by ``parse``
        (``None``: the stream is over).

        Stops after the final event (its ``generated_tokens`` counted here when the server gave
        none), reading the rest of the body for a moment so the connection goes back to the pool.

        Raises:
            BackendError: HTTP errors, error events (raised by ``parse``), a dropped connection, and a
                stream that ends without its final event (``what`` names that event in the message).
        """
        tokens = 0
        try:
            async with self.open(path, body) as response:
                lines = data_lines(response.content.iter_any())
                async for data in lines:
                    event = parse(data)
                    if event is None:
                        break
                    if event.text is not None:
                        tokens += 1
                        yield TokenEvent(event.text)
                    if event.end is not None:
                        end = event.end
                        yield end if end.generated_tokens is not None else replace(end, generated_tokens=tokens)
                        await drain(lines, DRAIN_S)
                        return
        except e.BackendError:
            raise
        except Exception as exc:
            raise self._errors.from_exception(exc) from exc
        raise self._errors.incomplete(what)

    async def json(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """The decoded JSON answer of ``open(path, body)``; raises a typed ``BackendError``."""
        try:
            async with self.open(path, body) as response:
                return orjson.loads(await response.read())
        except Exception as exc:
            raise self._errors.from_exception(exc) from exc

    async def aclose(self) -> None:
        """Close the pooled connections (only possible from the loop that opened them)."""
        for session in self._sessions.values():
            if not session.closed:
                try:
                    await session.close()
                except RuntimeError:  # opened by another, now closed, event loop: nothing left to close
                    pass


async def probe(errors: ErrorMapper, fetch: Callable[[], Awaitable[dict[str, Any]]],
                parse: Callable[[dict[str, Any]], tuple[str | None, int | None]]) -> BackendInfo:
    """Time ``fetch()`` and turn its answer (or failure) into a ``BackendInfo``; never raises."""
    spec = errors.spec
    start = time.perf_counter()
    try:
        payload = await fetch()
        model_id, window = parse(payload)
    except Exception as exc:  # noqa: BLE001 — a probe reports every failure as data
        return BackendInfo(spec.id, healthy=False, model_id=spec.model_id or None,
                           context_window=spec.context_window, error=str(errors.from_exception(exc)))
    latency = (time.perf_counter() - start) * 1000
    return BackendInfo(spec.id, healthy=True, model_id=model_id or spec.model_id or None,
                       context_window=window or spec.context_window, latency_ms=latency)
