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
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from playground.backends import errors as e
from playground.backends.http import auth_headers, http_status_error
from playground.types import BackendSpec


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP(S)_PROXY`` minus ``NO_PROXY``), if any."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class StreamSession:
    """A backend's pooled aiohttp session, opened lazily in the running event loop."""

    def __init__(self, spec: BackendSpec, timeout_s: float) -> None:
        self.spec = spec
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=timeout_s)
        self._proxy = _env_proxy(spec.base_url)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30), timeout=self._timeout,
                trust_env=False, json_serialize_bytes=orjson.dumps, auto_decompress=True)
            self._loop = loop
        return self._session

    @asynccontextmanager
    async def post(self, path: str, body: dict[str, Any]) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST ``body`` as JSON; yields the open response, raising a typed error for HTTP errors.

        Leaving the block before the body ended closes the connection (that is how TGI learns
        to stop); leaving it after the end returns the connection to the pool.
        """
        async with self._current().post(f"{self.spec.base_url}{path}", json=body, headers=auth_headers(self.spec),
                                        proxy=self._proxy) as response:
            if response.status >= 400:
                raise http_status_error(self.spec, response.status, await _error_detail(response))
            yield response

    async def aclose(self) -> None:
        """Close the pooled connections (only possible from the loop that opened them)."""
        if self._session is not None and not self._session.closed:
            try:
                await self._session.close()
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


def stream_error(exc: BaseException, spec: BackendSpec) -> e.BackendError | None:
    """The typed error for an aiohttp failure, or ``None`` when ``exc`` is not one."""
    where = f"{spec.label} ({spec.base_url})"
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return e.BackendUnreachable(f"{where}: invalid URL ({exc}).", "Use http(s)://host:port.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror if exc.os_error and exc.os_error.strerror else exc
        return e.BackendUnreachable(f"Cannot connect to {where}: {reason}.", "Is the server running, and is the URL right?")
    if isinstance(exc, asyncio.TimeoutError):  # also aiohttp's socket read / connect timeouts
        return e.BackendTimeout(f"{where} sent nothing for too long.",
                                "The server may be overloaded or stuck; check it, or raise the timeout.")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return e.StreamIncomplete(f"{where} dropped the connection mid-stream.",
                                  "The server may have crashed or restarted; try again.")
    return None
