"""The Backend protocol: how the turn layer talks to any model server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from playground.types import BackendInfo, BackendSpec, GenerationRequest, StreamEvent


class Backend(Protocol):
    """A model server. Implementations: ``tgi.TGIBackend``, ``openai_compat.OpenAIBackend``."""

    spec: BackendSpec

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Yield ``TokenEvent``s then one ``EndEvent``; raise ``BackendError`` on failure.

        Closing the iterator (``aclose()``, or cancelling the task consuming it) closes the
        HTTP connection, which is how TGI learns to stop generating.
        """
        ...

    async def info(self) -> BackendInfo:
        """Health, model id and context window as the server reports them (never raises)."""
        ...

    async def count_tokens(self, request: GenerationRequest) -> int | None:
        """Prompt length in tokens from the server's tokenizer, or ``None`` if it has none."""
        ...

    async def aclose(self) -> None:
        """Release the backend's HTTP client."""
        ...
