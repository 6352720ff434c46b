"""From what the user chose (mode, prompts, tools, schema, sampling) to one job per pane.

Everything is checked before anything is sent (also before any ``/tokenize``): sizes and
ranges (``limits.py``), a malformed tool list or schema, a system prompt without the mode's
placeholder, special tokens (the policy in ``hermes/chatml.py``), a pane still waiting for a
tool result. Each problem raises :class:`TurnSetupError` with a message that says where it
is and what to do; the caller keeps what the user typed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from playground.backends.base import Backend
from playground.compare import run as turn
from playground.compare.state import CompareSession, PaneState
from playground.hermes.builtin_tools import ToolContext
from playground.hermes.jsonmode import grammar_for
from playground.hermes.modes import mode_spec
from playground.hermes.system_prompt import SystemPromptError, compose_system_prompt
from playground.hermes.tool_loop import fill_tool_result
from playground.limits import (
    DEFAULT_LIMITS,
    SEED_MAX,
    InputRefused,
    TextLimits,
    check_tokens_free,
    number,
    whole_number,
)
from playground.types import Mode, SamplingParams

MAX_TOOL_DEPTH = 10


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
    max_depth: object = 5  # checked by start_turn: a whole number from 1 to MAX_TOOL_DEPTH


SHARED = object()  # a pane that uses the shared system prompt


@contextlib.contextmanager
def _refused_as_setup_error() -> Iterator[None]:
    """Limit refusals surface as :class:`TurnSetupError`, like every other setup problem."""
    try:
        yield
    except InputRefused as exc:
        raise TurnSetupError(str(exc)) from None


def sampling_from_widgets(temperature: object, top_p: object, top_k: object, repetition_penalty: object,
                          max_new_tokens: object, seed: object, stop_text: object, same_seed: object = True,
                          limits: TextLimits = DEFAULT_LIMITS) -> SamplingParams:
    """Widget (or API) values -> SamplingParams, each checked: finite and in range.

    A blank seed means random (no seed is sent); stop sequences are one per line (or a list); with
    ``same_seed`` false, pane i gets seed + i (:func:`pane_seed`).

    Raises:
        TurnSetupError: a value is not a number, not finite or out of range; too many or too long stops.
    """
    with _refused_as_setup_error():
        lines = [line for line in stop_text.splitlines() if line] if isinstance(stop_text, str) else stop_text
        stops = checked_stops(lines or [], limits)
        if not isinstance(same_seed, bool):
            raise InputRefused("Same seed for all panes must be true or false.")
        seed = seed.strip() if isinstance(seed, str) else seed
        return SamplingParams(same_seed=same_seed,

            temperature=number("Temperature", temperature, 0.0, 5.0), top_p=number("top_p", top_p, 0.001, 1.0),
            top_k=whole_number("top_k", top_k, 0, 100_000),
            repetition_penalty=number("Repetition penalty", repetition_penalty, 0.01, 10.0),
            max_new_tokens=whole_number("Max new tokens", max_new_tokens, 1, limits.new_tokens),
            seed=None if seed in (None, "") else whole_number("Seed", seed, 0, SEED_MAX), stop=stops)


def checked_stops(stops: object, limits: TextLimits = DEFAULT_LIMITS) -> tuple[str, ...]:
    """Stop sequences (a list of texts, none empty), each within its limit, at most ``limits.stop_sequences``.

    Raises:
        InputRefused: not a list of texts, too many, or one too long.

    >>> checked_stops(["\\n\\n", "User:"])
    ('\\n\\n', 'User:')
    """
    if not isinstance(stops, list | tuple) or not all(isinstance(s, str) and s for s in stops):
        raise InputRefused("Stop sequences must be text: one per line, or a list of non-empty texts.")
    if len(stops) > limits.stop_sequences:
        raise InputRefused(f"{len(stops)} stop sequences given; the limit is {limits.stop_sequences} "
                           "(TGI's default) — remove some.")
    return tuple(limits.text("A stop sequence", s, "stop_chars") for s in stops)


def pane_seed(params: SamplingParams, index: int) -> SamplingParams:
    """The sampling pane ``index`` sends: the typed seed, or seed + index unless ``same_seed``.

    >>> pane_seed(SamplingParams(seed=41, same_seed=False), 1).seed, pane_seed(SamplingParams(), 1).seed
    (42, None)
    """
    if params.seed is None or params.same_seed:
        return params
    return replace(params, seed=(params.seed + index) % (SEED_MAX + 1))


def _checked_editor(choices: TurnChoices, limits: TextLimits) -> dict[str, Any]:
    """The mode's editor value (``hermes/modes.py``), checked, under its field; ``{}`` for a mode without one."""
    editor = mode_spec(choices.mode).editor
    if editor is None:
        return {}
    text = {"tools": choices.tools_text, "schema": choices.schema_text}[editor.id]
    check_tokens_free(editor.subject, limits.text(editor.subject, text, editor.limit))
    value, errors = editor.check(text)
    if errors:
        raise TurnSetupError(f"{editor.title}: " + "; ".join(errors))
    return {editor.field: tuple(value) if isinstance(value, list) else value}


