"""What the TGI and OpenAI-compatible backends share: one HTTP client, error mapping, probes."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)

from playground.backends import errors as e
from playground.types import BackendInfo, BackendSpec

_STATUS_ERRORS: dict[int, tuple[type[e.BackendError], str]] = {
    401: (e.BackendAuthError, "Check the token in the backend's token variable (token_env)."),
    403: (e.BackendAuthError, "Check the token in the backend's token variable (token_env)."),
    404: (e.BackendUnreachable, "Check the URL: give the server's root URL, without /generate."),
    422: (e.BackendRejected, "Change the sampling parameters or shorten the conversation."),
    424: (e.BackendUnhealthy, "The server failed while generating; try again or check its logs."),
    429: (e.BackendOverloaded, "The server is at its concurrency limit; retry in a moment."),
    500: (e.BackendUnhealthy, "The server failed while generating; try again or check its logs."),
    503: (e.BackendUnhealthy, "The server is not ready (still loading?); check its /health."),
}


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

    return httpx2.AsyncClient(timeout=httpx2.Timeout(timeout_s, connect=10.0),
                              limits=httpx2.Limits(max_connections=None, max_keepalive_connections=64),
                              event_hooks={"request": [own_token_only]})


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


# huggingface_hub's text-generation errors and the TGI error_type each one stands for.
_HUB_ERROR_TYPES: tuple[tuple[type[TextGenerationError], str], ...] = (
    (OverloadedError, "overloaded"), (ValidationError, "validation"),
    (IncompleteGenerationError, "incomplete_generation"), (GenerationError, "generation"),
    (TextGenerationError, "unknown"),
)


def to_backend_error(exc: BaseException, spec: BackendSpec) -> e.BackendError:
    """Map a hub / httpx exception to a typed ``BackendError`` that says what to do."""
    where = f"{spec.label} ({spec.base_url})"
    if isinstance(exc, e.BackendError):
        return exc
    if isinstance(exc, httpx2.ResponseNotRead) and exc.__context__ is not None:
        return to_backend_error(exc.__context__, spec)  # the hub failed while describing an HTTP error
    if isinstance(exc, TextGenerationError) and isinstance(exc.args[0] if exc.args else None, dict):
        status = exc.args[0].get("http_status_code")  # chat streams put errors in {"message", "http_status_code"}
        cls, hint = _STATUS_ERRORS.get(status, (e.BackendUnhealthy, _STATUS_ERRORS[500][1]))
        return cls(f"{where}: {exc.args[0].get('message', exc)}", hint)
    for hub_class, error_type in _HUB_ERROR_TYPES:
        if isinstance(exc, hub_class):
            return event_error(spec, str(exc), error_type)
    if isinstance(exc, InferenceTimeoutError | httpx2.TimeoutException):
        return e.BackendTimeout(f"{where} sent nothing for too long.", "The server may be overloaded or stuck; check it, or raise the timeout.")
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return http_status_error(spec, exc.response.status_code, _error_body(exc.response) or _first_line(exc))
    if isinstance(exc, httpx2.ConnectError):
        return e.BackendUnreachable(f"Cannot connect to {where}: {exc or 'connection refused'}.",
                                    "Is the server running, and is the URL right?")
    if isinstance(exc, httpx2.RemoteProtocolError | httpx2.ReadError):
        return e.StreamIncomplete(f"{where} dropped the connection mid-stream.", "The server may have crashed or restarted; try again.")
    if isinstance(exc, httpx2.InvalidURL | httpx2.UnsupportedProtocol):
        return e.BackendUnreachable(f"{where}: invalid URL ({exc}).", "Use http(s)://host:port.")
    return e.BackendError(f"{where}: {type(exc).__name__}: {exc}", "Check the server's logs.")


def event_error(spec: BackendSpec, message: str, error_type: str | None) -> e.BackendError:
    """The typed error for TGI's ``{"error", "error_type"}`` (an in-stream event, PROTOCOLS.md §5.3)."""
    where = f"{spec.label} ({spec.base_url})"
    if error_type == "overloaded":
        return e.BackendOverloaded(f"{where} is overloaded: {message}", _STATUS_ERRORS[429][1])
    if error_type == "validation":
        return e.BackendRejected(f"{where} rejected the request: {message}", _STATUS_ERRORS[422][1])
    if error_type == "incomplete_generation":
        return e.StreamIncomplete(f"{where} stopped before finishing: {message}", "Try again.")
    return e.BackendUnhealthy(f"{where} failed while generating: {message}", _STATUS_ERRORS[500][1])


def http_status_error(spec: BackendSpec, status: int, detail: str) -> e.BackendError:
    """The typed error for an HTTP error answer; ``detail`` is the server's message or status line."""
    cls, hint = _STATUS_ERRORS.get(status, (e.BackendError, "Check the server's logs."))
    return cls(f"{spec.label} ({spec.base_url}) answered HTTP {status}: {detail}", hint)


async def read_error_body(exc: BaseException) -> None:
    """Read the body of a streamed HTTP error response so its message can be shown."""
    for candidate in (exc, exc.__context__):
        response = getattr(candidate, "response", None)
        if isinstance(response, httpx2.Response) and not response.is_closed:
            try:
                await response.aread()
            except httpx2.HTTPError:
                pass


def _error_body(response: httpx2.Response) -> str | None:
    """TGI's ``{"error": ...}`` / OpenAI's ``{"error": {"message": ...}}`` text, if readable."""
    try:
        error = response.json().get("error")
    except (httpx2.ResponseNotRead, ValueError, AttributeError):
        return None
    return error.get("message") if isinstance(error, dict) else error


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


async def probe(spec: BackendSpec, fetch: Callable[[], Awaitable[dict[str, Any]]],
                parse: Callable[[dict[str, Any]], tuple[str | None, int | None]]) -> BackendInfo:
    """Time ``fetch()`` and turn its answer (or failure) into a ``BackendInfo``; never raises."""
    start = time.perf_counter()
    try:
        payload = await fetch()
        model_id, window = parse(payload)
    except Exception as exc:  # noqa: BLE001 — a probe reports every failure as data
        return BackendInfo(spec.id, healthy=False, model_id=spec.model_id or None,
                           context_window=spec.context_window, error=str(to_backend_error(exc, spec)))
    latency = (time.perf_counter() - start) * 1000
    return BackendInfo(spec.id, healthy=True, model_id=model_id or spec.model_id or None,
                       context_window=window or spec.context_window, latency_ms=latency)


def auth_headers(spec: BackendSpec) -> dict[str, str]:
    """The ``Authorization`` header this backend's requests carry (empty without a token)."""
    token = read_token(spec)
    return {"Authorization": f"Bearer {token}"} if token else {}


async def get_json(http: httpx2.AsyncClient, url: str, spec: BackendSpec, **kwargs: Any) -> Any:
    """GET or POST (with ``json=``) and decode, raising ``HfHubHTTPError``-free typed errors."""
    method = "POST" if "json" in kwargs else "GET"
    response = await http.request(method, url, **kwargs)
    if response.status_code >= 400:
        cls, hint = _STATUS_ERRORS.get(response.status_code, (e.BackendError, "Check the server's logs."))
        raise cls(f"{spec.label} ({url}) answered HTTP {response.status_code}.", hint)
    return response.json()
