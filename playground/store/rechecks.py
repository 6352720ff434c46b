"""Consistency checks: a past pair re-shown to the same rater with its panes swapped.

The answer is not a vote: it goes to its own ``rechecks`` table (created by
``migrate.upgrade_store`` on existing stores) and never enters exports or ratings.
A rater is *self-consistent* on a check when the swapped answer, mapped back to pane
positions, is the same judgement as the original vote (``tie`` and ``bothbad`` are
different judgements).

Example:
    >>> swap_kind("a"), swap_kind("tie")
    ('b', 'tie')
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from playground.store.engine import Store, write_transaction
from playground.store.errors import InvalidVoteError
from playground.store.schema import ID, JSON, UTCDateTime, metadata, turns, votes
from playground.store.votes import PAIR_VOTES

rechecks = sa.Table(
    "rechecks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("vote_id", ID, sa.ForeignKey("votes.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("turn_id", ID, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False, index=True),  # the rater's pseudonym
    sa.Column("shown_order", JSON, nullable=False),  # pane positions as shown, left to right
    sa.Column("original_kind", sa.String(8), nullable=False),  # the vote as it stood when re-shown
    sa.Column("answer", sa.String(8), nullable=False),  # the button pressed, in the swapped display
    sa.Column("answer_kind", sa.String(8), nullable=False),  # that answer mapped back to positions
    sa.Column("consistent", sa.Boolean, nullable=False),
    sa.Column("shown_at", UTCDateTime, nullable=False),
    sa.Column("answered_at", UTCDateTime, nullable=False),
)

_SWAP = {kind: pair.swapped for kind, pair in PAIR_VOTES.items()}
RECENT_VOTES = 200  # a check re-shows one of the rater's latest pair votes


@dataclass(frozen=True)
class PendingRecheck:
    """A check shown to a rater and not answered yet (kept server-side, in the session state)."""

    vote_id: str
    turn_id: str
    user_id: str
    original_kind: str
    shown_order: tuple[int, int]
    shown_at: datetime


def swap_kind(kind: str) -> str:
    """A two-pane answer given with the panes swapped, as the same judgement in the original order.

    Raises:
        InvalidVoteError: not a two-pane kind (``votes.PAIR_VOTES``).
    """
    try:
        return _SWAP[kind]
    except (KeyError, TypeError):
        raise InvalidVoteError(f"a consistency check takes one of {', '.join(_SWAP)}, got {kind!r}") from None


def pick_recheck(store: Store, user_id: str, *, exclude_turn: str | None, rng: random.Random) -> PendingRecheck | None:
    """One of the rater's recent two-pane votes to re-show swapped (not yet checked ones first), or ``None``."""
    checked = sa.select(rechecks.c.vote_id).where(rechecks.c.user_id == user_id)
    stmt = (
        sa.select(votes.c.id, votes.c.turn_id, votes.c.kind, checked.where(rechecks.c.vote_id == votes.c.id)
                  .exists().label("checked"))
        .select_from(votes.join(turns, turns.c.id == votes.c.turn_id))
        .where(votes.c.user_id == user_id, turns.c.n_panes == 2, votes.c.kind.in_(list(PAIR_VOTES)))
        .order_by(votes.c.updated_at.desc())
        .limit(RECENT_VOTES)
    )
    if exclude_turn:
        stmt = stmt.where(votes.c.turn_id != exclude_turn)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    fresh = [r for r in rows if not r.checked] or rows
    if not fresh:
        return None
    row = rng.choice(fresh)
    return PendingRecheck(row.id, row.turn_id, user_id, row.kind, (1, 0), datetime.now(UTC))


def record_recheck(store: Store, pending: PendingRecheck, answer: str) -> bool:
    """Store the rater's answer to a check; return whether it was consistent with their vote."""
    answer_kind = swap_kind(answer) if pending.shown_order == (1, 0) else answer
    consistent = answer_kind == pending.original_kind
    with write_transaction(store) as conn:
        conn.execute(sa.insert(rechecks).values(
            id=str(uuid.uuid4()), vote_id=pending.vote_id, turn_id=pending.turn_id, user_id=pending.user_id,
            shown_order=list(pending.shown_order), original_kind=pending.original_kind, answer=answer,
            answer_kind=answer_kind, consistent=consistent, shown_at=pending.shown_at,
            answered_at=datetime.now(UTC)))
    return consistent


def self_consistency(store: Store) -> pd.DataFrame:
    """Per rater: ``rechecks`` answered, ``consistent`` ones, and their share ``self_consistency``."""
    stmt = (sa.select(rechecks.c.user_id.label("rater"), sa.func.count().label("rechecks"),
                      sa.func.sum(sa.case((rechecks.c.consistent, 1), else_=0)).label("consistent"))
            .group_by(rechecks.c.user_id))
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=["rater", "rechecks", "consistent"])
    frame["self_consistency"] = frame["consistent"] / frame["rechecks"]
    return frame.set_index("rater")
