"""The Backend protocol and the capabilities each kind of backend declares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from playground.backends.redact import Redactor
from playground.types import BackendInfo, BackendSpec, GenerationRequest, StreamEvent


@dataclass(frozen=True)
class BackendCapabilities:
    """What a kind of backend can do; callers ask these instead of testing its kind.

    Args:
        raw_chatml_prompt: sends the exact ChatML text (``request.prompt``); else the messages,
            and the server applies its own chat template.
        grammar: honours ``request.grammar`` (JSON-schema constrained decoding).
        tokenize: ``count_tokens`` asks the server's tokenizer (else it returns ``None``).
        max_stop_sequences: most stop sequences a request may carry (``None``: no known limit).
        tool_response_role: the role tool results go back in when the backend's entry names none.
        stream_path: the route streamed from, below the backend's root URL.

    Example:
        >>> BackendCapabilities(raw_chatml_prompt=False, grammar=False, tokenize=False,
        ...                     max_stop_sequences=None, stream_path="/v1/chat/completions").tool_response_role
        'tool'
    """

    raw_chatml_prompt: bool
    grammar: bool
    tokenize: bool
    max_stop_sequences: int | None
    stream_path: str
    tool_response_role: Literal["tool", "user"] = "tool"


class Backend(Protocol):
    """A model server. Implementations: ``tgi.TGIBackend``, ``openai_compat.OpenAIBackend``."""

    capabilities: ClassVar[BackendCapabilities]
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


class BackendClass(Protocol):
    """A kind of backend as ``registry.BACKENDS`` holds it: its capabilities, and how to build one."""

    capabilities: BackendCapabilities

    def __call__(self, spec: BackendSpec, timeout_s: float = ..., redactor: Redactor | None = ...) -> Backend:
        """A backend for ``spec`` with its own pooled HTTP client."""
        ...
