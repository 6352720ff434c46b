"""Stored votes -> DPO pairs (TRL conversational preference format) and arena battles.

The row builders are small pure functions over a ``VotedTurn``; the writers stream rows
to JSONL or Parquet in batches, so exporting 100,000 votes needs one query and flat memory.
See PROTOCOLS.md §6 for the formats.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from playground.store.db import Store, VotedTurn, VoteFilter, iter_votes_with_turns
from playground.store.votes import Ranking, battles, preferences
from playground.types import Message, PaneOutput

Kind = Literal["dpo", "battles"]
Format = Literal["jsonl", "parquet"]

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
DPO_SCHEMA = pa.schema(
    [
        ("prompt", MESSAGES),
        ("chosen", MESSAGES),
        ("rejected", MESSAGES),
        ("tools", pa.string()),
        ("json_schema", pa.string()),
        ("mode", pa.string()),
        ("vote", pa.string()),
        ("ranking", pa.string()),
        ("chosen_model", pa.string()),
        ("rejected_model", pa.string()),
        ("chosen_backend", pa.string()),
        ("rejected_backend", pa.string()),
        ("chosen_system", pa.string()),
        ("rejected_system", pa.string()),
        ("same_prompt", pa.bool_()),
        ("edited", pa.bool_()),
        ("chosen_original", pa.string()),
        ("blind", pa.bool_()),
        ("timestamp", pa.string()),
        ("turn_id", pa.string()),
        ("vote_id", pa.string()),
    ]
)
BATTLE_SCHEMA = pa.schema(
    [
        ("model_a", pa.string()),
        ("model_b", pa.string()),
        ("winner", pa.string()),
        ("conversation_a", MESSAGES),
        ("conversation_b", MESSAGES),
        ("judge", pa.string()),
        ("turn", pa.int64()),
        ("anony", pa.bool_()),
        ("tstamp", pa.float64()),
        ("backend_a", pa.string()),
        ("backend_b", pa.string()),
        ("mode", pa.string()),
        ("vote", pa.string()),
        ("turn_id", pa.string()),
        ("vote_id", pa.string()),
    ]
)
SCHEMAS: dict[str, pa.Schema] = {"dpo": DPO_SCHEMA, "battles": BATTLE_SCHEMA}


def _msgs(messages: Iterable[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _model(pane: PaneOutput) -> str:
    return pane.model_id or pane.backend_id


def _keep(a: PaneOutput, b: PaneOutput, backends: Sequence[str]) -> bool:
    return not backends or a.backend_id in backends or b.backend_id in backends


def dpo_rows(item: VotedTurn, backends: Sequence[str] = ()) -> list[dict[str, Any]]:
    """All DPO pairs one vote yields: one per strictly ordered pair of panes.

    ``prompt`` is the chosen pane's full context (its system message first, if it had
    one, ending with the last user/tool message); ``chosen``/``rejected`` are each pane's
    assistant reply, raw (``<tool_call>`` blocks kept). A gold edit replaces the winner's
    reply (``edited=True``, original in ``chosen_original``). Ties and "both bad" yield
    nothing. With ``backends``, only pairs with a side on one of them are kept.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> from playground.types import Vote
        >>> turn = make_turn(seed=1, system_prompts=(None, None))
        >>> row = dpo_rows(VotedTurn(Vote(turn.id, "u", "b", ranking=((1,), (0,))), turn))[0]
        >>> row["prompt"], row["chosen"][0]["role"], row["chosen_backend"]
        ([{'role': 'user', 'content': 'Question #1: explain DPO.'}], 'assistant', 'hermes-8b')
    """
    vote, turn = item
    panes = {p.position: p for p in turn.panes}
    ranking: Ranking = vote.ranking or ()
    gold_at = ranking[0][0] if vote.gold_text is not None else None
    rows = []
    for chosen_pos, rejected_pos in preferences(ranking):
        chosen, rejected = panes[chosen_pos], panes[rejected_pos]
        if not _keep(chosen, rejected, backends):
            continue
        edited = chosen_pos == gold_at
        rows.append(
            {
                "prompt": _msgs(chosen.prompt_messages),
                "chosen": [{"role": "assistant", "content": vote.gold_text if edited else chosen.output}],
                "rejected": [{"role": "assistant", "content": rejected.output}],
                "tools": _json_or_none(list(turn.tools) if turn.tools else None),
                "json_schema": _json_or_none(turn.json_schema),
                "mode": turn.mode,
                "vote": vote.kind,
                "ranking": json.dumps([list(g) for g in ranking]),
                "chosen_model": _model(chosen),
                "rejected_model": _model(rejected),
                "chosen_backend": chosen.backend_id,
                "rejected_backend": rejected.backend_id,
                "chosen_system": chosen.system_prompt,
                "rejected_system": rejected.system_prompt,
                "same_prompt": chosen.prompt_messages == rejected.prompt_messages,
                "edited": edited,
                "chosen_original": chosen.output if edited else None,
                "blind": vote.blind,
                "timestamp": vote.updated_at.isoformat() if vote.updated_at else None,
                "turn_id": turn.id,
                "vote_id": vote.id,
            }
        )
    return rows


def conversation(pane: PaneOutput) -> list[dict[str, str]]:
    """The pane's whole conversation: context sent, its reply, then any in-turn tool loop."""
    return _msgs(pane.prompt_messages) + [{"role": "assistant", "content": pane.output}] + _msgs(pane.followup)


