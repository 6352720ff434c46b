"""Reading ``<tool_call>`` blocks out of a Hermes reply, finished or still streaming.

PROTOCOLS.md §2. The reply is never parsed as XML: blocks are found by plain string search
(with a JSON-aware end, so ``</tool_call>`` inside an argument string does not cut a block),
which makes ``<`` and ``&`` in arguments harmless. Each block body is read with
``json.loads``, then ``ast.literal_eval`` (Python-literal dicts with single quotes), then
the first JSON object in it; never ``eval``. Handled: several blocks; a last block never
closed (generation stopped); a block reopened before it was closed; text or a
``<scratch_pad>`` before the calls; OpenAI-shaped ``{"function": {...}}`` calls and
arguments given as a JSON string.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from playground.hermes.chatml import strip_trailing_specials

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_NAME_RE = re.compile(r"""["']name["']\s*:\s*["']([^"']*)""")

@dataclass(frozen=True)
class ToolCall:
    """One ``<tool_call>`` block from a reply.

    ``raw`` is the text between the tags; ``error`` says why it could not be read (then
    ``name`` may be ``""`` and ``arguments`` empty); ``closed`` is False for a block that
    never got its ``</tool_call>`` (generation stopped, or still streaming).
    """

    name: str
    arguments: dict[str, Any]
    raw: str
    error: str | None = None
    closed: bool = True


@dataclass(frozen=True)
class ToolCallParse:
    """Result of parsing a reply: the calls, the text outside them, an open block if streaming."""

    calls: tuple[ToolCall, ...]
    text: str
    in_progress: ToolCall | None = None


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    body: str
    closed: bool


def _json_end(text: str, i: int) -> int | None:
    """If a JSON object starting at ``i`` is followed by ``</tool_call>``, return the tag's index."""
    try:
        _, end = json.JSONDecoder().raw_decode(text, i)
    except (ValueError, RecursionError):
        return None
    j = end
    while j < len(text) and text[j].isspace():
        j += 1
    return j if text.startswith(TOOL_CALL_CLOSE, j) else None


def _find_blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    pos = 0
    while True:
        start = text.find(TOOL_CALL_OPEN, pos)
        if start < 0:
            return blocks
        body_start = start + len(TOOL_CALL_OPEN)
        k = body_start
        while k < len(text) and text[k].isspace():
            k += 1
        close = _json_end(text, k) if text.startswith("{", k) else None
        if close is None:
            close = text.find(TOOL_CALL_CLOSE, body_start)
            reopen = text.find(TOOL_CALL_OPEN, body_start)
            if 0 <= reopen < close or (close < 0 and reopen >= 0):
                blocks.append(_Block(start, reopen, text[body_start:reopen], False))
                pos = reopen
                continue
        if close < 0:
            blocks.append(_Block(start, len(text), text[body_start:], False))
            return blocks
        end = close + len(TOOL_CALL_CLOSE)
        blocks.append(_Block(start, end, text[body_start:close], True))
        pos = end


def _load_literal(body: str) -> tuple[Any, str | None]:
    try:
        return json.loads(body), None
    except (ValueError, RecursionError) as exc:
        json_error = f"not JSON ({exc})"
    try:
        return ast.literal_eval(body), None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    brace = body.find("{")
    if brace >= 0:
        try:
            return json.JSONDecoder().raw_decode(body, brace)[0], None
        except (ValueError, RecursionError):
            pass
    return None, f"{json_error}; not a Python literal either"


def read_tool_call(body: str, *, closed: bool = True) -> ToolCall:
    """Read one block body (the text between the tags) into a :class:`ToolCall`.

    Example:
        >>> read_tool_call("{'name': 'f', 'arguments': {'x': 1}}").arguments
        {'x': 1}
    """
    raw = body
    value, error = _load_literal(strip_trailing_specials(body))
    if error is not None:
        return ToolCall("", {}, raw, error, closed)
    if not isinstance(value, dict):
        return ToolCall("", {}, raw, f"expected an object, got {type(value).__name__}", closed)
    if isinstance(value.get("function"), dict) and "name" not in value:
        value = value["function"]  # OpenAI-shaped {"function": {...}}
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return ToolCall("", {}, raw, "missing or non-string 'name'", closed)
    args = value.get("arguments", value.get("parameters", {}))
    if isinstance(args, str):  # OpenAI-style arguments as a JSON string
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return ToolCall(name, {}, raw, "'arguments' is a string that is not JSON", closed)
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return ToolCall(name, {}, raw, f"'arguments' must be an object, got {type(args).__name__}", closed)
    return ToolCall(name, {str(k): v for k, v in args.items()}, raw, None, closed)


def parse_tool_calls(text: str) -> ToolCallParse:
    """Find every ``<tool_call>`` block in a finished reply.

    A last block with no closing tag is still read (generation stopped at EOS); it is
    marked ``closed=False``. ``text`` is the reply with every block removed.

    Example:
        >>> r = parse_tool_calls('Sure.\\n<tool_call>\\n{"arguments": {"symbol": "TSLA"}, '
        ...                      '"name": "get_stock_fundamentals"}\\n</tool_call>')
        >>> r.calls[0].name, r.calls[0].arguments, r.text
        ('get_stock_fundamentals', {'symbol': 'TSLA'}, 'Sure.\\n')
    """
    blocks = _find_blocks(text)
    calls = tuple(read_tool_call(b.body, closed=b.closed) for b in blocks)
    return ToolCallParse(calls, _outside(text, blocks))


def parse_tool_calls_streaming(text: str) -> ToolCallParse:
    """Like :func:`parse_tool_calls` for a reply still streaming.

    A trailing open block is returned as ``in_progress`` (its name if already visible,
    ``arguments`` empty) instead of a call, and a trailing partial ``<tool_call>`` tag
    (e.g. ``"<tool_c"``) is held back from ``text``.

    Example:
        >>> r = parse_tool_calls_streaming('<tool_call>\\n{"name": "f", "argu')
        >>> r.calls, r.in_progress.name
        ((), 'f')
    """
    blocks = _find_blocks(text)
    in_progress = None
    if blocks and not blocks[-1].closed and blocks[-1].end == len(text):
        last = blocks.pop()
        match = _NAME_RE.search(last.body)
        in_progress = ToolCall(match.group(1) if match else "", {}, last.body, None, False)
        text_out = _outside(text[: last.start], blocks)
    else:
        text_out = _outside(text, blocks)
        for n in range(len(TOOL_CALL_OPEN) - 1, 0, -1):
            if text_out.endswith(TOOL_CALL_OPEN[:n]):
                text_out = text_out[:-n]
                break
    calls = tuple(read_tool_call(b.body, closed=b.closed) for b in blocks)
    return ToolCallParse(calls, text_out, in_progress)


def _outside(text: str, blocks: Sequence[_Block]) -> str:
    parts, pos = [], 0
    for b in blocks:
        parts.append(text[pos : b.start])
        pos = b.end
    parts.append(text[pos:])
    return "".join(parts)
