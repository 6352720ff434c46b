"""OpenAI-compatible backends (vLLM, llama.cpp, Ollama, the HF router) through ``/v1/chat/completions``.

Streams are read with the same lean ``data:``-line reader and pooled aiohttp session as TGI's
(``http.py``, ``sse.py``): a fifth of the client CPU per stream of ``AsyncInferenceClient.chat_completion``
against the same server (README, Backend clients), and no private hook into the hub client's pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from playground.backends.base import BackendCapabilities
from playground.backends.error_map import ErrorMapper
from playground.backends.http import HttpSession, probe
from playground.backends.redact import Redactor
from playground.backends.sse import ParsedEvent, event_payload
from playground.types import (
    BackendInfo,
    BackendSpec,
    EndEvent,
    GenerationRequest,
    SamplingParams,
    StreamEvent,
)

CAPABILITIES = BackendCapabilities(raw_chatml_prompt=False, grammar=False, tokenize=False, max_stop_sequences=None,
                                   stream_path="/v1/chat/completions")


def chat_parameters(params: SamplingParams) -> dict[str, Any]:
    """Map sampling controls to chat-completions arguments (OpenAI has no top_k / repetition penalty).

    >>> chat_parameters(SamplingParams(temperature=0.5, max_new_tokens=20))
    {'temperature': 0.5, 'max_tokens': 20}
    """
    out = {
        "temperature": params.temperature,
        "top_p": params.top_p if 0 < params.top_p < 1 else None,  # 1.0 = off; TGI's chat route rejects it
        "max_tokens": params.max_new_tokens,
        "seed": params.seed,
        "stop": list(params.stop) or None,
    }
    return {k: v for k, v in out.items() if v is not None}


def parse_chunk(data: bytes, errors: ErrorMapper) -> ParsedEvent | None:
    """Decode one chunk's first choice; ``None`` for ``[DONE]``.

    The end's ``generated_tokens`` is the server's ``usage.completion_tokens`` where it sends it
    in that chunk, else ``None`` (the reader counts the chunks instead).

    Raises:
        BackendError: the chunk is an in-stream error.
        ValueError: the payload is not JSON.

    >>> parse_chunk(b' {"choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]}', None)
    ParsedEvent(text='Hi', end=None)
    """
    payload = event_payload(data, errors)
    if payload is None:
        return None
    choice = (payload.get("choices") or [{}])[0]
    text = (choice.get("delta") or {}).get("content") or None
    finish = choice.get("finish_reason")
    end = EndEvent(finish, (payload.get("usage") or {}).get("completion_tokens")) if finish else None
    return ParsedEvent(text, end)


class OpenAIBackend:
    """A server speaking ``/v1/chat/completions``; the server applies the chat template."""

    capabilities: ClassVar[BackendCapabilities] = CAPABILITIES

    def __init__(self, spec: BackendSpec, timeout_s: float = 120.0, redactor: Redactor | None = None) -> None:
        self.spec = spec
        self._errors = ErrorMapper(spec, redactor)
        self._http = HttpSession(self._errors, timeout_s)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Stream ``request.messages``; see ``Backend.stream``.

        Raises:
            BackendError: a typed subclass for every failure, as ``TGIBackend.stream``.
        """
        body = {"model": self.spec.model_id or "dummy",  # what huggingface_hub sends; TGI and llama.cpp ignore it
                "messages": [m.as_dict() for m in request.messages], "stream": True,
                **chat_parameters(request.params)}
        events = self._http.stream_events(CAPABILITIES.stream_path, body, lambda data: parse_chunk(data, self._errors),
                                          "a finish reason")
        async with contextlib.aclosing(events):  # closing this stream closes the connection at once
            async for event in events:
                yield event

    async def info(self) -> BackendInfo:
        """Read ``/v1/models``: the first model's id (and ``max_model_len`` where vLLM gives it)."""
        def parse(payload: dict[str, Any]) -> tuple[str | None, int | None]:
            first = (payload.get("data") or [{}])[0]
            return first.get("id"), first.get("max_model_len")
        return await probe(self._errors, lambda: self._http.json("/v1/models"), parse)

    async def count_tokens(self, request: GenerationRequest) -> int | None:
        """Chat servers have no common tokenize route: ``None`` (the caller estimates)."""
        return None

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        await self._http.aclose()
