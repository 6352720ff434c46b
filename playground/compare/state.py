"""What one browser session's Compare tab holds: its panes, their exchanges, its latest turn.

Mutable, held in a ``gr.State`` (one copy per session) and changed only by the functions of this
package. A turn is named by ``CompareSession.turn_id`` (a uuid4 string made when it starts, the
id the store keeps it under), never by the identity of any object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playground.compare.budget import TokenBudget
from playground.hermes.jsonmode import JsonCheck
from playground.types import (
    GenerationRequest,
    Message,
    Mode,
    PaneMetrics,
    PaneStatus,
    SamplingParams,
    ToolStep,
)


@dataclass(frozen=True)
class Exchange:
    """One finished (or failed, or stopped) exchange as a pane keeps it for display.

    ``history_start`` is where the exchange begins in the pane's ``history`` (to drop it on
    Regenerate); the other fields mirror the ``PaneState`` fields of the turn it ended.
    """

    user: str
    reply: str
    status: PaneStatus
    error: str | None = None
    followup: tuple[Message, ...] = ()
    tool_steps: tuple[ToolStep, ...] = ()
    metrics: PaneMetrics = field(default_factory=PaneMetrics)
    json_check: JsonCheck | None = None
    grammar: bool = False
    note: str | None = None
    history_start: int = 0


@dataclass
class PaneState:
    """Everything one pane shows.

    ``history`` is what the model sees next turn (successful or stopped exchanges);
    ``transcript`` is what the pane displays, failed exchanges included. ``sent`` is the
    full context of the current turn's first request (system turn included) and
    ``followup`` what a tool loop added after it; both go to the store with the reply.
    ``tool_steps`` are the calls answered this turn, ``last_request`` what was last sent
    (for the prompt inspector), ``json_check`` the JSON-mode verdict on the reply.
    """

    backend_id: str
    label: str
    history: list[Message] = field(default_factory=list)
    transcript: list[Exchange] = field(default_factory=list)
    user: str = ""
    system_prompt: str | None = None
    sent: tuple[Message, ...] = ()
    followup: list[Message] = field(default_factory=list)
    reply: str = ""
    status: PaneStatus = "idle"
    error: str | None = None
    metrics: PaneMetrics = field(default_factory=PaneMetrics)
    tool_steps: list[ToolStep] = field(default_factory=list)
    gen_tokens: int = 0  # tokens counted so far in the generation in progress
    last_request: GenerationRequest | None = None
    json_check: JsonCheck | None = None
    grammar: bool = False
    note: str | None = None  # e.g. "tool depth limit (5) reached"
    budget: TokenBudget | None = None
    model_id: str = ""  # what the server says it runs (its /info, asked once per backend), else configured


@dataclass
class CompareSession:
    """One browser session's Compare tab: its panes and the settings of its latest turn.

    Held in a ``gr.State`` (one copy per session). ``mode``, ``sampling``, ``tools``,
    ``json_schema`` and ``blind`` describe the turn last sent, so that whoever stores the
    finished turn reads them from here rather than from widgets that may have changed since.
    """

    panes: list[PaneState] = field(default_factory=list)
    turn_id: str = ""  # the latest turn's id (uuid4), made when it starts; votes name it
    mode: Mode = "chat"
    sampling: SamplingParams = field(default_factory=SamplingParams)
    tools: tuple[dict[str, Any], ...] | None = None
    json_schema: dict[str, Any] | None = None
    blind: bool = False
    grammar: bool = False
    max_depth: int = 5
    inspect: bool = False  # the prompt inspector is open: fetch exact token counts
    revealed: bool = False  # a vote showed this blind battle's names