def _system_for(index: int, pane: PaneState, choices: TurnChoices, tools: Sequence[dict[str, Any]],
                limits: TextLimits) -> str | None:
    own = choices.pane_systems[index] if index < len(choices.pane_systems) else SHARED
    template = choices.system if own is SHARED else own
    where = "The system prompt" if own is SHARED else f"{pane.label}'s own system prompt"
    if template is not None:
        check_tokens_free(where, limits.text(where, template, "system_chars"))
    try:
        system = compose_system_prompt(template, choices.mode, tools=tools,  # type: ignore[arg-type]
                                       schema_text=choices.schema_text)
    except SystemPromptError as exc:
        raise TurnSetupError(f"In {where[0].lower()}{where[1:]}: {exc}") from None
    if system is not None:  # the tools or schema as filled in (JSON escapes can spell a token)
        check_tokens_free(f"{where}, with the tools or schema filled in,", system)
    return system


def check_message(text: object, limits: TextLimits = DEFAULT_LIMITS) -> str:
    """Refuse a message that is not text, too long, empty, or holds a special token.

    Raises:
        TurnSetupError: the message says what to change.
    """
    with _refused_as_setup_error():
        limits.text("Your message", text, "message_chars")
        if not str(text).strip():
            raise InputRefused("Type a message first.")
        check_tokens_free("Your message", str(text))
    return str(text)


def take_tool_result(pane: PaneState, text: object, limits: TextLimits = DEFAULT_LIMITS) -> None:
    """Give the pane's first waiting tool call the result the user typed, once it is checked.

    Raises:
        TurnSetupError: the result is too long or holds a special token; the pane still waits.
    """
    with _refused_as_setup_error():
        check_tokens_free("The tool result", limits.text("The tool result", text, "tool_result_chars"))
    pane.tool_steps = fill_tool_result(pane.tool_steps, str(text))


def start_turn(session: CompareSession, choices: TurnChoices, text: object, backends: Mapping[str, Backend],
               tool_context: ToolContext, limits: TextLimits = DEFAULT_LIMITS) -> list[turn.PaneJob]:
    """Check everything, begin every pane of ``session`` and return one job per pane.

    Records the turn's mode, sampling, tools, schema and grammar on ``session`` (what the
    store keeps with the finished turn).

    Raises:
        TurnSetupError: nothing was started; the message says what to fix.
    """
    text = check_message(text, limits)
    waiting = [p.label for p in session.panes if p.status == "tool_input"]
    if waiting:
        raise TurnSetupError(f"{', '.join(waiting)} waits for a tool result: type it under the pane, or press Stop.")
    with _refused_as_setup_error():
        max_depth = whole_number("Maximum tool rounds", choices.max_depth, 1, MAX_TOOL_DEPTH)
        checked = _checked_editor(choices, limits)
        tools, schema = checked.get("tools"), checked.get("json_schema")
        systems = [_system_for(i, pane, choices, tools or (), limits) for i, pane in enumerate(session.panes)]
    session.mode, session.sampling, session.tools, session.json_schema = choices.mode, choices.sampling, tools, schema
    session.grammar, session.max_depth = bool(choices.grammar) and schema is not None, max_depth
    return [_begin_pane(pane, system, text, session, backends[pane.backend_id], tool_context)
            for pane, system in zip(session.panes, systems, strict=True)]


def _begin_pane(pane: PaneState, system: str | None, text: str, session: CompareSession, backend: Backend,
                tool_context: ToolContext) -> turn.PaneJob:
    messages = turn.conversation(pane, system, text)
    grammar = session.grammar and backend.capabilities.grammar
    turn.begin(pane, text, system, messages, grammar=grammar)
    return _job(pane, tuple(messages), session, backend, tool_context)


def _job(pane: PaneState, messages: tuple[Any, ...], session: CompareSession, backend: Backend,
         tool_context: ToolContext, depth: int = 0, elapsed_s: float = 0.0) -> turn.PaneJob:
    tools = turn.ToolSetup(session.tools, session.max_depth, tool_context) if session.tools else None
    grammar = grammar_for(session.json_schema) if pane.grammar and session.json_schema is not None else None
    index = next(i for i, p in enumerate(session.panes) if p is pane)
    return turn.PaneJob(backend, messages, pane_seed(session.sampling, index), grammar=grammar, tools=tools,
                        json_schema=session.json_schema, depth=depth, elapsed_s=elapsed_s,
                        exact_count=session.inspect)


def continue_pane(pane: PaneState, session: CompareSession, backend: Backend, tool_context: ToolContext
                  ) -> turn.PaneJob:
    """The job that carries a paused pane on once every tool result has been typed."""
    depth = pane.tool_steps[-1].depth
    messages = tuple(turn.resume(pane))
    return _job(pane, messages, session, backend, tool_context, depth, pane.metrics.total_s or 0.0)
