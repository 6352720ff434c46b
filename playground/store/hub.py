"""Publishing preference data to a Hugging Face dataset repo.

Two ways: ``push_to_hub`` uploads a snapshot (Parquet per config plus the export's dataset
card, whose YAML declares the ``dpo``, ``dpo-mixed-context`` and ``battles`` configs and states
the filters and counts) in one commit; ``HubVoteLog`` appends
every vote as JSONL lines to a folder that ``huggingface_hub.CommitScheduler`` pushes
every few minutes (for a Space, where the local disk does not survive a restart), together
with every stored turn and vote as the store's own rows, from which ``restore`` rebuilds
the store on start.
The network client is always injectable (``api=`` / ``hf_api=``), so tests check exactly
the files that would be sent without any network.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from huggingface_hub import CommitOperationAdd, CommitScheduler, HfApi

from playground.store.card import dataset_card
from playground.store.db import Store, VotedTurn, VoteFilter
from playground.store.export import battle_rows, dpo_rows, export_dataset
from playground.store.pairs import ToolRoles
from playground.store.quality import ExportOptions
from playground.store.restore import RECORD_FILES, dumps, turn_line, vote_line
from playground.types import TurnRecord

log = logging.getLogger(__name__)

CONFIG_FILES = {"dpo": "data/dpo.parquet", "dpo-mixed-context": "data/dpo-mixed-context.parquet",
                "battles": "data/battles.parquet"}
LOG_FILES = {"dpo": "log/dpo-*.jsonl", "battles": "log/battles-*.jsonl"}
RECORDS_NOTE = """
`log/turns-*.jsonl` and `log/votes-*.jsonl` hold every stored turn and vote as the playground's
store keeps them (a vote again on each change): the app restores its store from them on start.
"""


def build_hub_folder(
    store: Store,
    folder: str | Path,
    repo_id: str,
    flt: ExportOptions | VoteFilter | None = None,
    tool_roles: ToolRoles | None = None,
) -> dict[str, Path]:
    """Write ``README.md`` (the export card, with counts per config) and one Parquet file per config; return
    them by repo path."""
    folder = Path(folder)
    reports = {kind: export_dataset(store, folder / path, kind=kind, fmt="parquet", options=flt, tool_roles=tool_roles,
                                    card=False) for kind, path in CONFIG_FILES.items()}
    (folder / "README.md").write_text(dataset_card(repo_id, reports, CONFIG_FILES), encoding="utf-8")
    return {"README.md": folder / "README.md", **{path: folder / path for path in CONFIG_FILES.values()}}


def push_to_hub(
    store: Store,
    repo_id: str,
    token: str | None,
    *,
    flt: ExportOptions | VoteFilter | None = None,
    tool_roles: ToolRoles | None = None,
    private: bool = True,
    api: Any = None,
    commit_message: str = "Update preference data",
) -> Any:
    """Upload a snapshot of the store (Parquet + card) to a dataset repo in one commit.

    Args:
        store: the preference store.
        repo_id: ``"user/name"`` of the dataset repo (created if missing).
        token: a write token (never read from the user's login implicitly).
        flt: which votes and pairs to publish (the export options, or a plain vote filter).
        tool_roles: backend id -> the role its tool results were sent in (default ``tool``).
        private: visibility when the repo is created.
        api: an ``HfApi``-like object (``create_repo``, ``create_commit``); default ``HfApi(token=token)``.
        commit_message: the commit's title.

    Returns:
        What ``api.create_commit`` returns (a ``CommitInfo`` for the real client).

    Raises:
        huggingface_hub.errors.HfHubHTTPError: the Hub refused the upload.
    """
    api = api or HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="hub-export-") as tmp:
        files = build_hub_folder(store, tmp, repo_id, flt, tool_roles)
        api.create_repo(repo_id=repo_id, repo_type="dataset", private=private, exist_ok=True, token=token)
        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(local)) for p, local in files.items()]
        return api.create_commit(
            repo_id=repo_id, repo_type="dataset", operations=operations, commit_message=commit_message, token=token
        )


class HubVoteLog:
    """Append-only JSONL log of turns and votes for a dataset repo, pushed by a ``CommitScheduler``.

    Each process writes its own ``log/{kind}-{uuid}.jsonl`` files (no two replicas ever write
    the same file): ``turns`` and ``votes`` (the store's rows, for ``restore``), ``dpo`` and
    ``battles`` (ready to train on). A changed mind appends the new vote again: consumers
    keep the last line per ``vote_id`` / ``id`` (``tstamp`` / ``updated_at`` increase). The
    scheduler (which creates the repo over the network) is only built on the first append.
    """

    def __init__(self, folder: Path, make_scheduler: Callable[[], Any], repo_id: str = "") -> None:
        self.folder = folder
        self.repo_id = repo_id
        self._make_scheduler = make_scheduler
        self._scheduler: Any = None
        self._init_lock = threading.Lock()
        suffix = uuid.uuid4().hex
        patterns = {**RECORD_FILES, **LOG_FILES}
        self.files = {kind: folder / pattern.replace("*", suffix) for kind, pattern in patterns.items()}

    @property
    def scheduler(self) -> Any:
        """The ``CommitScheduler`` (built on first use)."""
        with self._init_lock:
            if self._scheduler is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                card = self.folder / "README.md"
                if not card.exists():
                    card.write_text(dataset_card(self.repo_id, dict.fromkeys(LOG_FILES), LOG_FILES, note=RECORDS_NOTE),
                                    encoding="utf-8")
                self._scheduler = self._make_scheduler()
            return self._scheduler

    def append(self, item: VotedTurn) -> None:
        """Append a stored vote: its row, its DPO pairs and its battles. Never raises (see ``_write``)."""
        rows = {"votes": [vote_line(item.vote)], "dpo": dpo_rows(item), "battles": battle_rows(item)}
        self._write(rows, f"vote {item.vote.id}")

    def append_turn(self, turn: TurnRecord) -> None:
        """Append a stored turn (voted or not, failed or stopped panes included). Never raises."""
        self._write({"turns": [turn_line(turn)]}, f"turn {turn.id}")

    def _write(self, rows: dict[str, list[dict[str, Any]]], what: str) -> None:
        """Append rows per kind under the scheduler's lock, so no half line is ever pushed.

        When the Hub cannot be reached the rows still go to disk: the scheduler pushes every
        file of the folder once it starts. Nothing is raised (the store already holds the
        record); a disk failure is logged.
        """
        lines = {kind: b"".join(dumps(r) for r in kind_rows) for kind, kind_rows in rows.items() if kind_rows}
        try:
            lock = self.scheduler.lock
        except Exception as exc:  # noqa: BLE001 — the Hub may be down; keep the rows for the first push
            log.warning("Hub log for %s not started (%s): %s kept on disk", self.repo_id, type(exc).__name__, what)
            lock = self._init_lock
        try:
            with lock:
                for kind, data in lines.items():
                    self.files[kind].parent.mkdir(parents=True, exist_ok=True)
                    with self.files[kind].open("ab") as f:
                        f.write(data)
        except OSError as exc:
            log.warning("could not append %s to the Hub log: %s", what, type(exc).__name__)

    def start(self) -> bool:
        """Build the scheduler now (creating the repo if needed); ``False`` (logged) when the Hub refused.

        A failed start is retried by the next ``append``.
        """
        try:
            _ = self.scheduler  # the property builds it
        except Exception as exc:  # noqa: BLE001 — the store keeps every vote; the Hub copy can start later
            log.warning("Hub vote log for %s did not start: %s", self.repo_id, type(exc).__name__)
            return False
        return True

    def stop(self) -> None:
        """Stop the scheduler if it was started (a final push still happens at exit)."""
        if self._scheduler is not None:
            self._scheduler.stop()


def make_commit_scheduler(
    repo_id: str,
    token: str | None,
    folder: str | Path,
    *,
    every_minutes: float = 5,
    private: bool = True,
    hf_api: Any = None,
) -> HubVoteLog:
    """A ``HubVoteLog`` whose files a ``CommitScheduler`` pushes to ``repo_id`` every few minutes.

    Nothing touches the network until the first vote is appended.

    Example:
        >>> log = make_commit_scheduler("me/votes", None, tempfile.mkdtemp())
        >>> log.files["dpo"].name.startswith("dpo-")
        True
    """
    folder = Path(folder)

    def build() -> CommitScheduler:
        return CommitScheduler(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=folder,
            every=every_minutes,
            private=private,
            token=token,
            allow_patterns=["log/*.jsonl", "README.md"],
            hf_api=hf_api,
        )

    return HubVoteLog(folder, build, repo_id)


def log_folder(database_url: str) -> Path:
    """The Hub log's local outbox: beside a SQLite store file (its directory is writable), else ``data/hub-log``.

    Example:
        >>> log_folder("sqlite:////home/user/data/playground.db").as_posix()
        '/home/user/data/hub-log'
    """
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).parent / "hub-log"
    return Path("data/hub-log")


def open_space_vote_log(
    space_id: str | None, repo_id: str | None, token_env: str, folder: str | Path = "data/hub-log", *,
    hf_api: Any = None,
) -> HubVoteLog | None:
    """On a Space with a dataset repo configured, a ``HubVoteLog`` whose scheduler starts in the background.

    Returns ``None`` elsewhere (a local app keeps its store on disk and pushes snapshots
    from the Data tab). The token is read here, server-side, from ``$token_env``.
    """
    if not space_id or not repo_id:
        return None
    vote_log = make_commit_scheduler(repo_id, os.environ.get(token_env) or None, folder, hf_api=hf_api)
    threading.Thread(target=vote_log.start, name="hub-vote-log", daemon=True).start()
    return vote_log
