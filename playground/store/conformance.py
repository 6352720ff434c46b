"""Hermes conformance per model, from every stored turn (voted or not).

For each finished pane (status ``done``; failed and stopped panes are left out), the post-check
its mode declares in ``hermes/modes.py`` (columns ``<check>_replies`` / ``<check>_valid``):

* function-calling turns: of the replies that hold ``<tool_call>`` blocks (the first reply
  and any later reply of the tool loop), the share whose blocks all parse, are closed and
  validate against the turn's tool schemas;
* JSON-mode turns: the share of first replies that parse and validate against the schema;
* every turn: the share of panes whose answer uses a Hermes reasoning tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import sqlalchemy as sa

from playground.hermes.modes import MODES, find_mode
from playground.hermes.reasoning import has_reasoning
from playground.store.engine import Store
from playground.store.records import messages_from_json
from playground.store.schema import turn_panes, turns

CHECKS = tuple(m.check for m in MODES if m.post_check is not None)  # each needs its two PaneCheck fields
CONFORMANCE_COLUMNS = [*(f"{c}_{k}" for c in CHECKS for k in ("replies", "valid")), "answers", "reasoning"]


@dataclass(frozen=True)
class PaneCheck:
    """Counts one finished pane adds to its model's conformance row."""

    tool_replies: int = 0
    tool_valid: int = 0
    json_replies: int = 0
    json_valid: int = 0
    reasoning: bool = False


def check_pane(mode: str, output: str, assistant_followups: Sequence[str], tools: Sequence[Mapping[str, Any]] | None,
               json_schema: Mapping[str, Any] | None) -> PaneCheck:
    """Conformance counts of one finished pane (see the module docstring).

    Example:
        >>> check_pane("json", '{"a": 1}', [], None, {"type": "object"})
        PaneCheck(tool_replies=0, tool_valid=0, json_replies=1, json_valid=1, reasoning=False)
    """
    replies = [output, *assistant_followups]
    checked = PaneCheck(reasoning=any(has_reasoning(r) for r in replies))
    spec = find_mode(mode)
    if spec is None or spec.post_check is None:
        return checked
    value = {"tools": tools, "json_schema": json_schema}[spec.editor.field] if spec.editor else None
    verdicts = spec.post_check(replies, value)
    return replace(checked, **{f"{spec.check}_replies": len(verdicts), f"{spec.check}_valid": sum(verdicts)})


def conformance_table(checks: Iterable[tuple[str, PaneCheck]]) -> pd.DataFrame:
    """Per model: the counts (``CONFORMANCE_COLUMNS``) and ``tool_rate``, ``json_rate``, ``reasoning_rate``
    (NaN with no data).

    Example:
        >>> t = conformance_table([("m", PaneCheck(json_replies=1, json_valid=1)), ("m", PaneCheck(json_replies=1))])
        >>> t.loc["m", ["json_replies", "json_rate", "answers"]].tolist()
        [2.0, 0.5, 2.0]
    """
    counted = CONFORMANCE_COLUMNS[:-2]
    rows = [(model, *(getattr(c, col) for col in counted), 1, int(c.reasoning)) for model, c in checks]
    df = pd.DataFrame(rows, columns=["model", *CONFORMANCE_COLUMNS]).groupby("model").sum()
    for check in CHECKS:
        df[f"{check}_rate"] = df[f"{check}_valid"] / df[f"{check}_replies"].where(df[f"{check}_replies"] > 0)
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
