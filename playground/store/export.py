"""Stored votes -> DPO pairs (TRL conversational preference format) and arena battles.

``iter_rows`` streams the rows of one export kind (``dpo``, ``dpo-mixed-context``,
``battles``, and ``ai-dpo``: pairs an LLM judge labelled, kept apart from the human ones) for the
votes (or judgements) an ``ExportOptions`` selects, counting every left-out pair under its reason;
the writers stream rows to JSONL or Parquet in batches (one query, flat memory for 100,000 votes);
``export_dataset`` writes a file and its dataset card. See PROTOCOLS.md §6.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from playground.hermes.modes import editors
from playground.hermes.presets import Preset, load_presets
from playground.settings import ASSETS_DIR
from playground.store.card import ExportReport, dataset_card
from playground.store.db import Store, VotedTurn, VoteFilter, iter_votes_with_turns
from playground.store.judged import AI_COLUMNS, PairKey, ai_pairs, verdicts_by_pair
from playground.store.pairs import ToolRoles, as_dicts, dpo_candidates
from playground.store.quality import (
    ExportKind,
    ExportOptions,
    PromptDeduplicator,
    pair_drop_reason,
    vote_drop_reason,
)
from playground.store.votes import battles
from playground.types import Message, PaneOutput

Kind = ExportKind  # the name ui/data.py imports
Format = Literal["jsonl", "parquet"]

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
PROVENANCE = [
    ("source", pa.string()),
    *((e.field, pa.string()) for e in editors()),  # tools, json_schema: what each mode's editor held
    ("sampling", pa.string()),
    ("mode", pa.string()),
    ("vote", pa.string()),
    ("ranking", pa.string()),
    ("rank_margin", pa.int64()),
    *((f"{side}_{key}", pa.string())
      for side in ("chosen", "rejected") for key in ("model", "backend", "config", "system")),
    ("chosen_tokens", pa.int64()),
    ("rejected_tokens", pa.int64()),
    ("same_context", pa.bool_()),
    ("edited", pa.bool_()),
    ("chosen_original", pa.string()),
    ("blind", pa.bool_()),
    ("rater", pa.string()),
    ("timestamp", pa.string()),
    ("vote_created", pa.string()),
    ("turn_timestamp", pa.string()),
    ("turn_id", pa.string()),
    ("vote_id", pa.string()),
]
DPO_SCHEMA = pa.schema([("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES), *PROVENANCE])
AI_SCHEMA = pa.schema([*DPO_SCHEMA, *((name, pa.string()) for name in AI_COLUMNS[1:])])
VERDICTS = pa.list_(pa.struct([(name, pa.string()) for name in ("judge_backend", "judge_model", "prompt_version",
                                                                "verdict_ab", "verdict_ba", "final")]))
MIXED_SCHEMA = pa.schema(
    [("prompt_chosen", MESSAGES), ("prompt_rejected", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES),
     *PROVENANCE]
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
        ("judge_verdicts", VERDICTS),
    ]
)
SCHEMAS: dict[str, pa.Schema] = {"dpo": DPO_SCHEMA, "dpo-mixed-context": MIXED_SCHEMA, "battles": BATTLE_SCHEMA,
                                 "ai-dpo": AI_SCHEMA}
Verdicts = dict[PairKey, list[dict[str, Any]]]


@cache
def default_presets() -> tuple[Preset, ...]:
    """The system-prompt presets shipped in ``assets/presets`` (read once)."""
    return load_presets(ASSETS_DIR / "presets")


def _model(pane: PaneOutput) -> str:
    return pane.model_id or pane.backend_id


def project(row: dict[str, Any], kind: ExportKind) -> dict[str, Any]:
    """A candidate pair as a row of ``kind``: exactly the columns of its schema (``ai-dpo``: a human pair's judge
    columns are ``None``).

    Example:
        >>> sorted(set(project({n: None for n in DPO_SCHEMA.names + ["prompt_rejected"]}, "dpo-mixed-context"))
        ...        - set(DPO_SCHEMA.names))
        ['prompt_chosen', 'prompt_rejected']
    """
    if kind == "dpo-mixed-context":
        row = {**row, "prompt_chosen": row["prompt"]}
    elif kind == "ai-dpo":
        row = {**dict.fromkeys(AI_COLUMNS), **row}
    return {name: row[name] for name in SCHEMAS[kind].names}


def conversation(pane: PaneOutput, tool_role: str = "tool") -> list[dict[str, str]]:
    """The pane's whole conversation: context sent, its reply, then any in-turn tool loop."""
    return as_dicts([*pane.prompt_messages, Message("assistant", pane.output), *pane.followup], tool_role)


