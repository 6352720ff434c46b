"""OpenAI-compatible backends (vLLM, llama.cpp, Ollama, the HF router) through ``chat_completion``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from playground.backends.error_map import ErrorMapper
from playground.backends.http import get_json, inference_client, make_http_client, probe, read_error_body
from playground.backends.redact import Redactor
from playground.types import BackendInfo, BackendSpec, EndEvent, GenerationRequest, SamplingParams, StreamEvent, TokenEvent


def chat_parameters(params: SamplingParams) -> dict[str, Any]:
    """Map sampling controls to chat-completions arguments (OpenAI has no top_k / repetition penalty)."""
    return {
        "temperature": params.temperature,
        "top_p": params.top_p if 0 < params.top_p < 1 else None,  # 1.0 = off; TGI's chat route rejects it
        "max_tokens": params.max_new_tokens,
        "seed": params.seed,
        "stop": list(params.stop) or None,
        "frequency_penalty": None,
    }


class OpenAIBackend:
    """A server speaking ``/v1/chat/completions``; the server applies the chat template."""

    def __init__(self, spec: BackendSpec, timeout_s: float = 120.0, redactor: Redactor | None = None) -> None:
        self.spec = spec
        self._errors = ErrorMapper(spec, redactor)
        self._http = make_http_client(spec, timeout_s)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Stream ``request.messages``; see ``Backend.stream``."""
        messages = [m.as_dict() for m in request.messages]
        tokens = 0
        async with inference_client(self.spec, self._http) as client:
            try:
                chunks = await client.chat_completion(messages, model=self.spec.model_id or None, stream=True,
                                                      **chat_parameters(request.params))
                async for chunk in chunks:
                    choice = chunk.choices[0] if chunk.choices else None
                    if choice and choice.delta and choice.delta.content:
                        tokens += 1
                        yield TokenEvent(choice.delta.content)
                    if choice and choice.finish_reason:
                        usage = getattr(chunk, "usage", None)
                        yield EndEvent(choice.finish_reason, usage.completion_tokens if usage else tokens)  # type: ignore[arg-type]
                        return
            except Exception as exc:  # noqa: BLE001 — every failure becomes a typed BackendError
                await read_error_body(exc)
                raise self._errors.from_exception(exc) from exc
        raise self._errors.incomplete("a finish reason")

    async def info(self) -> BackendInfo:
        """Read ``/v1/models``: the first model's id (and ``max_model_len`` where vLLM gives it)."""
        def parse(payload: dict[str, Any]) -> tuple[str | None, int | None]:
            first = (payload.get("data") or [{}])[0]
            return first.get("id"), first.get("max_model_len")
        return await probe(self._errors, lambda: get_json(self._http, f"{self.spec.base_url}/v1/models", self._errors),
                           parse)

    async def count_tokens(self, request: GenerationRequest) -> int | None:
        """Chat servers have no common tokenize route: ``None`` (the caller estimates)."""
        return None

    async def aclose(self) -> None:
        """Close the pooled HTTP client."""
        await self._http.aclose()
