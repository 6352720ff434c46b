"""What the TGI and OpenAI-compatible backends share: one pooled HTTP client, probes, JSON requests."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from huggingface_hub import AsyncInferenceClient

from playground.backends.error_map import ErrorMapper, error_body
from playground.backends.redact import mask_url_credentials
from playground.types import BackendInfo, BackendSpec

log = logging.getLogger(__name__)

POOL_KEEPALIVE_S = 3.0
"""How long an idle pooled connection is kept: well under the 5 s after which uvicorn (so vLLM)
and llama.cpp close idle connections, with room for a busy event loop noticing late."""

_STALE = (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError)


def read_token(spec: BackendSpec) -> str | None:
    """The backend's token from its environment variable, read server-side only."""
    return os.environ.get(spec.token_env) or None if spec.token_env else None


def make_http_client(spec: BackendSpec, timeout_s: float) -> httpx2.AsyncClient:
    """One pooled client per backend: creating one loads the CA bundle (~55 ms of CPU).

    Every request it sends carries exactly this backend's own token, or no
    ``Authorization`` header at all: the hub client would otherwise add the user's cached
    Hugging Face token to requests for any URL.
    """
    async def own_token_only(request: httpx2.Request) -> None:
        request.headers.pop("authorization", None)
        request.headers.update(auth_headers(spec))

    return httpx2.AsyncClient(timeout=httpx2.Timeout(timeout_s, connect=10.0), transport=RetryStaleTransport(),
                              event_hooks={"request": [own_token_only]})


class RetryStaleTransport(httpx2.AsyncBaseTransport):
    """A pooled transport that sends a request again, once, on a fresh connection when its
    reused connection failed before any response byte (the server closed it while idle).

    Hand-written: httpx retries failed connects only (``retries=``), never a reused connection.
    Idle connections expire after ``POOL_KEEPALIVE_S``, so this is the rare race, not the rule.
    """

    def __init__(self) -> None:
        ssl_context = httpx2.create_ssl_context()  # loads the CA bundle once for both pools
        self._pool = httpx2.AsyncHTTPTransport(verify=ssl_context, limits=httpx2.Limits(
            max_connections=None, max_keepalive_connections=64, keepalive_expiry=POOL_KEEPALIVE_S))
        self._fresh = httpx2.AsyncHTTPTransport(verify=ssl_context, limits=httpx2.Limits(
            max_connections=None, max_keepalive_connections=0))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request``; retry it on a new connection if a reused one was found closed."""
        opened: list[str] = []
        outer = request.extensions.get("trace")

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.startswith("connection.connect_tcp"):
                opened.append(event)
            if outer is not None:
                await outer(event, info)

        request.extensions = {**request.extensions, "trace": trace}
        try:
            return await self._pool.handle_async_request(request)
        except _STALE as exc:
            if opened:
                raise
            log.info("%s on a reused connection to %s before any answer; sending again on a new one",
                     type(exc).__name__, mask_url_credentials(str(request.url)))
            return await self._fresh.handle_async_request(request)

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self._fresh.aclose()


@asynccontextmanager
async def inference_client(spec: BackendSpec, http: httpx2.AsyncClient) -> AsyncIterator[AsyncInferenceClient]:
    """An ``AsyncInferenceClient`` for one request that closes exactly that request's stream.

    The hub client enters each streamed response into its own exit stack, so a stream is
    closed only when the client is. A client per request, sharing the backend's pooled
    ``httpx2`` client (hand-set here: the hub has no public hook for a per-instance client),
    makes ``close()`` drop just this connection — which is how TGI learns to stop.
    """
    timeout = http.timeout.read  # the hub client passes its own timeout per request, overriding the pool's
    client = AsyncInferenceClient(base_url=spec.base_url, token=read_token(spec), timeout=timeout)
    client._async_client = http  # noqa: SLF001 — share the pool; see docstring
    try:
        yield client
    finally:
        await client.close()


async def read_error_body(exc: BaseException) -> None:
    """Read the body of a streamed HTTP error response so its message can be shown."""
    for candidate in (exc, exc.__context__):
        response = getattr(candidate, "response", None)
        if isinstance(response, httpx2.Response) and not response.is_closed:
            try:
                await response.aread()
            except httpx2.HTTPError:
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


def auth_headers(spec: BackendSpec) -> dict[str, str]:
    """The ``Authorization`` header this backend's requests carry (empty without a token)."""
    token = read_token(spec)
    return {"Authorization": f"Bearer {token}"} if token else {}


async def get_json(http: httpx2.AsyncClient, url: str, errors: ErrorMapper, **kwargs: Any) -> Any:
    """GET or POST (with ``json=``) and decode, raising typed errors for HTTP error answers."""
    method = "POST" if "json" in kwargs else "GET"
    response = await http.request(method, url, **kwargs)
    if response.status_code >= 400:
        raise errors.from_status(response.status_code, error_body(response) or response.reason_phrase)
    return response.json()
