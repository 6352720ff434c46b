"""What each backend's server says it runs (``GET /info``), asked once per backend and remembered.

One answer gives both the context window a turn is sized against and the model id a turn is
recorded with, so a healthy backend is asked once for the life of the app, never once per turn.
"""

from __future__ import annotations

from collections.abc import Mapping

from playground.backends.base import Backend
from playground.types import BackendInfo


class ServedModels:
    """Each backend's last healthy ``/info`` answer; a backend that did not answer is asked again next time.

    ``get`` is the window lookup ``run.run_turn`` asks (``run.WindowLookup``).
    """

    def __init__(self, backends: Mapping[str, Backend]) -> None:
        self._backends = backends
        self._known: dict[str, BackendInfo] = {}

    async def get(self, backend_id: str) -> int | None:
        """The context window in tokens (prompt + new tokens), or ``None`` if nobody knows it."""
        backend = self._backends[backend_id]
        info = self._known.get(backend_id)
        if info is None:
            info = await backend.info()
            if info.healthy:
                self._known[backend_id] = info
        return info.context_window or backend.spec.context_window

    def model_id(self, backend_id: str) -> str:
        """What the server said it runs, else the configured model id (no request: answers from memory)."""
        info = self._known.get(backend_id)
        return (info.model_id if info else None) or self._backends[backend_id].spec.model_id
