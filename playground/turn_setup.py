"""From what the user chose (mode, prompts, tools, schema, sampling) to one job per pane.

Everything is checked before anything is sent: a malformed tool list or schema, a system
prompt without the mode's placeholder, text that would forge a ChatML turn, a pane still
waiting for a tool result. Each problem raises :class:`TurnSetupError` with a message that
says where it is and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from playground import turn
from playground.backends.base import Backend
from playground.backends.tgi import MAX_STOP_SEQUENCES
from playground.hermes.builtin_tools import ToolContext
from playground.hermes.chatml import ForgedTurnError, check_no_special_tokens
from playground.hermes.jsonmode import grammar_for, validate_json_schema_text
from playground.hermes.system_prompt import SystemPromptError, compose_system_prompt
from playground.hermes.tools import validate_tool_schemas
from playground.types import CompareSession, Mode, PaneState, SamplingParams


class TurnSetupError(ValueError):
    """The turn cannot start; the message says what to fix."""


@dataclass(frozen=True)
class TurnChoices:
    """What the widgets say for one turn.

    ``system`` is the shared system prompt (``None``: no system turn); ``pane_systems`` holds,
    per pane, its own prompt or ``SHARED``. ``tools_text`` and ``schema_text`` are the editors'
    contents, read only in their mode.
    """

    mode: Mode
    sampling: SamplingParams
    system: str | None
    pane_systems: tuple[str | None | object, ...] = ()
    tools_text: str = "[]"
    schema_text: str = "{}"
    grammar: bool = False
    max_depth: int = 5


SHARED = object()  # a pane that uses the shared system prompt


def _checked_tools(choices: TurnChoices) -> tuple[dict[str, Any], ...] | None:
    if choices.mode != "tools":
        return None
    tools, errors = validate_tool_schemas(choices.tools_text)
    if errors or not tools:
        raise TurnSetupError("Tool definitions: " + ("; ".join(errors) or "the list is empty; add at least one tool."))
    return tuple(tools)


def _checked_schema(choices: TurnChoices) -> dict[str, Any] | None:
    if choices.mode != "json":
        return None
    schema, errors = validate_json_schema_text(choices.schema_text)
    if errors or schema is None:
        raise TurnSetupError("JSON Schema: " + "; ".join(errors))
    return schema


def _system_for(index: int, pane: PaneState, choices: TurnChoices, tools: Sequence[dict[str, Any]]) -> str | None:
    own = choices.pane_systems[index] if index < len(choices.pane_systems) else SHARED
    template = choices.system if own is SHARED else own
    where = "the system prompt" if own is SHARED else f"{pane.label}'s own system prompt"
    try:
        system = compose_system_prompt(template, choices.mode, tools=tools,  # type: ignore[arg-type]
                                       schema_text=choices.schema_text)
        if system is not None:
            check_no_special_tokens(system)
    except (SystemPromptError, ForgedTurnError) as exc:
        raise TurnSetupError(f"In {where}: {exc}") from None
    return system


def check_message(text: str) -> None:
    """Refuse an empty message or one that would forge a ChatML turn."""
    if not text.strip():
        raise TurnSetupError("Type a message first.")
    try:
        check_no_special_tokens(text)
    except ForgedTurnError as exc:
        raise TurnSetupError(f"Your message {str(exc).removeprefix('text ')}") from None


def start_turn(session: CompareSession, choices: TurnChoices, text: str, backends: Mapping[str, Backend],
               tool_context: ToolContext) -> list[turn.PaneJob]:
    """Check everything, begin every pane of ``session`` and return one job per pane.

    Records the turn's mode, sampling, tools, schema and grammar on ``session`` (what the
    store keeps with the finished turn).

    Raises:
        TurnSetupError: nothing was started; the message says what to fix.
    """
    check_message(text)
    if len(choices.sampling.stop) > MAX_STOP_SEQUENCES:
        raise TurnSetupError(f"{len(choices.sampling.stop)} stop sequences given; TGI accepts at most "
                             f"{MAX_STOP_SEQUENCES}.")
    waiting = [p.label for p in session.panes if p.status == "tool_input"]
    if waiting:
        raise TurnSetupError(f"{', '.join(waiting)} waits for a tool result: type it under the pane, or press Stop.")
    tools, schema = _checked_tools(choices), _checked_schema(choices)
    systems = [_system_for(i, pane, choices, tools or ()) for i, pane in enumerate(session.panes)]
    session.mode, session.sampling, session.tools, session.json_schema = choices.mode, choices.sampling, tools, schema
    session.grammar, session.max_depth = choices.grammar and schema is not None, choices.max_depth
    return [_begin_pane(pane, system, text, session, backends[pane.backend_id], tool_context)
            for pane, system in zip(session.panes, systems)]


def _begin_pane(pane: PaneState, system: str | None, text: str, session: CompareSession, backend: Backend,
                tool_context: ToolContext) -> turn.PaneJob:
    messages = turn.conversation(pane, system, text)
    grammar = session.grammar and backend.spec.kind == "tgi"  # chat backends have no common grammar parameter
    turn.begin(pane, text, system, messages, grammar=grammar)
    return _job(pane, tuple(messages), session, backend, tool_context)


def _job(pane: PaneState, messages: tuple[Any, ...], session: CompareSession, backend: Backend,
         tool_context: ToolContext, depth: int = 0, elapsed_s: float = 0.0) -> turn.PaneJob:
    tools = turn.ToolSetup(session.tools, session.max_depth, tool_context) if session.tools else None
    grammar = grammar_for(session.json_schema) if pane.grammar and session.json_schema is not None else None
    return turn.PaneJob(backend, messages, session.sampling, grammar=grammar, tools=tools,
                        json_schema=session.json_schema, depth=depth, elapsed_s=elapsed_s,
                        exact_count=session.inspect)


def continue_pane(pane: PaneState, session: CompareSession, backend: Backend, tool_context: ToolContext
                  ) -> turn.PaneJob:
    """The job that carries a paused pane on once every tool result has been typed."""
    depth = pane.tool_steps[-1].depth
    messages = tuple(turn.resume(pane))
    return _job(pane, messages, session, backend, tool_context, depth, pane.metrics.total_s or 0.0)
