"""Pure pieces of the TGI test server: behaviors, tokenizer, validation, token plans, payloads.

Nothing here does I/O; `tgi_server.py` turns these into HTTP responses (PROTOCOLS.md §5).
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EOS_TEXT = "<|im_end|>"
EOS_ID = 32000  # outside the 0..31999 range of ordinary ids
VERSION = "3.3.6"
FAILURES = (
    "http_422", "http_424", "http_429", "http_500", "http_503",
    "error_event", "drop", "hang",
)
ERROR_STATUS = {"validation": 422, "generation": 424, "overloaded": 429, "incomplete_generation": 500}
_HTTP_FAILURES: dict[str, tuple[int, str, str]] = {
    "http_422": (422, "validation", "Input validation error: rejected by the test server"),
    "http_424": (424, "generation", "Request failed during generation: Server error: CUDA out of memory"),
    "http_429": (429, "overloaded", "Model is overloaded"),
    "http_500": (500, "incomplete_generation", "Incomplete generation"),
    "http_503": (503, "healthcheck", "unhealthy"),
}
_EVENT_MESSAGES = {
    "generation": "Request failed during generation: Server error: CUDA out of memory",
    "overloaded": "Model is overloaded",
    "validation": "Input validation error: rejected by the test server",
    "incomplete_generation": "Incomplete generation stream",
}
_TOKEN_RE = re.compile(r"\s*\S+")


@dataclass(frozen=True)
class Behavior:
    """How the server answers one generation request.

    ttft: seconds before the first token; rate: tokens/s (None: as fast as possible).
    text: the reply, or a function of the prompt (chat: the messages' JSON) returning it;
    tokens: instead of text, exactly this many tokens " tok0", " tok1", ...; EOS follows either.
    failure: one of FAILURES; "error_event"/"drop" come after fail_after tokens; error_type and
    error_message shape error events. keepalive: seconds between `:` comments while idle.
    """

    ttft: float = 0.0
    rate: float | None = None
    text: str | Callable[[str], str] = "Hello from the test server."
    tokens: int | None = None
    failure: str | None = None
    fail_after: int = 0
    error_type: str = "generation"
    error_message: str | None = None
    keepalive: float = 15.0

    def __post_init__(self) -> None:
        if self.failure is not None and self.failure not in FAILURES:
            raise ValueError(f"unknown failure {self.failure!r}; expected one of {FAILURES}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive or None")
        if self.keepalive <= 0:
            raise ValueError("keepalive must be positive")

    def reply_pieces(self, prompt: str) -> list[str]:
        """Token texts of the reply (without EOS) for this prompt."""
        if self.tokens is not None:
            return [f" tok{i}" for i in range(self.tokens)]
        text = self.text(prompt) if callable(self.text) else self.text
        return split_tokens(text)

    def http_failure(self) -> tuple[int, dict[str, str]] | None:
        """Status and JSON body when this behavior fails before streaming, else None."""
        if self.failure not in _HTTP_FAILURES:
            return None
        status, error_type, message = _HTTP_FAILURES[self.failure]
        return status, {"error": self.error_message or message, "error_type": error_type}

    def event_error(self) -> tuple[str, str]:
        """Message and error_type of an in-stream error event."""
        return self.error_message or _EVENT_MESSAGES.get(self.error_type, "Unknown error"), self.error_type


# --- tokenizer ---------------------------------------------------------------------------


def split_tokens(text: str) -> list[str]:
    """Whitespace tokenizer: each token is a run of non-space with its leading whitespace."""
    return _TOKEN_RE.findall(text)


def token_id(piece: str) -> int:
    """Stable small id of a token text."""
    return zlib.crc32(piece.encode()) % 32000


def tokenize(text: str) -> list[dict[str, Any]]:
    """`/tokenize` answer: id, text and character offsets of each token."""
    return [
        {"id": token_id(m.group()), "text": m.group(), "start": m.start(), "stop": m.end()}
        for m in _TOKEN_RE.finditer(text)
    ]


# --- validation --------------------------------------------------------------------------


class ValidationFailure(ValueError):
    """A request TGI rejects with `error_type: validation` (HTTP 422, or an event in a stream)."""

    def body(self) -> dict[str, str]:
        return {"error": f"Input validation error: {self}", "error_type": "validation"}


@dataclass(frozen=True)
class GenParams:
    """Validated generation parameters."""

    inputs: str
    input_length: int
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    details: bool = False
    decoder_input_details: bool = False
    return_full_text: bool = False
    seed: int | None = None


def _positive(params: dict[str, Any], name: str) -> None:
    value = params.get(name)
    if value is not None and value <= 0:
        raise ValidationFailure(f"`{name}` must be strictly positive")


def _open_unit(params: dict[str, Any], name: str) -> None:
    value = params.get(name)
    if value is not None and not 0.0 < value < 1.0:
        raise ValidationFailure(f"`{name}` must be > 0.0 and < 1.0")


def validate(
    inputs: str, params: dict[str, Any], *, max_total_tokens: int, max_input_tokens: int,
    stream: bool, max_stop_sequences: int = 4,
) -> GenParams:
    """Check parameters in TGI's order and with its messages; raise ValidationFailure."""
    _positive(params, "temperature")
    _positive(params, "repetition_penalty")
    penalty = params.get("frequency_penalty")
    if penalty is not None and not -2.0 <= penalty <= 2.0:
        raise ValidationFailure("`frequency_penalty` must be >= -2.0 and <= 2.0")
    _open_unit(params, "top_p")
    _open_unit(params, "typical_p")
    _positive(params, "top_k")
    if params.get("max_new_tokens") == 0:
        raise ValidationFailure("`max_new_tokens` must be strictly positive")
    stop = params.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if len(stop) > max_stop_sequences:
        raise ValidationFailure(
            f"`stop` supports up to {max_stop_sequences} stop sequences. Given: {len(stop)}"
        )
    truncate = params.get("truncate")
    if truncate is not None and not 0 < truncate <= max_input_tokens:
        raise ValidationFailure(
            f"`truncate` must be strictly positive and less than {max_input_tokens}. Given: {truncate}"
        )
    if params.get("decoder_input_details") and stream:
        raise ValidationFailure("`decoder_input_details` == true is not supported when streaming tokens")
    if inputs == "":
        raise ValidationFailure("`inputs` cannot be empty")
    input_length = len(split_tokens(inputs))
    if truncate is not None:
        input_length = min(input_length, truncate)
    max_new = params.get("max_new_tokens")
    if max_new is None:
        max_new = max(max_total_tokens - input_length, 0)
    if input_length + max_new > max_total_tokens:
        raise ValidationFailure(
            f"`inputs` tokens + `max_new_tokens` must be <= {max_total_tokens}. "
            f"Given: {input_length} `inputs` tokens and {max_new} `max_new_tokens`"
        )
    if input_length > max_input_tokens:
        raise ValidationFailure(
            f"`inputs` must have less than {max_input_tokens} tokens. Given: {input_length}"
        )
    return GenParams(
        inputs=inputs, input_length=input_length, max_new_tokens=max_new, stop=tuple(stop),
        details=bool(params.get("details")),
        decoder_input_details=bool(params.get("decoder_input_details")),
        return_full_text=bool(params.get("return_full_text")), seed=_reported_seed(inputs, params),
    )


def _reported_seed(inputs: str, params: dict[str, Any]) -> int | None:
    """TGI reports a seed only when sampling; an unseeded sample gets a (here: stable) seed."""
    sampling = params.get("do_sample") or any(
        params.get(k) is not None for k in ("top_k", "top_p", "typical_p")
    ) or params.get("temperature") not in (None, 1.0)
    if not sampling:
        return None
    seed = params.get("seed")
    return seed if seed is not None else zlib.crc32(inputs.encode())


def chat_to_params(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Map an OpenAI chat request to (prompt, TGI parameters); the prompt is the messages' JSON."""
    temperature = body.get("temperature")
    return json.dumps(body["messages"]), {
        "max_new_tokens": body.get("max_tokens"),
        "temperature": None if temperature == 0 else temperature,
        "do_sample": temperature != 0,
        "top_p": body.get("top_p"),
        "frequency_penalty": body.get("frequency_penalty"),
        "stop": body.get("stop"),
        "seed": body.get("seed"),
    }


# --- token plans and payloads ------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One generated token."""

    index: int
    id: int
    text: str
    logprob: float
    special: bool

    def token(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "logprob": self.logprob, "special": self.special}


@dataclass(frozen=True)
class Plan:
    """Every token a request will produce, and how it ends."""

    steps: tuple[Step, ...]
    generated_text: str
    finish_reason: str


def plan(pieces: list[str], params: GenParams) -> Plan:
    """Emit reply tokens then EOS, stopping like TGI: length first, then EOS, then stop sequence."""
    steps: list[Step] = []
    text = ""
    finish = "length"
    for i, piece in enumerate([*pieces, EOS_TEXT]):
        if len(steps) >= params.max_new_tokens:
            break
        special = i == len(pieces)
        steps.append(Step(i + 1, EOS_ID if special else token_id(piece), piece,
                          -round(0.05 * (token_id(piece) % 20), 2), special))
        text += "" if special else piece
        if len(steps) >= params.max_new_tokens:
            finish = "length"
        elif special:
            finish = "eos_token"
        elif any(text.endswith(s) for s in params.stop if s):
            finish = "stop_sequence"
        else:
            continue
        break
    return Plan(tuple(steps), text, finish)


def full_text(result: Plan, params: GenParams) -> str:
    """generated_text as TGI reports it (prompt prepended with return_full_text)."""
    return params.inputs + result.generated_text if params.return_full_text else result.generated_text


def stream_event(step: Step, final: tuple[Plan, GenParams] | None = None) -> dict[str, Any]:
    """One `/generate_stream` event; the final one carries generated_text and maybe details."""
    event: dict[str, Any] = {"index": step.index, "token": step.token(), "top_tokens": None,
                             "generated_text": None, "details": None}
    if final is not None:
        result, params = final
        event["generated_text"] = full_text(result, params)
        if params.details:
            event["details"] = {"finish_reason": result.finish_reason,
                                "generated_tokens": len(result.steps), "seed": params.seed,
                                "input_length": params.input_length}
    return event


def generate_response(result: Plan, params: GenParams) -> dict[str, Any]:
    """`/generate` answer."""
    body: dict[str, Any] = {"generated_text": full_text(result, params)}
    if params.details:
        prefill = [
            {"id": t["id"], "text": t["text"], "logprob": None}
            for t in tokenize(params.inputs)
        ] if params.decoder_input_details else []
        body["details"] = {"finish_reason": result.finish_reason,
                           "generated_tokens": len(result.steps), "seed": params.seed,
                           "prefill": prefill, "tokens": [s.token() for s in result.steps]}
    return body


def chat_finish_reason(result: Plan) -> str:
    return "length" if result.finish_reason == "length" else "stop"


def usage(result: Plan, params: GenParams) -> dict[str, int]:
    n = len(result.steps)
    return {"prompt_tokens": params.input_length, "completion_tokens": n,
            "total_tokens": params.input_length + n}


def chat_chunk(model: str, content: str | None, finish_reason: str | None = None,
               usage_: dict[str, int] | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk`; content None makes a usage-only chunk with no choices."""
    choices = [] if content is None else [{
        "index": 0, "delta": {"role": "assistant", "content": content},
        "logprobs": None, "finish_reason": finish_reason,
    }]
    return {"object": "chat.completion.chunk", "id": "", "created": int(time.time()),
            "model": model, "system_fingerprint": f"{VERSION}-native",
            "choices": choices, "usage": usage_}


def chat_completion(model: str, result: Plan, params: GenParams) -> dict[str, Any]:
    """Non-streaming `chat.completion`."""
    return {"object": "chat.completion", "id": "", "created": int(time.time()), "model": model,
            "system_fingerprint": f"{VERSION}-native",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.generated_text},
                         "logprobs": None, "finish_reason": chat_finish_reason(result)}],
            "usage": usage(result, params)}


def chat_error_event(message: str, error_type: str) -> dict[str, Any]:
    """In-stream chat error, as TGI writes it."""
    return {"error": {"message": message, "http_status_code": ERROR_STATUS.get(error_type, 500)}}


def info(model_id: str, max_input_tokens: int, max_total_tokens: int) -> dict[str, Any]:
    """`GET /info`."""
    return {
        "model_id": model_id, "model_sha": None, "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": 128, "max_best_of": 2, "max_stop_sequences": 4,
        "max_input_tokens": max_input_tokens, "max_total_tokens": max_total_tokens,
        "validation_workers": 2, "max_client_batch_size": 4,
        "router": "text-generation-router", "version": VERSION, "sha": None, "docker_label": None,
    }


def sse(payload: dict[str, Any] | str) -> bytes:
    """One `data:` line of a server-sent event stream."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()
