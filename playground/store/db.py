"""Preference store: SQLAlchemy Core schema and repository functions.

SQLite file by default, PostgreSQL when the URL says so (``postgresql+psycopg://…``);
the same functions and the same tests run against both. Nothing here is global:
``open_store(url)`` returns a ``Store`` and every function takes it.

Durability: a vote is acknowledged (``record_vote`` returns) only after its transaction
committed. SQLite runs in WAL mode with ``synchronous=FULL`` (WAL + NORMAL may lose the
last transactions on power loss, which would drop acknowledged votes), writes take the
write lock up front (``BEGIN IMMEDIATE``) so concurrent writers queue on ``busy_timeout``
instead of failing, and one vote per (turn, user) is enforced by a unique constraint with
an upsert, so a double submit or a changed mind never counts twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from playground.store import records
from playground.store.errors import InvalidTurnError, TurnNotFoundError
from playground.store.votes import check_votable, vote_ranking, winner_position
from playground.types import Mode, TurnRecord, Vote

DEFAULT_URL = "sqlite:///data/playground.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite stores them naive, in UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(36)

metadata = sa.MetaData()

turns = sa.Table(
    "turns",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", sa.String(128), nullable=False, index=True),  # the voter's pseudonym
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("messages", JSON, nullable=False),  # shared context typed by the user
    sa.Column("tools", JSON),  # tool schemas (tools mode)
    sa.Column("json_schema", JSON),  # JSON mode schema
    sa.Column("sampling", JSON, nullable=False),
    sa.Column("blind", sa.Boolean, nullable=False),
    sa.Column("pane_order", JSON, nullable=False),  # positions in display order
    sa.Column("n_panes", sa.Integer, nullable=False),
)

turn_panes = sa.Table(
    "turn_panes",
    metadata,
    sa.Column("turn_id", ID, sa.ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("backend_id", sa.String(128), nullable=False, index=True),
    sa.Column("model_id", sa.String(256), nullable=False),
    sa.Column("label", sa.String(256), nullable=False),
    sa.Column("system_prompt", sa.Text),  # NULL = no system turn, "" = empty system turn
    sa.Column("prompt_messages", JSON, nullable=False),  # full context sent, system first
    sa.Column("output", sa.Text, nullable=False),  # raw assistant reply
    sa.Column("followup", JSON, nullable=False),  # rest of an in-turn tool loop
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("ttft_s", sa.Float),
    sa.Column("total_s", sa.Float),
    sa.Column("tokens", sa.Integer),
    sa.Column("tokens_per_s", sa.Float),
    sa.Column("finish_reason", sa.String(32)),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("turn_id", ID, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # a | b | tie | bothbad | ranking
    sa.Column("ranking", JSON, nullable=False),  # canonical groups of positions, best first
    sa.Column("blind", sa.Boolean, nullable=False),
    sa.Column("gold_text", sa.Text),  # edited winning reply
    sa.Column("gold_original", sa.Text),  # the reply as the model wrote it
    sa.Column("terms_version", sa.String(64)),  # the consent notice accepted (public deployments)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
    sa.UniqueConstraint("turn_id", "user_id", name="uq_votes_turn_user"),
)


@dataclass(frozen=True)
class Store:
    """An open preference store: an engine, and for SQLite a lock that queues this process's writers.

    SQLite admits one writer at a time; waiting on an in-process lock is fair and prompt,
    where SQLite's own busy handler polls with growing sleeps (seconds at the tail under
    50 concurrent voters). Other processes still queue on ``busy_timeout``.
    """

    engine: Engine
    write_lock: AbstractContextManager[Any] = field(default_factory=nullcontext, compare=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


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


def open_store(url: str = DEFAULT_URL, *, create: bool = True, pool_size: int = 5, echo: bool = False) -> Store:
    """Open (and by default create) the store at ``url``.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///data/playground.db`` or
            ``postgresql+psycopg://user:pw@host/db`` (from ``DATABASE_URL``).
        create: create missing tables.
        pool_size: connections kept per process.
        echo: log SQL.

    Returns:
        A ``Store``; call ``store.close()`` when done.

    Example:
        >>> store = open_store("sqlite://")  # in memory
        >>> count_votes(store)
        0
    """
    sa_url = sa.make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        in_memory = not sa_url.database or sa_url.database == ":memory:"
        if not in_memory:
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        pool = {} if in_memory else {"pool_size": pool_size, "max_overflow": pool_size * 2}
        engine = sa.create_engine(sa_url, echo=echo, **pool, **_JSON_CODEC)
        _configure_sqlite(engine)
        if create:
            metadata.create_all(engine)
        return Store(engine, threading.Lock())
    engine = sa.create_engine(
        sa_url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True, **_JSON_CODEC
    )
    if create:
        metadata.create_all(engine)
    return Store(engine)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


_JSON_CODEC = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


@contextmanager
def _write(store: Store) -> Iterator[Connection]:
    """A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on exit."""
    with store.write_lock, store.engine.connect().execution_options(write=True) as conn, conn.begin():
        yield conn


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _insert(store: Store, table: sa.Table) -> Any:
    return (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(table)


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
    with _write(store) as conn:
        stmt = _insert(store, turns).values(records.turn_row(record)).on_conflict_do_nothing(index_elements=["id"])
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
    with _write(store) as conn:
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
        stmt = _insert(store, votes).values(
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


def _where(flt: VoteFilter | None) -> list[sa.ColumnElement[bool]]:
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
        on_backend = sa.select(tp.c.turn_id).where(tp.c.turn_id == votes.c.turn_id, tp.c.backend_id.in_(list(flt.backends)))
        clauses.append(sa.exists(on_backend))
    return clauses


def count_votes(store: Store, flt: VoteFilter | None = None) -> int:
    """Number of stored votes (one per turn and user) matching ``flt``."""
    stmt = sa.select(sa.func.count()).select_from(votes.join(turns, turns.c.id == votes.c.turn_id))
    with store.engine.connect() as conn:
        return int(conn.execute(stmt.where(*_where(flt))).scalar_one())


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
    where = _where(flt)
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
