"""The store's records as Hub log lines, and the store restored from those lines on start.

A Space's disk does not survive a restart, so ``hub.HubVoteLog`` appends every stored turn
(``log/turns-*.jsonl``, voted or not, failed ones too) and every stored vote
(``log/votes-*.jsonl``, each change of mind and gold edit again) to a dataset repo.
``restore_space_store`` downloads those files and ``replay`` writes them back
idempotently: a turn already stored is skipped, and a vote replaces the stored vote of
the same turn and user only when it is newer, as ``record_vote`` does. Lines are the
store's own rows (``records.turn_row`` / ``pane_row`` and the ``Vote`` fields), so every
field the store keeps round-trips.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from huggingface_hub import snapshot_download
from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

from playground.store import records, schema
from playground.store.db import Store, save_turn
from playground.store.engine import upsert_insert, write_transaction
from playground.types import TurnRecord, Vote

log = logging.getLogger(__name__)

RECORD_FILES = {"turns": "log/turns-*.jsonl", "votes": "log/votes-*.jsonl"}


def turn_line(turn: TurnRecord) -> dict[str, Any]:
    """A stored turn as one JSON-ready log row: its ``turns`` row plus ``panes`` (its ``turn_panes`` rows).

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> row = turn_line(make_turn(seed=1))
        >>> row["mode"], len(row["panes"])
        ('chat', 2)
    """
    return {**records.turn_row(turn), "panes": [records.pane_row(turn.id, p) for p in turn.panes]}


def vote_line(vote: Vote) -> dict[str, Any]:
    """A stored vote as one JSON-ready log row (its fields are the ``votes`` columns)."""
    return asdict(vote)


def dumps(row: Mapping[str, Any]) -> bytes:
    """One log line (datetimes as ISO 8601 with their UTC offset), newline included."""
    return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)


def _decode(row: Mapping[str, Any], table: sa.Table) -> dict[str, Any]:
    """A parsed log row with the table's datetime columns read back from ISO strings."""
    out = dict(row)
    for column in table.c:
        if isinstance(column.type, schema.UTCDateTime) and isinstance(out.get(column.name), str):
            out[column.name] = datetime.fromisoformat(out[column.name])
    return out


def turn_from_line(data: Mapping[str, Any]) -> TurnRecord:
    """Inverse of ``turn_line``.

    Raises:
        KeyError: a field the store needs is missing.
    """
    panes = [records.pane_from_row(_decode(p, schema.turn_panes)) for p in data["panes"]]
    return records.turn_from_row(_decode(data, schema.turns), panes)


def vote_from_line(data: Mapping[str, Any]) -> Vote:
    """Inverse of ``vote_line``.

    Raises:
        KeyError: a field the store needs is missing.
    """
    return records.vote_from_row(_decode(data, schema.votes))


def restore_vote(store: Store, vote: Vote) -> bool:
    """Store a logged vote unless the store holds a newer one for its turn and user; ``True`` when written.

    Like ``record_vote``, the first vote's ``id`` and ``created_at`` stay; unlike it, nothing is
    re-checked or re-timed: the vote was checked when it was first stored.

    Raises:
        sqlalchemy.exc.IntegrityError: its turn is not in the store.
    """
    values = {c.name: getattr(vote, c.name) for c in schema.votes.c}
    stmt = upsert_insert(store, schema.votes).values(values)
    newer = {k: stmt.excluded[k] for k in values if k not in ("id", "turn_id", "user_id", "created_at")}
    stmt = stmt.on_conflict_do_update(index_elements=["turn_id", "user_id"], set_=newer,
                                      where=schema.votes.c.updated_at < stmt.excluded.updated_at)
    with write_transaction(store) as conn:
        return conn.execute(stmt.returning(schema.votes.c.id)).first() is not None


@dataclass(frozen=True)
class Restored:
    """What a replay added (turns, and votes on a turn and user the store had no vote for) and lines it skipped."""

    turns: int = 0
    votes: int = 0
    skipped: int = 0


def _lines(paths: Iterable[Path]) -> Iterable[tuple[str, dict[str, Any] | None]]:
    """``(where, row)`` per non-empty line; ``row`` is ``None`` when the line is not a JSON object."""
    for path in paths:
        with path.open("rb") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        row = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        row = None
                    yield f"{path.name}:{n}", row if isinstance(row, dict) else None


def _count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def replay(store: Store, turn_files: Iterable[Path], vote_files: Iterable[Path]) -> Restored:
    """Write logged turns, then logged votes, into ``store``; unreadable lines are logged and skipped.

    Idempotent: replaying the same files again adds nothing.
    """
    skipped = 0
    before = _count(store, schema.turns), _count(store, schema.votes)
    for where, row in _lines(turn_files):
        try:
            save_turn(store, turn_from_line(row or {}))
        except (KeyError, TypeError, ValueError, sa.exc.SQLAlchemyError) as exc:
            log.warning("skipped turn at %s: %s: %s", where, type(exc).__name__, exc)
            skipped += 1
    for where, row in _lines(vote_files):
        try:
            restore_vote(store, vote_from_line(row or {}))
        except (KeyError, TypeError, ValueError, sa.exc.SQLAlchemyError) as exc:
            log.warning("skipped vote at %s: %s", where, type(exc).__name__)
            skipped += 1
    return Restored(_count(store, schema.turns) - before[0], _count(store, schema.votes) - before[1], skipped)


def download_log(repo_id: str, token: str | None, folder: Path) -> tuple[list[Path], list[Path]]:
    """Download the turn and vote log files of dataset ``repo_id`` into ``folder``; return (turns, votes).

    Raises:
        huggingface_hub.errors.HfHubHTTPError: the Hub refused (``RepositoryNotFoundError`` when no log yet).
    """
    snapshot_download(repo_id=repo_id, repo_type="dataset", token=token, local_dir=folder,
                      allow_patterns=list(RECORD_FILES.values()))
    return sorted(folder.glob(RECORD_FILES["turns"])), sorted(folder.glob(RECORD_FILES["votes"]))


def restore_space_store(store: Store, space_id: str | None, repo_id: str | None, token_env: str) -> Restored | None:
    """On a Space with a dataset repo configured, fill ``store`` from the repo's log before serving.

    Returns what was added, or ``None`` when not on a Space, or (logged) when the Hub could not be
    read: the app then starts with what it has, and the log keeps everything for the next start.
    The token is read here, server-side, from ``$token_env``.
    """
    if not space_id or not repo_id:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="hub-restore-") as tmp:
            restored = replay(store, *download_log(repo_id, os.environ.get(token_env) or None, Path(tmp)))
    except (RepositoryNotFoundError, RevisionNotFoundError):
        log.info("no Hub log in %s yet: nothing to restore", repo_id)
        return Restored()
    except Exception as exc:  # noqa: BLE001 — serve anyway; nothing logged is lost, the next start retries
        log.warning("could not restore the store from %s: %s", repo_id, type(exc).__name__)
        return None
    log.info("restored %d turns and %d votes from %s (%d lines skipped)", restored.turns, restored.votes,
             repo_id, restored.skipped)
    return restored
