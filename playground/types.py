"""Plain dataclasses shared by every layer.

Nothing here does I/O or knows about Gradio; every layer passes these values down
(UI -> turn -> prompt -> backend) and back up as events and pane states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
BackendKind = str
"""A key of ``backends.registry.BACKENDS`` (``"tgi"``, ``"openai"``, …): checked when settings load and
when a backend is built, so adding a kind touches only the backends package."""
Mode = str  # a mode id declared in hermes/modes.py (MODES: "chat", "tools", "json", ...)
FinishReason = Literal["length", "eos_token", "stop_sequence", "stop", "unknown"]
PaneStatus = Literal["idle", "waiting", "streaming", "tool_input", "done", "error", "stopped"]
"""``tool_input``: the turn is paused until the user types a result for a tool that is not built in."""


@dataclass(frozen=True)
class Message:
    """One conversation message, as in an OpenAI / TRL conversational record."""

    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        """Return ``{"role": ..., "content": ...}`` (the TRL / OpenAI shape)."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class SamplingParams:
    """Sampling controls shared by all panes.

    Defaults are Nous's reference values from the Hermes 3 card and the
    Hermes-Function-Calling examples (temperature 0.8, repetition penalty 1.1,
    up to 750 new tokens). ``top_p = 1.0`` and ``top_k = 0`` mean "off" and are
    never sent (TGI rejects ``top_p = 1.0``).
    """

    temperature: float = 0.8
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.1
    max_new_tokens: int = 750
    seed: int | None = None
    stop: tuple[str, ...] = ()
    same_seed: bool = True  # False: pane i gets seed + i (see ``pane_seed``)


@dataclass(frozen=True)
class BackendSpec:
    """How to reach one model server; the token itself is never stored here."""

    id: str
    label: str
    base_url: str
    kind: BackendKind = "tgi"
    model_id: str = ""
    token_env: str | None = None
    tool_response_role: Literal["tool", "user"] = "tool"
    context_window: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One generation call: a raw ChatML prompt for TGI, messages for chat backends."""

    prompt: str
    messages: tuple[Message, ...]
    params: SamplingParams
    grammar: dict[str, Any] | None = None


@dataclass(frozen=True)
class TokenEvent:
    """A piece of generated text."""

    text: str


@dataclass(frozen=True)
class EndEvent:
    """The stream finished normally."""

    finish_reason: FinishReason
    generated_tokens: int | None = None


StreamEvent = TokenEvent | EndEvent


@dataclass(frozen=True)
class BackendInfo:
    """What a backend says about itself (``/info`` or ``/v1/models``) and how fast it answered."""

    backend_id: str
    healthy: bool
    model_id: str | None = None
    context_window: int | None = None
    latency_ms: float | None = None
    error: str | None = None


@dataclass
class PaneMetrics:
    """Timing of one pane's stream, filled in as it runs."""

    ttft_s: float | None = None
    total_s: float | None = None
    tokens: int = 0
    finish_reason: str | None = None
    generations: int = 0

    @property
    def tokens_per_s(self) -> float | None:
        """Decode speed after the first token (tokens 2..n over the time they took)."""
        if self.ttft_s is None or self.total_s is None or self.tokens < 2:
            return None
        decode = self.total_s - self.ttft_s
        return (self.tokens - 1) / decode if decode > 0 else None


@dataclass(frozen=True)
class ToolStep:
    """One ``<tool_call>`` a model made and what was answered.

    ``depth`` is the tool round (1 answers the turn's first reply). ``result`` is the content
    of the ``tool`` message sent back (``{"name", "content"}`` JSON text), ``None`` while
    ``pending`` (a tool that is not built in, waiting for the user to type its result).
    ``valid`` says whether the call parsed and its arguments matched the tool's schema.
    """

    depth: int
    name: str
    arguments: dict[str, Any]
    raw: str
    valid: bool
    result: str | None = None
    error: str | None = None
    duration_s: float | None = None
    builtin: bool = False
    pending: bool = False


# --- Preference records (store / export layer) -------------------------------------------

VoteKind = Literal["a", "b", "tie", "bothbad", "ranking"]
"""``a``/``b``/``tie``/``bothbad`` for two panes; ``ranking`` (best to worst) for three or four."""


@dataclass(frozen=True)
class PaneOutput:
    """What one pane produced in one finished turn, with exactly what it was sent.

    ``prompt_messages`` is the full context the pane's backend received (its system
    message first if it had one, then every earlier turn, ending with the last user or
    tool message). ``output`` is the raw assistant reply to that prompt (tool mode keeps
    the ``<tool_call>`` blocks verbatim). ``followup`` holds the rest of a tool loop run
    inside the same turn (tool results, later assistant replies), empty otherwise.
    ``system_prompt`` is ``None`` for "no system turn" and ``""`` for an empty one.
    """

    position: int
    backend_id: str
    model_id: str
    label: str
    system_prompt: str | None
    prompt_messages: tuple[Message, ...]
    output: str
    status: PaneStatus = "done"
    error: str | None = None
    followup: tuple[Message, ...] = ()
    metrics: PaneMetrics = field(default_factory=PaneMetrics)
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class TurnRecord:
    """One finished turn across 2-4 panes, stored whole so it can become training data.

    ``messages`` is the shared conversation context typed by the user (without system
    prompts, which are per pane). ``pane_order`` is the display order the user saw
    (positions, left to right; shuffled in blind mode). ``id`` and ``created_at`` are
    filled in by the store when left empty. ``user_id`` is the voter's pseudonym (never a
    Gradio session id, which is a credential).
    """

    user_id: str
    mode: Mode
    panes: tuple[PaneOutput, ...]
    messages: tuple[Message, ...] = ()
    sampling: SamplingParams = field(default_factory=SamplingParams)
    tools: tuple[dict[str, Any], ...] | None = None
    json_schema: dict[str, Any] | None = None
    blind: bool = False
    pane_order: tuple[int, ...] = ()
    id: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class Vote:
    """One user's judgement of one turn; a new vote by the same user replaces it.

    Pane references are stored *positions* (``TurnRecord.panes[i].position``), never
    display slots: ``a`` means position 0 won, ``b`` position 1. ``ranking`` lists groups
    of positions best to worst, ties inside a group, e.g. ``((0,), (2, 1), (3,))``; it is
    required for ``kind="ranking"`` and derived by the store for the two-pane kinds.
    ``gold_text`` is an edited replacement for the winning reply (the original is kept
    in ``gold_original`` by the store). ``terms_version`` is the consent notice the voter
    accepted (``None`` on a local deployment, which shows none).
    """

    turn_id: str
    user_id: str
    kind: VoteKind
    ranking: tuple[tuple[int, ...], ...] | None = None
    blind: bool = False
    gold_text: str | None = None
    gold_original: str | None = None
    terms_version: str | None = None
    id: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
