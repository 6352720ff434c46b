"""One pooled ``aiohttp`` session per backend for its long-lived token streams.

Why aiohttp for streams (and ``httpx2`` for everything else): with hundreds of streams open,
``httpx2``'s per-read machinery (a timeout scope, a selector change and several wrappers per
chunk) cost the app about as much as the rest of its backend work; aiohttp's C parser reads
the same stream for a fraction of that (README, Benchmarks: 95 → 72 ms of app CPU per turn).

Like ``http.make_http_client``, requests carry exactly the backend's own token or none:
``trust_env`` is off, so no ``.netrc`` credential is ever added; proxies from the environment
are honoured explicitly instead.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from playground.backends.error_map import ErrorMapper
from playground.backends.http import POOL_KEEPALIVE_S, auth_headers
from playground.backends.redact import mask_url_credentials

log = logging.getLogger(__name__)
_STALE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP(S)_PROXY`` minus ``NO_PROXY``), if any."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def _note_reuse(_: aiohttp.ClientSession, context: Any, __: object) -> None:
    context.trace_request_ctx["reused"] = True


class StreamSession:
    """A backend's pooled aiohttp session, opened lazily in the running event loop.

    Idle connections expire after ``POOL_KEEPALIVE_S``, before common servers close them; a
    request whose reused connection fails before any response byte is sent again, once, on a
    new connection (hand-written: aiohttp retries only idempotent methods, and a POST is not).
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

    async def _send(self, url: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """POST and read the status line and headers, retrying once if a reused connection was stale."""
        attempt: dict[str, bool] = {}
        try:
            return await self._current().post(url, json=body, headers=auth_headers(self.spec), proxy=self._proxy,
                                              trace_request_ctx=attempt)
        except _STALE as exc:
            if not attempt.get("reused"):
                raise
            log.info("%s on a reused connection to %s before any answer; sending again on a new one",
                     type(exc).__name__, mask_url_credentials(url))
        return await self._current(fresh=True).post(url, json=body, headers=auth_headers(self.spec),
                                                    proxy=self._proxy)

    @asynccontextmanager
    async def post(self, path: str, body: dict[str, Any]) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST ``body`` as JSON; yields the open response, raising a typed error for HTTP errors.

        Leaving the block before the body ended closes the connection (that is how TGI learns
        to stop); leaving it after the end returns the connection to the pool.
        """
        async with await self._send(f"{self.spec.base_url}{path}", body) as response:
            if response.status >= 400:
                raise self._errors.from_status(response.status, await _error_detail(response))
            yield response

    async def aclose(self) -> None:
        """Close the pooled connections (only possible from the loop that opened them)."""
        for session in self._sessions.values():
            if not session.closed:
                try:
                    await session.close()
                except RuntimeError:  # opened by another, now closed, event loop: nothing left to close
                    pass


async def _error_detail(response: aiohttp.ClientResponse) -> str:
    """TGI's ``{"error": …}`` message, else the status line."""
    try:
        error = orjson.loads(await response.read()).get("error")
    except (aiohttp.ClientError, ValueError, AttributeError, asyncio.TimeoutError):
        error = None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error) if error else f"{response.status} {response.reason or ''}".strip()
