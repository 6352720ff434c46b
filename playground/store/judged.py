"""Judgements joined with their turns: what the battles export, the AI-feedback DPO export
(``ai-dpo``) and the judge calibration read.

A judgement names its pair as ``(pos_a, pos_b)`` in the order the judge runner chose; battles and
votes name a pair lower position first. ``oriented`` turns a verdict into that order.

Example:
    >>> oriented("a", flipped=True), oriented("tie", flipped=True), oriented("inconsistent", flipped=True)
    ('b', 'tie', 'inconsistent')
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import sqlalchemy as sa

from playground.hermes.presets import Preset
from playground.store import records
from playground.store.engine import Store
from playground.store.judgements import Judgement, iter_judgements, judgements
from playground.store.pairs import ToolRoles, dpo_candidates
from playground.store.quality import (
    ExportOptions,
    PromptDeduplicator,
    judgement_drop_reason,
    judgement_in_scope,
    pair_drop_reason,
)
from playground.store.schema import turn_panes, turns
from playground.types import TurnRecord, Vote

PairKey = tuple[str, int, int]  # turn id, lower position, higher position
AI_SOURCE = "ai-judge"
AI_COLUMNS = ("source", "judge_backend", "judge_model", "prompt_version", "judge_rationale")


def oriented(verdict: str | None, *, flipped: bool) -> str | None:
    """A verdict with ``a`` and ``b`` swapped when ``flipped`` (other values unchanged)."""
    return {"a": "b", "b": "a"}.get(verdict or "", verdict) if flipped else verdict


def pair_key(j: Judgement) -> tuple[PairKey, bool]:
    """The judged pair lower position first, and whether that flips the judgement's own order.

    Example:
        >>> from playground.store.judgements import Judgement
        >>> pair_key(Judgement("t", 2, 0, "j", "m", "p", "pairwise", "a", "a", "", ""))
        (('t', 0, 2), True)
    """
    flipped = j.pos_a > j.pos_b
    return (j.turn_id, min(j.pos_a, j.pos_b), max(j.pos_a, j.pos_b)), flipped


def turns_by_id(store: Store, turn_ids: Sequence[str]) -> dict[str, TurnRecord]:
    """The stored turns with these ids (two queries; missing ids are left out)."""
    if not turn_ids:
        return {}
    ids = list(dict.fromkeys(turn_ids))
    panes = defaultdict(list)
    with store.engine.connect() as conn:
        for row in conn.execute(sa.select(turn_panes).where(turn_panes.c.turn_id.in_(ids))
                                .order_by(turn_panes.c.turn_id, turn_panes.c.position)).mappings():
            panes[row["turn_id"]].append(records.pane_from_row(row))
        rows = conn.execute(sa.select(turns).where(turns.c.id.in_(ids))).mappings().all()
    return {row["id"]: records.turn_from_row(row, panes[row["id"]]) for row in rows}


def iter_judged_turns(store: Store, *, judge_backend: str | None = None, prompt_version: str | None = None,
                      chunk: int = 500) -> Iterator[tuple[Judgement, TurnRecord]]:
    """Every stored judgement (optionally of one judge and prompt version) with its turn, oldest first;
    turns are read ``chunk`` judgements at a time."""
    it = iter_judgements(store, judge_backend=judge_backend, prompt_version=prompt_version)
    while batch := list(islice(it, chunk)):
        found = turns_by_id(store, [j.turn_id for j in batch])
        for j in batch:
            if j.turn_id in found:
                yield j, found[j.turn_id]


def pair_judgement(store: Store, turn_id: str, positions: tuple[int, int], judge_backend: str,
                   prompt_version: str) -> Judgement | None:
    """This judge's judgement of one pair of a turn (either order of the two positions), if any."""
    c = judgements.c
    query = sa.select(judgements).where(c.turn_id == turn_id, c.judge_backend == judge_backend,
                                        c.prompt_version == prompt_version,
                                        sa.tuple_(c.pos_a, c.pos_b).in_([positions, positions[::-1]]))
    with store.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return Judgement(**dict(row)) if row else None


def verdicts_by_pair(store: Store) -> dict[PairKey, list[dict[str, Any]]]:
    """Every judge's verdicts per pair, oriented lower position first (``a`` = the battle's ``model_a``)."""
    out: dict[PairKey, list[dict[str, Any]]] = defaultdict(list)
    for j in iter_judgements(store):
        key, flipped = pair_key(j)
        out[key].append({
            "judge_backend": j.judge_backend, "judge_model": j.judge_model, "prompt_version": j.prompt_version,
            "verdict_ab": oriented(j.verdict_ab, flipped=flipped),
            "verdict_ba": oriented(j.verdict_ba, flipped=flipped),
            "final": oriented(j.final, flipped=flipped),
        })
    return dict(out)


def ai_candidates(j: Judgement, turn: TurnRecord, presets: Sequence[Preset] = (),
                  tool_roles: ToolRoles | None = None) -> list[dict[str, Any]]:
    """The DPO candidate of a consistent decisive verdict (``final`` ``a`` or ``b``), built exactly as a
    human vote's (``pairs.dpo_candidates``) and marked ``source = "ai-judge"`` with the judge's provenance;
    ``[]`` for a tie, an inconsistent verdict or an error.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> turn = make_turn(seed=1)
        >>> j = Judgement(turn.id, 0, 1, "big", "org/big", "pairwise@1", "pairwise", "b", "b", "", "", final="b")
        >>> row = ai_candidates(j, turn)[0]
        >>> row["source"], row["chosen_backend"], row["rater"]
        ('ai-judge', 'hermes-8b', 'judge:big')
    """
    if j.final not in ("a", "b"):
        return []
    winner, loser = (j.pos_a, j.pos_b) if j.final == "a" else (j.pos_b, j.pos_a)
    vote = Vote(turn.id, f"judge:{j.judge_backend}", "ranking", ranking=((winner,), (loser,)), blind=turn.blind,
                id=j.id, created_at=j.created_at, updated_at=j.created_at)
    rows = dpo_candidates(vote, turn, presets, tool_roles)
    marks = {"source": AI_SOURCE, "vote": AI_SOURCE, "judge_backend": j.judge_backend, "judge_model": j.judge_model,
             "prompt_version": j.prompt_version, "judge_rationale": j.rationale}
    return [{**row, **marks} for row in rows]


def ai_pairs(store: Store, options: ExportOptions, counts: Counter[str], dedup: PromptDeduplicator | None = None,
             presets: Sequence[Preset] = (), tool_roles: ToolRoles | None = None) -> Iterator[dict[str, Any]]:
    """The ``ai-dpo`` candidates of the judgements ``options`` selects that pass its quality controls, oldest
    judgement first; ``counts`` gets ``judgements`` read and each left-out judgement or pair under its reason."""
    for j, turn in iter_judged_turns(store, judge_backend=options.judge, prompt_version=options.prompt_version):
        if not judgement_in_scope(j, turn, options):
            continue
        counts["judgements"] += 1
        reason = judgement_drop_reason(j, turn, options)
        if reason:
            counts[reason] += 1
            continue
        for c in ai_candidates(j, turn, presets, tool_roles):
            reason = pair_drop_reason(c, options, "ai-dpo")
            if reason is None and dedup is not None and dedup.is_duplicate(f"turn:{turn.id}", c["prompt"]):
                # a turn's own pairs share its prompt: one owner, never each other's duplicate
                reason = "near_duplicate"
            if reason:
                counts[reason] += 1
            else:
                yield c
