"""TGI backends: raw ChatML through ``AsyncInferenceClient.text_generation`` (PROTOCOLS.md §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from playground.backends import errors as e
from playground.backends.http import (
    get_json,
    inference_client,
    make_http_client,
    probe,
    read_error_body,
    to_backend_error,
)
from playground.types import (
    BackendInfo,
    BackendSpec,
    EndEvent,
    GenerationRequest,
    SamplingParams,
    StreamEvent,
    TokenEvent,
)

MAX_STOP_SEQUENCES = 4  # TGI's default --max-stop-sequences


def tgi_parameters(params: SamplingParams) -> dict[str, Any]:
    """Map sampling controls to TGI parameters, omitting the values TGI rejects.

    ``top_p = 1.0`` and ``top_k = 0`` mean "off" and are left out (TGI answers 422 to them);
    temperature 0 means greedy decoding (``do_sample=False``, temperature left out).

    >>> tgi_parameters(SamplingParams(temperature=0.0, top_p=1.0))["do_sample"]
    False
    """
    if len(params.stop) > MAX_STOP_SEQUENCES:
        raise e.BackendRejected(f"{len(params.stop)} stop sequences given; TGI accepts at most {MAX_STOP_SEQUENCES}.",
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


class TGIBackend:
    """A Text Generation Inference server, fed the exact ChatML text the inspector shows."""

    def __init__(self, spec: BackendSpec, timeout_s: float = 120.0) -> None:
        self.spec = spec
        self._http = make_http_client(spec, timeout_s)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Stream ``request.prompt``; see ``Backend.stream``.

        Raises:
            BackendError: a typed subclass for every failure, including a stream that ends
                without TGI's final event.
        """
        parameters = tgi_parameters(request.params)
        async with inference_client(self.spec, self._http) as client:
            try:
                events = await client.text_generation(request.prompt, stream=True, details=True,
                                                      grammar=request.grammar, **parameters)
                async for event in events:
                    if event.token.text and not event.token.special:
                        yield TokenEvent(event.token.text)
                    if event.details is not None:
                        yield EndEvent(event.details.finish_reason, event.details.generated_tokens)
                        return
            except Exception as exc:  # noqa: BLE001 — every failure becomes a typed BackendError
                await read_error_body(exc)
                raise to_backend_error(exc, self.spec) from exc
        raise e.StreamIncomplete(f"{self.spec.label} ended the stream without its final event.",
                                 "The server may have restarted; try again.")

    async def info(self) -> BackendInfo:
        """Read ``/info``: model id and ``max_total_tokens`` as the context window."""
        def parse(payload: dict[str, Any]) -> tuple[str | None, int | None]:
            return payload.get("model_id"), payload.get("max_total_tokens")
        return await probe(self.spec, lambda: get_json(self._http, f"{self.spec.base_url}/info", self.spec), parse)

    async def count_tokens(self, request: GenerationRequest) -> int | None:
        """Token count of the raw prompt from TGI's ``/tokenize`` (BOS included by the server)."""
        try:
            tokens = await get_json(self._http, f"{self.spec.base_url}/tokenize", self.spec,
                                    json={"inputs": request.prompt})
        except Exception:  # noqa: BLE001 — no tokenizer route: the caller estimates instead
            return None
        return len(tokens)

    async def aclose(self) -> None:
        """Close the pooled HTTP client."""
        await self._http.aclose()
