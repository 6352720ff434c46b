"""Opening the preference store: the engine, SQLite's durability pragmas, write transactions.

SQLite file by default, PostgreSQL when the URL says so (``postgresql+psycopg://…``, from
``DATABASE_URL``). Nothing here is global: ``open_store(url)`` returns a ``Store`` and every
store function takes it. Stores written by earlier versions are upgraded by
``playground.store.migrate.upgrade_store``, which the app runs after opening its store.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` (WAL + NORMAL may lose the
last transactions on power loss, which would drop acknowledged votes), and writes take the
write lock up front (``BEGIN IMMEDIATE``) so concurrent writers queue on ``busy_timeout``
instead of failing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from playground.store.schema import metadata

DEFAULT_URL = "sqlite:///data/playground.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000


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
        >>> store.dialect
        'sqlite'
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
def write_transaction(store: Store) -> Iterator[Connection]:
    """A connection in a write transaction, committed on exit (rolled back on an exception).

    Every store write goes through here: on SQLite it queues on the store's in-process lock and
    takes the write lock up front (``BEGIN IMMEDIATE``), so concurrent writers wait instead of failing.

    Example:
        >>> from playground.store.schema import turns
        >>> store = open_store("sqlite://")
        >>> with write_transaction(store) as conn:
        ...     conn.execute(sa.delete(turns)).rowcount
        0
    """
    with store.write_lock, store.engine.connect().execution_options(write=True) as conn, conn.begin():
        yield conn


def upsert_insert(store: Store, table: sa.Table) -> Any:
    """An ``INSERT`` on ``table`` in the store's dialect, so it takes ``on_conflict_do_nothing/_update``.

    Example:
        >>> from playground.store.schema import votes
        >>> stmt = upsert_insert(open_store("sqlite://"), votes).on_conflict_do_nothing()
        >>> stmt.table.name
        'votes'
    """
    return (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(table)