def battle_rows(item: VotedTurn, tool_roles: ToolRoles | None = None, verdicts: Verdicts | None = None
                ) -> list[dict[str, Any]]:
    """Arena battle records for one vote: one per pair of panes, ties included, each with the judges'
    ``verdicts`` on that pair (``judged.verdicts_by_pair``; none given: ``[]``).

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> from playground.types import Vote
        >>> turn = make_turn(seed=1)
        >>> [r["winner"] for r in battle_rows(VotedTurn(Vote(turn.id, "u", "bothbad", ranking=((0, 1),)), turn))]
        ['tie (bothbad)']
    """
    vote, turn = item
    roles = tool_roles or {}
    panes = {p.position: p for p in turn.panes}
    rows = []
    for pos_a, pos_b, winner in battles(vote.ranking or (), vote.kind):
        a, b = panes[pos_a], panes[pos_b]
        rows.append(
            {
                "model_a": _model(a),
                "model_b": _model(b),
                "winner": winner,
                "conversation_a": conversation(a, roles.get(a.backend_id, "tool")),
                "conversation_b": conversation(b, roles.get(b.backend_id, "tool")),
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
                "judge_verdicts": (verdicts or {}).get((turn.id, pos_a, pos_b), []),
            }
        )
    return rows


def as_options(selection: ExportOptions | VoteFilter | None) -> ExportOptions:
    """Export options from either; a ``VoteFilter`` (older callers) keeps its dates, modes, backends and blind flag.

    Example:
        >>> as_options(VoteFilter(blind_only=True)).blind_only
        True
    """
    if selection is None:
        return ExportOptions()
    if isinstance(selection, ExportOptions):
        return selection
    if selection.user_ids:
        raise ValueError("an export selects raters with ExportOptions.exclude_raters, not VoteFilter.user_ids")
    return ExportOptions(since=selection.since, until=selection.until, modes=tuple(selection.modes),
                         backends=tuple(selection.backends), blind_only=selection.blind_only)


def _tie_reason(winner: str) -> str:
    return "both_bad" if winner == "tie (bothbad)" else "tie"


def _kept_pairs(item: VotedTurn, options: ExportOptions, kind: ExportKind, counts: Counter[str],
                dedup: PromptDeduplicator | None, presets: Sequence[Preset], tool_roles: ToolRoles | None
                ) -> Iterator[dict[str, Any]]:
    vote, turn = item
    ranking = vote.ranking or ()
    for *_, winner in battles(ranking, vote.kind):
        if winner.startswith("tie"):
            counts[_tie_reason(winner)] += 1
    for c in dpo_candidates(vote, turn, presets, tool_roles):
        reason = pair_drop_reason(c, options, kind)
        if reason is None and dedup is not None and dedup.is_duplicate(vote.id, c["prompt"]):
            reason = "near_duplicate"
        if reason:
            counts[reason] += 1
        else:
            yield project(c, kind)


def _kept_battles(item: VotedTurn, options: ExportOptions, counts: Counter[str], tool_roles: ToolRoles | None,
                  verdicts: Verdicts | None) -> Iterator[dict[str, Any]]:
    for row in battle_rows(item, tool_roles, verdicts):
        if options.backends and not {row["backend_a"], row["backend_b"]} & set(options.backends):
            counts["backend"] += 1
        elif options.drop_ties and row["winner"].startswith("tie"):
            counts[_tie_reason(row["winner"])] += 1
        else:
            yield row


def _rows_of_vote(item: VotedTurn, kind: ExportKind, options: ExportOptions, counts: Counter[str],
                  dedup: PromptDeduplicator | None, presets: Sequence[Preset] | None, tool_roles: ToolRoles | None,
                  verdicts: Verdicts | None = None) -> Iterator[dict[str, Any]]:
    reason = vote_drop_reason(item.vote, options)
    if reason:
        n = len(item.turn.panes)
        counts[reason] += n * (n - 1) // 2  # every pair of panes of the vote
    elif kind == "battles":
        yield from _kept_battles(item, options, counts, tool_roles, verdicts)
    else:
        yield from _kept_pairs(item, options, kind, counts, dedup, default_presets() if presets is None else presets,
                               tool_roles)


def dpo_rows(
    item: VotedTurn,
    options: ExportOptions | None = None,
    *,
    kind: ExportKind = "dpo",
    presets: Sequence[Preset] | None = None,
    tool_roles: ToolRoles | None = None,
) -> list[dict[str, Any]]:
    """The DPO rows of ``kind`` one vote yields under ``options`` (every rule but the cross-vote de-duplication).

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> from playground.types import Vote
        >>> turn = make_turn(seed=1, system_prompts=(None, None))
        >>> row = dpo_rows(VotedTurn(Vote(turn.id, "u", "b", ranking=((1,), (0,))), turn))[0]
        >>> row["prompt"], row["chosen"][0]["role"], row["chosen_backend"]
        ([{'role': 'user', 'content': 'Question #1: explain DPO.'}], 'assistant', 'hermes-8b')
    """
    return list(_rows_of_vote(item, kind, options or ExportOptions(), Counter(), None, presets, tool_roles))


