"""One round of the Hermes tool loop, as pure steps (PROTOCOLS.md §2).

A reply's ``<tool_call>`` blocks become :class:`~playground.types.ToolStep`s: each call is
checked against its tool's JSON schema; built-in tools run at once; a valid call to a tool
that is not built in waits for the user to type its result (``pending``); an invalid call
is answered with an error inside ``<tool_response>`` so the model can retry. The caller
(``turn.py``) streams, calls :func:`answer_tool_calls`, and feeds :func:`tool_messages`
back until a reply has no call or the depth limit is reached.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from playground.hermes.builtin_tools import ToolContext, ToolError, builtin_tool_names, run_builtin_tool
from playground.hermes.tools import (
    ToolCallReport,
    format_tool_error,
    format_tool_response,
    parse_tool_calls,
    validate_tool_arguments,
)
from playground.types import Message, ToolStep


def answer_tool_calls(reply: str, tools: Sequence[Mapping[str, Any]], depth: int,
                      context: ToolContext = ToolContext(),
                      clock: Callable[[], float] = time.perf_counter) -> list[ToolStep]:
    """Read every call in ``reply`` and answer what can be answered now.

    Args:
        reply: the raw assistant text, ``<tool_call>`` blocks included.
        tools: the normalised tool schemas offered in the system prompt.
        depth: the tool round these calls belong to (1 for the turn's first reply).
        context: what the built-in tools may use.
        clock: for ``duration_s`` of built-in runs.

    Returns:
        One step per call, in order; empty when the reply makes no call.

    Example:
        >>> tools = [{"type": "function", "function": {"name": "calculator", "parameters":
        ...     {"type": "object", "properties": {"expression": {"type": "string"}}}}}]
        >>> step = answer_tool_calls('<tool_call>{"name": "calculator", '
        ...     '"arguments": {"expression": "6*7"}}</tool_call>', tools, 1)[0]
        >>> step.result
        '{"name": "calculator", "content": 42}'
    """
    builtins = set(builtin_tool_names())
    steps = []
    for call in parse_tool_calls(reply).calls:
        errors = validate_tool_arguments(call, tools)
        base = ToolStep(depth=depth, name=call.name, arguments=call.arguments, raw=call.raw, valid=not errors)
        if errors:
            steps.append(replace(base, result=format_tool_error(call, errors), error="; ".join(errors)))
        elif call.name not in builtins:
            steps.append(replace(base, pending=True))
        else:
            start = clock()
            try:
                content: Any = run_builtin_tool(call.name, call.arguments, context)
                error = None
            except ToolError as exc:
                content, error = {"error": str(exc)}, str(exc)
            steps.append(replace(base, result=format_tool_response(call.name, content), error=error,
                                 duration_s=clock() - start, builtin=True))
    return steps


def fill_tool_result(steps: Sequence[ToolStep], text: str) -> list[ToolStep]:
    """Give the first pending step the result the user typed (JSON if it parses, else text).

    Example:
        >>> step = ToolStep(1, "get_weather", {"city": "Paris"}, "", True, pending=True)
        >>> fill_tool_result([step], '{"temp_c": 21}')[0].result
        '{"name": "get_weather", "content": {"temp_c": 21}}'
    """
    out = list(steps)
    index = next((i for i, s in enumerate(out) if s.pending), None)
    if index is None:
        raise ValueError("no tool call is waiting for a result")
    try:
        content: Any = json.loads(text)
    except ValueError:
        content = text
    out[index] = replace(out[index], result=format_tool_response(out[index].name, content), pending=False)
    return out


def tool_messages(steps: Sequence[ToolStep]) -> list[Message]:
    """The ``tool`` messages answering one round (every step must have a result).

    Example:
        >>> tool_messages([ToolStep(1, "f", {}, "", True, result='{"name": "f", "content": 1}')])
        [Message(role='tool', content='{"name": "f", "content": 1}')]
    """
    if any(s.result is None for s in steps):
        raise ValueError("a tool call still waits for its result")
    return [Message("tool", s.result or "") for s in steps]


def tool_report(steps: Sequence[ToolStep]) -> ToolCallReport:
    """How a model did with tools over a turn: calls, valid/invalid, deepest round.

    Example:
        >>> tool_report([ToolStep(1, "f", {}, "", True), ToolStep(2, "g", {}, "", False, error="bad")])
        ToolCallReport(calls=2, valid=1, invalid=1, depth=2, errors=('bad',))
    """
    valid = sum(1 for s in steps if s.valid)
    return ToolCallReport(calls=len(steps), valid=valid, invalid=len(steps) - valid,
                          depth=max((s.depth for s in steps), default=0),
                          errors=tuple(s.error for s in steps if s.error and not s.valid))
