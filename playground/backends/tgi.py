"""TGI backends: raw ChatML streamed from ``/generate_stream`` (PROTOCOLS.md §5).

Streams are read with a lean ``data:``-line reader on the backend's pooled aiohttp session
(``http.py``) rather than ``AsyncInferenceClient.text_generation``: under load the hub client's
per-token parsing and its HTTP stack were the largest part of the app's backend CPU (README,
Benchmarks: the profile), and it never gave a streamed connection back to the pool. Errors keep
the hub path's types and words. ``/info`` and ``/tokenize`` go through the same session.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from playground.backends import errors as e
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

CAPABILITIES = BackendCapabilities(raw_chatml_prompt=True, grammar=True, tokenize=True,
                                   max_stop_sequences=4,  # TGI's default --max-stop-sequences
                                   stream_path="/generate_stream")


def tgi_parameters(params: SamplingParams) -> dict[str, Any]:
    """Map sampling controls to TGI parameters, omitting the values TGI rejects.

    ``top_p = 1.0`` and ``top_k = 0`` mean "off" and are left out (TGI answers 422 to them);
    temperature 0 means greedy decoding (``do_sample=False``, temperature left out).

    >>> tgi_parameters(SamplingParams(temperature=0.0, top_p=1.0))["do_sample"]
    False
    """
    limit = CAPABILITIES.max_stop_sequences
    if limit is not None and len(params.stop) > limit:
        raise e.BackendRejected(f"{len(params.stop)} stop sequences given; TGI accepts at most {limit}.",
                                "Remove some stop sequences.")
    sample = params.temperature > 0
    out: dict[str, Any] = {
        "do_sample": sample,
        "max_new_tokens": params.max_new_tokens,
        "repetition_penalty": params.repetition_penalty if params.repetition_penalty > 0 else None,
        "seed": params.seed,
        "stop": list(params.stop) or None,
    }
    if sample:
        out["temperature"] = params.temperature
        out["top_p"] = params.top_p if 0 < params.top_p < 1 else None
        out["top_k"] = params.top_k if params.top_k > 0 else None
    return out


def tgi_body_parameters(request: GenerationRequest) -> dict[str, Any]:
    """The ``parameters`` object sent: set values only, ``details`` on (the final event's finish reason).

    >>> tgi_body_parameters(GenerationRequest("p", (), SamplingParams(temperature=0.0)))
    {'do_sample': False, 'max_new_tokens': 750, 'repetition_penalty': 1.1, 'details': True}
    """
    out = {k: v for k, v in tgi_parameters(request.params).items() if v is not None}
    out["details"] = True
    if request.grammar is not None:
        out["grammar"] = request.grammar
    return out


def parse_event(data: bytes, errors: ErrorMapper) -> ParsedEvent | None:
    """Decode one ``data:`` payload; ``None`` for ``[DONE]`` (not TGI's, but it ends a stream).

    Raises:
        BackendError: the event is TGI's ``{"error", "error_type"}``.
        ValueError: the payload is not JSON.

    >>> parse_event(b' {"token": {"text": " hi", "special": false}, "details": null}', None)
    ParsedEvent(text=' hi', end=None)
    """
    payload = event_payload(data, errors)
    if payload is None:
        return None
    token = payload.get("token") or {}
    text = token.get("text") if not token.get("special") else None
    details = payload.get("details")
    end = EndEvent(details.get("finish_reason"), details.get("generated_tokens")) if details is not None else None
    return ParsedEvent(text or None, end)


class TGIBackend:
    """A Text Generation Inference server, fed the exact ChatML text the inspector shows."""

    capabilities: ClassVar[BackendCapabilities] = CAPABILITIES

    def __init__(self, spec: BackendSpec, timeout_s: float = 120.0, redactor: Redactor | None = None) -> None:
        self.spec = spec
        self._errors = ErrorMapper(spec, redactor)
        self._http = HttpSession(self._errors, timeout_s)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Stream ``request.prompt``; see ``Backend.stream``.

        Raises:
            BackendError: a typed subclass for every failure: HTTP errors, an error event after
                HTTP 200, a dropped connection, and a stream that ends without TGI's final event.
        """
        body = {"inputs": request.prompt, "parameters": tgi_body_parameters(request)}
        events = self._http.stream_events(CAPABILITIES.stream_path, body, lambda data: parse_event(data, self._errors),
                                          "its final event")
        async with contextlib.aclosing(events):  # closing this stream closes the connection at once
            async for event in events:
                yield event

    async def info(self) -> BackendInfo:
        """Read ``/info``: model id and ``max_total_tokens`` as the context window."""
        def parse(payload: dict[str, Any]) -> tuple[str | None, int | None]:
            return payload.get("model_id"), payload.get("max_total_tokens")
        return await probe(self._errors, lambda: self._http.json("/info"), parse)

    async def count_tokens(self, request: GenerationRequest) -> int | None:
        """Token count of the raw prompt from TGI's ``/tokenize`` (BOS included by the server)."""
        try:
            tokens = await self._http.json("/tokenize", {"inputs": request.prompt})
        except Exception:  # noqa: BLE001 — no tokenizer route: the caller estimates instead
            return None
        return len(tokens)

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        await self._http.aclose()