def battle_rows(item: VotedTurn, backends: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Arena battle records for one vote: one per pair of panes, ties included.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> from playground.types import Vote
        >>> turn = make_turn(seed=1)
        >>> [r["winner"] for r in battle_rows(VotedTurn(Vote(turn.id, "u", "bothbad", ranking=((0, 1),)), turn))]
        ['tie (bothbad)']
    """
    vote, turn = item
    panes = {p.position: p for p in turn.panes}
    rows = []
    for pos_a, pos_b, winner in battles(vote.ranking or (), bothbad=vote.kind == "bothbad"):
        a, b = panes[pos_a], panes[pos_b]
        if not _keep(a, b, backends):
            continue
        conv_a = conversation(a)
        rows.append(
            {
                "model_a": _model(a),
                "model_b": _model(b),
                "winner": winner,
                "conversation_a": conv_a,
                "conversation_b": conversation(b),
                "judge": vote.user_id,
                "turn": sum(1 for m in a.prompt_messages if m.role == "user"),
                "anony": vote.blind,
                "tstamp": vote.updated_at.timestamp() if vote.updated_at else None,
                "backend_a": a.backend_id,
                "backend_b": b.backend_id,
                "mode": turn.mode,
                "vote": vote.kind,
                "turn_id": turn.id,
                "vote_id": vote.id,
            }
        )
    return rows


ROW_BUILDERS = {"dpo": dpo_rows, "battles": battle_rows}


def iter_rows(store: Store, kind: Kind, flt: VoteFilter | None = None) -> Iterator[dict[str, Any]]:
    """Stream export rows of ``kind`` for every vote matching ``flt``."""
    build = ROW_BUILDERS[kind]
    backends = tuple(flt.backends) if flt else ()
    for item in iter_votes_with_turns(store, flt):
        yield from build(item, backends)


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write one JSON object per line (UTF-8); return the number of rows."""
    n = 0
    with open(path, "wb") as f:
        for row in rows:
            f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
            n += 1
    return n


def _messages_array(column: list[list[dict[str, str]]]) -> pa.Array:
    """A ``list<struct<role, content>>`` column built from flat buffers (much faster than row-wise)."""
    offsets, roles, contents = [0], [], []
    for messages in column:
        for m in messages:
            roles.append(m["role"])
            contents.append(m["content"])
        offsets.append(len(roles))
    values = pa.StructArray.from_arrays(
        [pa.array(roles, pa.string()), pa.array(contents, pa.string())], fields=list(MESSAGES.value_type)
    )
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=MESSAGES)


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """A Parquet-ready table of export rows (columns in ``schema`` order)."""
    arrays = [
        _messages_array([r[f.name] for r in rows]) if f.type == MESSAGES else pa.array([r[f.name] for r in rows], f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_parquet(rows: Iterable[dict[str, Any]], path: str | Path, kind: Kind, *, batch_rows: int = 20_000) -> int:
    """Write rows as Parquet with nested ``list<struct<role, content>>`` message columns."""
    schema = SCHEMAS[kind]
    n = 0
    it = iter(rows)
    with pq.ParquetWriter(str(path), schema) as writer:
        while batch := list(islice(it, batch_rows)):
            writer.write_table(rows_to_table(batch, schema))
            n += len(batch)
        if n == 0:
            writer.write_table(schema.empty_table())
    return n


def export(
    store: Store, path: str | Path, *, kind: Kind = "dpo", fmt: Format = "jsonl", flt: VoteFilter | None = None
) -> int:
    """Export matching votes as ``kind`` rows to ``path`` in ``fmt``; return the row count.

    Example:
        >>> from playground.store.db import open_store
        >>> import tempfile, os
        >>> export(open_store("sqlite://"), os.path.join(tempfile.mkdtemp(), "dpo.jsonl"))
        0
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    rows = iter_rows(store, kind, flt)
    if fmt == "jsonl":
        return write_jsonl(rows, path)
    if fmt == "parquet":
        return write_parquet(rows, path, kind)
    raise ValueError(f"unknown format {fmt!r}; use 'jsonl' or 'parquet'")
