"""An LLM judge's verdicts on stored turns (Hermes as judge), kept beside the human votes.

One row per (turn, pair of pane positions, judge backend, prompt version). The pair is judged
in both orders (MT-Bench's position swap): ``verdict_ab`` with pane ``pos_a`` shown first,
``verdict_ba`` with ``pos_b`` first, each already mapped back to positions (``"a"`` means
``pos_a`` won, ``"b"`` means ``pos_b`` won, ``"tie"``). ``final`` counts only when both orders
agree; otherwise it is ``"inconsistent"``, and a judge that failed or gave unparseable output
is recorded as ``"error"`` — never a made-up verdict. Created by ``metadata.create_all`` on a
new store and by ``migrate.upgrade_store`` on an existing one.

Example:
    >>> final_verdict("a", "a"), final_verdict("a", "b"), final_verdict(None, "a")
    ('a', 'inconsistent', 'error')
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa

from playground.store.browse import turn_filter_clauses
from playground.store.db import VoteFilter
from playground.store.engine import Store, upsert_insert, write_transaction
from playground.store.schema import ID, UTCDateTime, metadata, turns, votes

Verdict = Literal["a", "b", "tie"]
Final = Literal["a", "b", "tie", "inconsistent", "error"]
VERDICTS = ("a", "b", "tie")

judgements = sa.Table(
    "judgements",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("turn_id", ID, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("pos_a", sa.Integer, nullable=False),
    sa.Column("pos_b", sa.Integer, nullable=False),
    sa.Column("judge_backend", sa.String(128), nullable=False),
    sa.Column("judge_model", sa.String(256), nullable=False),
    sa.Column("prompt_version", sa.String(128), nullable=False),  # preset name + short hash of its text
    sa.Column("kind", sa.String(16), nullable=False),  # pairwise | single | reference
    sa.Column("verdict_ab", sa.String(8)),  # pos_a shown first; None = failed or unparseable
    sa.Column("verdict_ba", sa.String(8)),  # pos_b shown first, mapped back to positions
    sa.Column("final", sa.String(16), nullable=False),
    sa.Column("raw_ab", sa.Text, nullable=False),
    sa.Column("raw_ba", sa.Text, nullable=False),
    sa.Column("rationale", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("latency_ab_s", sa.Float),
    sa.Column("latency_ba_s", sa.Float),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("turn_id", "pos_a", "pos_b", "judge_backend", "prompt_version", name="uq_judgement"),
)


@dataclass(frozen=True)
class Judgement:
    """One judged pair of one turn (see the module docstring for the fields' meaning)."""

    turn_id: str
    pos_a: int
    pos_b: int
    judge_backend: str
    judge_model: str
    prompt_version: str
    kind: str
    verdict_ab: Verdict | None
    verdict_ba: Verdict | None
    raw_ab: str
    raw_ba: str
    rationale: str | None = None
    error: str | None = None
    latency_ab_s: float | None = None
    latency_ba_s: float | None = None
    final: Final = field(default="error")
    id: str = ""
    created_at: datetime | None = None


def final_verdict(ab: Verdict | None, ba: Verdict | None) -> Final:
    """The swap rule: a verdict counts only when both orders agree."""
    if ab not in VERDICTS or ba not in VERDICTS:
        return "error"
    return ab if ab == ba else "inconsistent"  # type: ignore[return-value]


def save_judgement(store: Store, judgement: Judgement) -> Judgement:
    """Store a judgement (``final`` recomputed by the swap rule); judging the same pair again with the
    same judge and prompt version replaces the earlier row. Returns what the store holds.

    Example:
        >>> from playground.store.db import open_store, save_turn
        >>> from playground.store.synthetic import make_turn
        >>> store = open_store("sqlite://")
        >>> turn_id = save_turn(store, make_turn(seed=1))
        >>> saved = save_judgement(store, Judgement(turn_id, 0, 1, "big", "org/big", "pairwise@1234", "pairwise",
        ...                                          "a", "b", "A", "B"))
        >>> saved.final, [j.final for j in iter_judgements(store)]
        ('inconsistent', ['inconsistent'])
    """
    now = datetime.now(UTC)
    values = {**asdict(judgement), "final": final_verdict(judgement.verdict_ab, judgement.verdict_ba),
              "created_at": now}
    values["id"] = judgement.id or str(uuid.uuid4())
    keys = ["turn_id", "pos_a", "pos_b", "judge_backend", "prompt_version"]
    update = {k: v for k, v in values.items() if k not in ("id", *keys)}
    with write_transaction(store) as conn:
        stmt = upsert_insert(store, judgements).values(**values)
        row = conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update)
                           .returning(*judgements.c)).mappings().one()
    return Judgement(**dict(row))


def iter_judgements(store: Store, *, judge_backend: str | None = None,
                    prompt_version: str | None = None) -> Iterator[Judgement]:
    """Stored judgements, oldest first, optionally of one judge and prompt version."""
    query = sa.select(judgements).order_by(judgements.c.created_at)
    if judge_backend is not None:
        query = query.where(judgements.c.judge_backend == judge_backend)
    if prompt_version is not None:
        query = query.where(judgements.c.prompt_version == prompt_version)
    with store.engine.connect() as conn:
        for row in conn.execute(query).mappings():
            yield Judgement(**dict(row))


def judged_pairs(store: Store, judge_backend: str, prompt_version: str) -> set[tuple[str, int, int]]:
    """(turn id, pos_a, pos_b) already judged by this judge and prompt version, errors excluded
    (a batch resumes by skipping these and retrying the errors)."""
    query = sa.select(judgements.c.turn_id, judgements.c.pos_a, judgements.c.pos_b).where(
        judgements.c.judge_backend == judge_backend, judgements.c.prompt_version == prompt_version,
        judgements.c.final != "error")
    with store.engine.connect() as conn:
        return {(t, a, b) for t, a, b in conn.execute(query)}


def turns_to_judge(store: Store, flt: VoteFilter, *, voted_only: bool = True) -> list[str]:
    """Ids of the stored turns matching ``flt`` (read for turns, as the Data tab reads it), oldest first;
    with ``voted_only`` only turns somebody voted on."""
    where = turn_filter_clauses(flt) + ([votes.c.id.is_not(None)] if voted_only else [])
    query = (sa.select(turns.c.id, turns.c.created_at).distinct()
             .select_from(turns.outerjoin(votes, votes.c.turn_id == turns.c.id)).where(*where)
             .order_by(turns.c.created_at, turns.c.id))
    with store.engine.connect() as conn:
        return [row.id for row in conn.execute(query)]


def gold_references(store: Store, turn_ids: list[str]) -> dict[str, str]:
    """Turn id -> a rater's gold edit of the winning reply (the latest), for turns that have one."""
    query = (sa.select(votes.c.turn_id, votes.c.gold_text).where(votes.c.turn_id.in_(turn_ids),
                                                                 votes.c.gold_text.is_not(None))
             .order_by(votes.c.updated_at))
    with store.engine.connect() as conn:
        return {row.turn_id: row.gold_text for row in conn.execute(query)}
