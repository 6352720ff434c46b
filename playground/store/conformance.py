"""Hermes conformance per model, from every stored turn (voted or not).

For each finished pane (status ``done``; failed and stopped panes are left out):

* function-calling turns: of the replies that hold ``<tool_call>`` blocks (the first reply
  and any later reply of the tool loop), the share whose blocks all parse, are closed and
  validate against the turn's tool schemas;
* JSON-mode turns: the share of first replies that parse and validate against the schema;
* every turn: the share of panes whose answer uses a Hermes reasoning tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from playground.hermes.jsonmode import check_json_reply
from playground.hermes.reasoning import has_reasoning
from playground.hermes.tool_calls import parse_tool_calls
from playground.hermes.tools import validate_tool_arguments
from playground.store.db import Store, turn_panes, turns
from playground.store.records import messages_from_json

CONFORMANCE_COLUMNS = ["tool_replies", "tool_valid", "json_replies", "json_valid", "answers", "reasoning"]


@dataclass(frozen=True)
class PaneCheck:
    """Counts one finished pane adds to its model's conformance row."""

    tool_replies: int = 0
    tool_valid: int = 0
    json_replies: int = 0
    json_valid: int = 0
    reasoning: bool = False


def tool_reply_valid(reply: str, tools: Sequence[Mapping[str, Any]]) -> bool | None:
    """``None`` if the reply makes no tool call, else whether every ``<tool_call>`` is closed, parses and validates.

    Example:
        >>> tools = [{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}]
        >>> ok = '<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>'
        >>> tool_reply_valid(ok, tools), tool_reply_valid(ok.replace("f", "g", 1), tools), tool_reply_valid("hi", tools)
        (True, False, None)
    """
    calls = parse_tool_calls(reply).calls
    if not calls:
        return None
    return all(c.closed and not validate_tool_arguments(c, tools) for c in calls)


def check_pane(mode: str, output: str, assistant_followups: Sequence[str], tools: Sequence[Mapping[str, Any]] | None,
               json_schema: Mapping[str, Any] | None) -> PaneCheck:
    """Conformance counts of one finished pane (see the module docstring).

    Example:
        >>> check_pane("json", '{"a": 1}', [], None, {"type": "object"})
        PaneCheck(tool_replies=0, tool_valid=0, json_replies=1, json_valid=1, reasoning=False)
    """
    replies = [output, *assistant_followups]
    tool_replies = tool_valid = json_replies = json_valid = 0
    if mode == "tools":
        verdicts = [v for v in (tool_reply_valid(r, tools or ()) for r in replies) if v is not None]
        tool_replies, tool_valid = len(verdicts), sum(verdicts)
    elif mode == "json":
        json_replies, json_valid = 1, int(check_json_reply(output, json_schema or {}).valid)
    return PaneCheck(tool_replies, tool_valid, json_replies, json_valid, any(has_reasoning(r) for r in replies))


def conformance_table(checks: Iterable[tuple[str, PaneCheck]]) -> pd.DataFrame:
    """Per model: the counts (``CONFORMANCE_COLUMNS``) and ``tool_rate``, ``json_rate``, ``reasoning_rate`` (NaN with no data).

    Example:
        >>> t = conformance_table([("m", PaneCheck(json_replies=1, json_valid=1)), ("m", PaneCheck(json_replies=1))])
        >>> t.loc["m", ["json_replies", "json_rate", "answers"]].tolist()
        [2.0, 0.5, 2.0]
    """
    rows = [(model, c.tool_replies, c.tool_valid, c.json_replies, c.json_valid, 1, int(c.reasoning))
            for model, c in checks]
    df = pd.DataFrame(rows, columns=["model", *CONFORMANCE_COLUMNS]).groupby("model").sum()
    df["tool_rate"] = df["tool_valid"] / df["tool_replies"].where(df["tool_replies"] > 0)
    df["json_rate"] = df["json_valid"] / df["json_replies"].where(df["json_replies"] > 0)
    df["reasoning_rate"] = df["reasoning"] / df["answers"]
    return df.sort_index()


def stored_pane_checks(store: Store, *, batch_size: int = 2000) -> Iterable[tuple[str, PaneCheck]]:
    """``(model id, PaneCheck)`` for every finished pane of every stored turn, streamed."""
    stmt = (
        sa.select(turn_panes.c.model_id, turn_panes.c.backend_id, turn_panes.c.output, turn_panes.c.followup,
                  turns.c.mode, turns.c.tools, turns.c.json_schema)
        .select_from(turn_panes.join(turns, turns.c.id == turn_panes.c.turn_id))
        .where(turn_panes.c.status == "done")
    )
    with store.engine.connect().execution_options(yield_per=batch_size) as conn:
        for row in conn.execute(stmt).mappings():
            followups = [m.content for m in messages_from_json(row["followup"]) if m.role == "assistant"]
            yield (row["model_id"] or row["backend_id"],
                   check_pane(row["mode"], row["output"], followups, row["tools"], row["json_schema"]))
