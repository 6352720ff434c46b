"""Every error a backend raises: small typed classes whose message says what to do.

Callers (``turn.py``) catch ``BackendError`` by type and show ``str(error)`` in the pane: it names
the backend by its label, never its URL, and has every secret masked (``error_map.py``).
``operator_detail`` adds the URL and the server's raw text (secrets masked) for operators only.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base class: a backend could not produce (all of) a reply."""

    title = "Backend error"

    def __init__(self, detail: str, hint: str = "", operator_detail: str = "") -> None:
        super().__init__(f"{detail} {hint}".strip())
        self.detail = detail
        self.hint = hint
        self.operator_detail = operator_detail


class BackendUnreachable(BackendError):
    """Nothing answers at the URL (refused, DNS, TLS)."""

    title = "Backend unreachable"


class BackendTimeout(BackendError):
    """The backend answered nothing within the timeout."""

    title = "Backend timed out"


class BackendAuthError(BackendError):
    """401/403: the token is missing or wrong."""

    title = "Not authorised"


class BackendRejected(BackendError):
    """422 validation: the request itself is wrong (parameters, prompt too long)."""

    title = "Request rejected"


class BackendOverloaded(BackendError):
    """429: the server is at ``max_concurrent_requests`` and refuses at once."""

    title = "Backend overloaded"


class BackendUnhealthy(BackendError):
    """503, or 424/500 generation errors on the server side."""

    title = "Backend failed"


class StreamIncomplete(BackendError):
    """The stream ended (or the connection dropped) before the final event."""

    title = "Stream cut off"