def iter_rows(
    store: Store,
    kind: ExportKind,
    options: ExportOptions | VoteFilter | None = None,
    *,
    counts: Counter[str] | None = None,
    presets: Sequence[Preset] | None = None,
    tool_roles: ToolRoles | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the rows of ``kind`` for the votes and pairs ``options`` keeps, oldest vote first.

    Args:
        store: the preference store.
        kind: ``dpo`` (same-context pairs by default), ``dpo-mixed-context``, ``battles`` (with the judges'
            verdicts per pair) or ``ai-dpo`` (the judges' consistent verdicts; human pairs only with
            ``options.with_human``).
        options: scope and quality controls (default: every vote, every same-context pair).
        counts: filled in as rows stream: ``votes`` and ``judgements`` read, and pairs left out per reason
            (``quality.DROP_REASONS``).
        presets: system-prompt presets naming configurations (default: ``assets/presets``).
        tool_roles: backend id -> the role its tool results were sent in (default ``tool``).
    """
    opts = as_options(options)
    counts = Counter() if counts is None else counts
    dedup = PromptDeduplicator(opts.dedup_threshold) if opts.dedup_threshold and kind != "battles" else None
    verdicts = verdicts_by_pair(store) if kind == "battles" else None
    if kind != "ai-dpo" or opts.with_human:
        for item in iter_votes_with_turns(store, opts.vote_filter()):
            counts["votes"] += 1
            yield from _rows_of_vote(item, kind, opts, counts, dedup, presets, tool_roles, verdicts)
    if kind == "ai-dpo":
        chosen = default_presets() if presets is None else presets
        yield from (project(c, kind) for c in ai_pairs(store, opts, counts, dedup, chosen, tool_roles))



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
        _messages_array([r[f.name] for r in rows]) if f.type == MESSAGES
        else pa.array([r[f.name] for r in rows], f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_parquet(rows: Iterable[dict[str, Any]], path: str | Path, kind: ExportKind, *,
                  batch_rows: int = 20_000) -> int:
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


def card_path(path: str | Path) -> Path:
    """Where an export's dataset card goes: beside it, ``dpo.jsonl`` -> ``dpo.README.md``.

    Example:
        >>> card_path("out/dpo.jsonl").as_posix()
        'out/dpo.README.md'
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.README.md")


def export_dataset(
    store: Store,
    path: str | Path,
    *,
    kind: ExportKind = "dpo",
    fmt: Format = "jsonl",
    options: ExportOptions | VoteFilter | None = None,
    presets: Sequence[Preset] | None = None,
    tool_roles: ToolRoles | None = None,
    card: bool = True,
) -> ExportReport:
    """Export ``kind`` rows to ``path`` in ``fmt`` and (with ``card``) its dataset card beside it.

    Returns:
        What was written: rows kept, votes read, pairs left out per reason, the card's path.

    Raises:
        ValueError: an unknown format.

    Example:
        >>> from playground.store.db import open_store
        >>> import tempfile, os
        >>> report = export_dataset(open_store("sqlite://"), os.path.join(tempfile.mkdtemp(), "dpo.jsonl"))
        >>> report.rows, report.card_path.name
        (0, 'dpo.README.md')
    """
    if fmt not in ("jsonl", "parquet"):
        raise ValueError(f"unknown format {fmt!r}; use 'jsonl' or 'parquet'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = as_options(options)
    counts: Counter[str] = Counter()
    rows = iter_rows(store, kind, opts, counts=counts, presets=presets, tool_roles=tool_roles)
    n = write_jsonl(rows, path) if fmt == "jsonl" else write_parquet(rows, path, kind)
    votes, judgements = counts.pop("votes", 0), counts.pop("judgements", 0)
    report = ExportReport(kind, fmt, opts, n, votes, dict(counts), judgements=judgements)
    if not card:
        return report
    written = card_path(path)
    written.write_text(dataset_card(path.name, {kind: report}, {kind: path.name}), encoding="utf-8")
    return replace(report, card_path=written)


def export(
    store: Store,
    path: str | Path,
    *,
    kind: ExportKind = "dpo",
    fmt: Format = "jsonl",
    flt: ExportOptions | VoteFilter | None = None,
) -> int:
    """``export_dataset`` (file and card) returning only the row count.

    Example:
        >>> from playground.store.db import open_store
        >>> import tempfile, os
        >>> export(open_store("sqlite://"), os.path.join(tempfile.mkdtemp(), "dpo.jsonl"))
        0
    """
    return export_dataset(store, path, kind=kind, fmt=fmt, options=flt).rows
