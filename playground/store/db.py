"""Preference store queries: save and read turns, record and read votes, filter and stream them.

The one import for code outside ``store/``: besides the queries it re-exports what callers need
from ``engine`` (``Store``, ``open_store``, ``DEFAULT_URL``) and ``schema`` (the tables), so
``from playground.store.db import Store, open_store, save_turn`` works everywhere. The same
functions and the same tests run against SQLite and PostgreSQL.

Durability: a vote is acknowledged (``record_vote`` returns) only after its transaction
committed (see ``engine`` for SQLite's pragmas), and one vote per (turn, user) is enforced by
a unique constraint with an upsert, so a double submit or a changed mind never counts twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import groupby
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playground.store import records
from playground.store.engine import DEFAULT_URL, Store, open_store, upsert_insert, write_transaction
from playground.store.errors import InvalidTurnError, TurnNotFoundError
from playground.store.schema import metadata, turn_panes, turns, votes
from playground.store.votes import check_votable, vote_ranking, winner_position
from playground.types import Mode, TurnRecord, Vote

__all__ = [
    "DEFAULT_URL", "Store", "VoteFilter", "VotedTurn", "count_votes", "get_turn", "get_vote",
    "iter_votes_with_turns", "metadata", "open_store", "record_vote", "save_turn", "turn_panes", "turns",
    "vote_filter_clauses", "votes",
]


@dataclass(frozen=True)
class VoteFilter:
    """Which votes to read. Dates compare with the vote's last update, ``until`` exclusive.

    ``backends`` keeps votes on turns where at least one pane ran on one of them (export
    further keeps only the pairs with at least one side on them).
    """

    since: datetime | None = None
    until: datetime | None = None
    modes: Sequence[Mode] = ()
    backends: Sequence[str] = ()
    blind_only: bool = False
    user_ids: Sequence[str] = field(default=())


class VotedTurn(NamedTuple):
    """A vote together with the turn it judges."""

    vote: Vote
    turn: TurnRecord


def _now() -> datetime:
    return datetime.now(UTC)


def save_turn(store: Store, record: TurnRecord) -> str:
    """Store a finished turn with all its panes; return its id.

    Saving the same id twice is a no-op (a retried save never duplicates a turn).

    Raises:
        InvalidTurnError: no panes, or two panes with the same position.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> store = open_store("sqlite://")
        >>> turn_id = save_turn(store, make_turn(seed=1))
        >>> get_turn(store, turn_id).id == turn_id
        True
    """
    positions = [p.position for p in record.panes]
    if not positions or len(set(positions)) != len(positions):
        raise InvalidTurnError(f"pane positions {positions} must be non-empty and distinct")
    if record.pane_order and sorted(record.pane_order) != sorted(positions):
        raise InvalidTurnError(f"pane_order {record.pane_order} must be a permutation of {sorted(positions)}")
    record = replace(record, id=record.id or str(uuid.uuid4()), created_at=record.created_at or _now())
    with write_transaction(store) as conn:
        stmt = (upsert_insert(store, turns).values(records.turn_row(record))
                .on_conflict_do_nothing(index_elements=["id"]))
        if conn.execute(stmt.returning(turns.c.id)).first() is not None:  # new turn, not a retried save
            conn.execute(sa.insert(turn_panes), [records.pane_row(record.id, p) for p in record.panes])
    return record.id


def get_turn(store: Store, turn_id: str) -> TurnRecord:
    """Return the stored turn.

    Raises:
        TurnNotFoundError: no such turn.
    """
    with store.engine.connect() as conn:
        return _load_turn(conn, turn_id)


def _load_turn(conn: Connection, turn_id: str) -> TurnRecord:
    row = conn.execute(sa.select(turns).where(turns.c.id == turn_id)).mappings().first()
    if row is None:
        raise TurnNotFoundError(turn_id)
    pane_rows = conn.execute(
        sa.select(turn_panes).where(turn_panes.c.turn_id == turn_id).order_by(turn_panes.c.position)
    ).mappings()
    return records.turn_from_row(row, [records.pane_from_row(p) for p in pane_rows])


def record_vote(store: Store, vote: Vote) -> Vote:
    """Durably record ``vote``, replacing this user's earlier vote on the same turn.

    Returns only after the commit; the returned ``Vote`` is what the store holds (its
    ``id`` and ``created_at`` stay those of the user's first vote on the turn).

    Raises:
        TurnNotFoundError: the turn was never saved.
        VoteNotAllowedError: fewer than two panes, or a pane failed or was stopped.
        InvalidVoteError: the kind or ranking does not fit the turn, or a gold edit has no single winner.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> store = open_store("sqlite://")
        >>> turn_id = save_turn(store, make_turn(seed=1))
        >>> record_vote(store, Vote(turn_id, "alice", "a")).ranking
        ((0,), (1,))
    """
    now = _now()
    with write_transaction(store) as conn:
        turn = _load_turn(conn, vote.turn_id)
        check_votable(turn.id, turn.panes)
        ranking = vote_ranking(vote, [p.position for p in turn.panes])
        gold_original = None
        if vote.gold_text is not None:
            best = winner_position(ranking)
            gold_original = next(p.output for p in turn.panes if p.position == best)
        values = {
            "kind": vote.kind,
            "ranking": [list(g) for g in ranking],
            "blind": vote.blind,
            "gold_text": vote.gold_text,
            "gold_original": gold_original,
            "terms_version": vote.terms_version,
            "updated_at": now,
        }
        stmt = upsert_insert(store, votes).values(
            id=str(uuid.uuid4()), turn_id=vote.turn_id, user_id=vote.user_id, created_at=now, **values
        )
        stmt = stmt.on_conflict_do_update(index_elements=["turn_id", "user_id"], set_=values).returning(*votes.c)
        row = conn.execute(stmt).mappings().one()
    return records.vote_from_row(row)


def get_vote(store: Store, turn_id: str, user_id: str) -> Vote | None:
    """The user's current vote on the turn, if any."""
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(votes).where(votes.c.turn_id == turn_id, votes.c.user_id == user_id)
        ).mappings().first()
    return records.vote_from_row(row) if row else None


