"""Each backend's context window, asked of the server once and remembered."""

from __future__ import annotations

from collections.abc import Mapping

from playground.backends.base import Backend


class ContextWindows:
    """``max_total_tokens`` from ``/info`` (or the configured ``context_window``) per backend.

    A window the server reported is kept for the life of the app; while the server does not
    answer, the configured value is returned and the server is asked again next time.
    """

    def __init__(self, backends: Mapping[str, Backend]) -> None:
        self._backends = backends
        self._known: dict[str, int] = {}

    async def get(self, backend_id: str) -> int | None:
        """The window in tokens (prompt + new tokens), or ``None`` if nobody knows it."""
        if backend_id in self._known:
            return self._known[backend_id]
        backend = self._backends[backend_id]
        info = await backend.info()
        if info.healthy and info.context_window:
            self._known[backend_id] = info.context_window
        return info.context_window or backend.spec.context_window
