"""The one place backend failures become typed ``BackendError``s, with secrets and addresses hidden.

Every text a backend (or its HTTP client) supplies passes through ``ErrorMapper._build``: the
message anyone may see names the backend's label, never its URL or host, and has every
configured token and URL credential masked; ``operator_detail`` keeps the URL and the raw text
(credentials masked) for operators, and the same goes to the server log in one line.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson

from playground.backends import errors as e
from playground.backends.redact import Redactor, hide_addresses, mask_url_credentials
from playground.types import BackendSpec

log = logging.getLogger(__name__)
SHOWN_CHARS = 400  # of a server's error text in the message anyone sees (gateways may answer whole pages)
OPERATOR_CHARS = 4000

_TOKEN_HINT = "Check the token in the backend's token variable (token_env)."
_SERVER_HINT = "The server failed while generating; try again or check its logs."
_STATUS_ERRORS: dict[int, tuple[type[e.BackendError], str]] = {
    401: (e.BackendAuthError, _TOKEN_HINT),
    403: (e.BackendAuthError, _TOKEN_HINT),
    404: (e.BackendUnreachable, "Check the URL: give the server's root URL, without /generate."),
    422: (e.BackendRejected, "Change the sampling parameters or shorten the conversation."),
    424: (e.BackendUnhealthy, _SERVER_HINT),
    429: (e.BackendOverloaded, "The server is at its concurrency limit; retry in a moment."),
    500: (e.BackendUnhealthy, _SERVER_HINT),
    503: (e.BackendUnhealthy, "The server is not ready (still loading?); check its /health."),
}

_CHAT_ERROR_TYPES = {422: "validation", 429: "overloaded"}  # an in-stream chat error's http_status_code
_DROPPED = (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
_BAD_URL = (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)


class ErrorMapper:
    """Builds one backend's typed errors from HTTP answers, error events and client exceptions.

    Args:
        spec: the backend; its label names it in messages, its URL goes to operators only.
        redactor: the secrets to mask (all configured backends' tokens and URL credentials).

    Example:
        >>> spec = BackendSpec(id="a", label="A", base_url="http://u:s3cret@tgi:80")
        >>> error = ErrorMapper(spec, Redactor.for_specs([spec])).from_status(401, "s3cret rejected by tgi:80")
        >>> error.detail
        'A answered HTTP 401: *** rejected by [backend host].'
        >>> error.operator_detail
        'A (http://***@tgi:80): *** rejected by tgi:80'

    """

    def __init__(self, spec: BackendSpec, redactor: Redactor | None = None) -> None:
        self.spec = spec
        self.redactor = redactor or Redactor.for_specs([spec])

    def from_status(self, status: int, detail: str) -> e.BackendError:
        """The error for an HTTP error answer; ``detail`` is the server's message or status line."""
        cls, hint = _STATUS_ERRORS.get(status, (e.BackendError, "Check the server's logs."))
        return self._build(cls, f"{self.spec.label} answered HTTP {status}", hint, detail)

    async def from_response(self, response: aiohttp.ClientResponse) -> e.BackendError:
        """The error for an HTTP error answer, with the server's own message where it gave one."""
        return self.from_status(response.status, await error_text(response))

    def from_stream_error(self, payload: dict[str, Any]) -> e.BackendError:
        """The error for an error event after HTTP 200: TGI's ``{"error": str, "error_type"}`` or a chat
        server's ``{"error": {"message", "http_status_code"}}`` (PROTOCOLS.md §5.3, §5.4)."""
        error = payload.get("error")
        if isinstance(error, dict):
            return self.from_event(str(error.get("message", error)),
                                   _CHAT_ERROR_TYPES.get(error.get("http_status_code"), "generation"))
        return self.from_event(str(error), payload.get("error_type"))

    def from_event(self, message: str, error_type: str | None) -> e.BackendError:
        """The error for TGI's ``{"error", "error_type"}`` event after HTTP 200 (PROTOCOLS.md §5.3)."""
        label = self.spec.label
        if error_type == "overloaded":
            return self._build(e.BackendOverloaded, f"{label} is overloaded", _STATUS_ERRORS[429][1], message)
        if error_type == "validation":
            return self._build(e.BackendRejected, f"{label} rejected the request", _STATUS_ERRORS[422][1], message)
        if error_type == "incomplete_generation":
            return self._build(e.StreamIncomplete, f"{label} stopped before finishing", "Try again.", message)
        return self._build(e.BackendUnhealthy, f"{label} failed while generating", _SERVER_HINT, message)

    def incomplete(self, what: str) -> e.StreamIncomplete:
        """A stream that ended without ``what`` (its final event, a finish reason)."""
        error = self._build(e.StreamIncomplete, f"{self.spec.label} ended the stream without {what}",
                            "The server may have restarted; try again.")
        assert isinstance(error, e.StreamIncomplete)
        return error

    def from_exception(self, exc: BaseException) -> e.BackendError:
        """Map an ``aiohttp`` or timeout exception to a typed error that says what to do."""
        if isinstance(exc, e.BackendError):
            return exc
        if isinstance(exc, asyncio.TimeoutError):  # aiohttp's socket timeouts are TimeoutErrors too
            return self._build(e.BackendTimeout, f"{self.spec.label} sent nothing for too long",
                               "The server may be overloaded or stuck; check it, or raise the timeout.",
                               operator=str(exc))
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror
            return self._build(e.BackendUnreachable, f"Cannot connect to {self.spec.label}",
                               "Is the server running, and is the URL right?",
                               reason or str(exc) or "connection refused", operator=str(exc))
        if isinstance(exc, _DROPPED):
            return self._build(e.StreamIncomplete, f"{self.spec.label} dropped the connection mid-stream",
                               "The server may have crashed or restarted; try again.", operator=str(exc))
        if isinstance(exc, _BAD_URL):
            return self._build(e.BackendUnreachable, f"{self.spec.label} has an invalid URL",
                               "An operator must set it as http(s)://host:port.", operator=str(exc))
        return self._build(e.BackendError, f"{self.spec.label} failed ({type(exc).__name__})",
                           "Check the server's logs.", operator=str(exc))

    def _build(self, cls: type[e.BackendError], head: str, hint: str, backend_text: str = "",
               operator: str = "") -> e.BackendError:
        """``cls("{head}: {backend_text}", hint)`` with that text masked and without addresses.

        ``operator`` (a client exception's text) joins ``backend_text`` in ``operator_detail``
        only; the detail is logged once, here.
        """
        shown = _clip(hide_addresses(self.redactor.mask(backend_text), self.spec.base_url).strip(), SHOWN_CHARS)
        message = f"{head}: {shown}" if shown else head
        raw = " — ".join(dict.fromkeys(part for part in (backend_text, operator) if part))
        where = mask_url_credentials(self.spec.base_url)
        detail = _clip(self.redactor.mask(f"{self.spec.label} ({where}): {raw or head}"), OPERATOR_CHARS)
        log.warning("%s: %s", cls.title, detail)
        return cls(message if message.endswith((".", "!", "?")) else f"{message}.", hint, operator_detail=detail)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters)"


async def error_text(response: aiohttp.ClientResponse) -> str:
    """TGI's ``{"error": ...}`` / OpenAI's ``{"error": {"message": ...}}`` text, else the status line."""
    try:
        error = orjson.loads(await response.read()).get("error")
    except (TimeoutError, aiohttp.ClientError, ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error) if error else f"{response.status} {response.reason or ''}".strip()