def vote_filter_clauses(flt: VoteFilter | None) -> list[sa.ColumnElement[bool]]:
    """``WHERE`` clauses for ``flt`` over ``votes`` joined with ``turns`` (none for ``None``).

    Example:
        >>> len(vote_filter_clauses(VoteFilter(modes=["chat"], blind_only=True)))
        2
    """
    if flt is None:
        return []
    clauses: list[sa.ColumnElement[bool]] = []
    if flt.since is not None:
        clauses.append(votes.c.updated_at >= flt.since)
    if flt.until is not None:
        clauses.append(votes.c.updated_at < flt.until)
    if flt.modes:
        clauses.append(turns.c.mode.in_(list(flt.modes)))
    if flt.blind_only:
        clauses.append(votes.c.blind.is_(True))
    if flt.user_ids:
        clauses.append(votes.c.user_id.in_(list(flt.user_ids)))
    if flt.backends:
        tp = turn_panes.alias("backend_filter")
        on_backend = sa.select(tp.c.turn_id).where(tp.c.turn_id == votes.c.turn_id,
                                                   tp.c.backend_id.in_(list(flt.backends)))
        clauses.append(sa.exists(on_backend))
    return clauses


def count_votes(store: Store, flt: VoteFilter | None = None) -> int:
    """Number of stored votes (one per turn and user) matching ``flt``."""
    stmt = sa.select(sa.func.count()).select_from(votes.join(turns, turns.c.id == votes.c.turn_id))
    with store.engine.connect() as conn:
        return int(conn.execute(stmt.where(*vote_filter_clauses(flt))).scalar_one())


_VT = [*votes.c, *(c.label(f"t_{c.name}") for c in turns.c)]
_PANE = [votes.c.id.label("vote_id"), *(c for c in turn_panes.c)]


def iter_votes_with_turns(
    store: Store, flt: VoteFilter | None = None, *, batch_size: int = 2000
) -> Iterator[VotedTurn]:
    """Stream every matching vote with its turn, oldest update first.

    Two ordered queries read in step inside one snapshot (votes with their turns; the
    panes of those votes), ``batch_size`` rows at a time (server-side cursors on
    PostgreSQL): no per-vote query, flat memory however many votes there are.
    """
    where = vote_filter_clauses(flt)
    order = (votes.c.updated_at, votes.c.id)
    vote_stmt = (
        sa.select(*_VT).select_from(votes.join(turns, turns.c.id == votes.c.turn_id)).where(*where).order_by(*order)
    )
    pane_stmt = (
        sa.select(*_PANE)
        .select_from(
            votes.join(turns, turns.c.id == votes.c.turn_id).join(turn_panes, turn_panes.c.turn_id == votes.c.turn_id)
        )
        .where(*where)
        .order_by(*order, turn_panes.c.position)
    )
    snapshot = {"isolation_level": "REPEATABLE READ"} if store.dialect == "postgresql" else {}
    with store.engine.connect().execution_options(yield_per=batch_size, **snapshot) as conn, conn.begin():
        pane_rows = groupby(conn.execute(pane_stmt).mappings(), key=lambda r: r["vote_id"])
        for row in conn.execute(vote_stmt).mappings():
            vote_id, group = next(pane_rows)
            if vote_id != row["id"]:  # cannot happen within one snapshot; refuse to mismatch silently
                raise RuntimeError(f"export streams out of step at vote {row['id']!r} / {vote_id!r}")
            panes = [records.pane_from_row(p) for p in group]
            turn = records.turn_from_row({c.name: row[f"t_{c.name}"] for c in turns.c}, panes)
            yield VotedTurn(records.vote_from_row(row), turn)
