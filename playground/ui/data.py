"""The Data tab: filter the collected votes, download DPO pairs or battles, push to a Hub dataset.

The Hub token is read on the server from the variable named by ``settings.hub_token_env``
when a push is made; it is never a widget value, never returned, never logged.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from playground.settings import Settings
from playground.store.db import Store, VoteFilter, count_votes
from playground.store.export import Format, Kind, export
from playground.store.filters import vote_filter
from playground.store.hub import push_to_hub

EXPORTS: dict[str, tuple[Kind, Format, str]] = {
    "dpo-jsonl": ("dpo", "jsonl", "DPO pairs (JSONL)"),
    "dpo-parquet": ("dpo", "parquet", "DPO pairs (Parquet)"),
    "battles-jsonl": ("battles", "jsonl", "Battles (JSONL)"),
    "battles-parquet": ("battles", "parquet", "Battles (Parquet)"),
}
KEEP_EXPORTS_S = 3600.0


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` masked.

    Example:
        >>> redact("bad token hf_abc", "hf_abc")
        'bad token ***'
    """
    return text.replace(secret, "***") if secret else text


def prune_exports(folder: Path, max_age_s: float = KEEP_EXPORTS_S, now: float | None = None) -> None:
    """Delete export files older than ``max_age_s`` (Gradio serves its own copy of each)."""
    now = time.time() if now is None else now
    for path in folder.glob("*/*"):
        if path.is_file() and now - path.stat().st_mtime > max_age_s:
            path.unlink(missing_ok=True)
            if not any(path.parent.iterdir()):
                path.parent.rmdir()


def export_file(store: Store, folder: Path, kind: Kind, fmt: Format, flt: VoteFilter) -> tuple[Path, int]:
    """Export matching votes to a fresh file under ``folder``; return (path, rows)."""
    prune_exports(folder)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.mkdtemp(dir=folder)) / f"hermes-{kind}-{stamp}.{fmt}"
    return path, export(store, path, kind=kind, fmt=fmt, flt=flt)


def _filter(since: str, until: str, modes: Sequence[str], backends: Sequence[str] | None, blind: bool) -> VoteFilter:
    try:
        return vote_filter(since=since, until=until, modes=modes, backends=backends or (), blind_only=bool(blind))
    except ValueError as exc:
        raise gr.Error(str(exc)) from None


def build_data_tab(settings: Settings, store: Store, tab: gr.Tab) -> None:
    """Lay out the Data tab inside ``tab`` and wire its events (the vote count refreshes when the tab opens)."""
    folder = Path(tempfile.mkdtemp(prefix="playground-exports-"))
    token_env = settings.hub_token_env
    with gr.Row():
        since = gr.Textbox(label="From (YYYY-MM-DD, UTC)", placeholder="any", elem_id="data-since", scale=1)
        until = gr.Textbox(label="Until (inclusive)", placeholder="any", elem_id="data-until", scale=1)
        modes = gr.CheckboxGroup([("Chat", "chat"), ("Function calling", "tools"), ("JSON", "json")], value=[],
                                 label="Modes (none = all)", elem_id="data-modes", scale=2)
    with gr.Row():
        backends = gr.Dropdown([(s.label, s.id) for s in settings.backends], value=[], multiselect=True,
                               allow_custom_value=True, label="Backends (none = all)", elem_id="data-backends", scale=3)
        blind = gr.Checkbox(False, label="Blind votes only", elem_id="data-blind", scale=1)
    count = gr.Markdown("", elem_id="data-count")
    with gr.Row():
        buttons = {key: gr.Button(label, size="sm", elem_id=f"export-{key}") for key, (_, _, label) in EXPORTS.items()}
    file = gr.File(label="Export", interactive=False, height=120, elem_id="export-file")
    with gr.Accordion("Push to a Hugging Face dataset", open=False):
        on_space = bool(settings.space_id)
        repo = gr.Textbox(settings.dataset_repo or "", label="Dataset repo (user/name)", placeholder="user/name",
                          interactive=not on_space, elem_id="hub-repo")
        private = gr.Checkbox(True, label="Private (when the repo is created)", elem_id="hub-private")
        push = gr.Button("Push snapshot (Parquet + dataset card)", size="sm", elem_id="hub-push")
        hub_status = gr.Markdown(f"The write token is read on the server from `${token_env}`; it never enters this page.",
                                 elem_id="hub-status")
    filters = [since, until, modes, backends, blind]

    def count_matching(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool) -> str:
        n = count_votes(store, _filter(since, until, modes, backends, blind))
        return f"**{n}** {'vote matches' if n == 1 else 'votes match'} these filters."

    def exporter(kind: Kind, fmt: Format) -> Any:
        def run(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool) -> tuple[str, str]:
            try:
                path, rows = export_file(store, folder, kind, fmt, _filter(since, until, modes, backends, blind))
            except (SQLAlchemyError, OSError) as exc:
                raise gr.Error(f"Export failed: {exc}") from None
            return str(path), f"Exported **{rows}** {kind} rows ({fmt})."

        run.__name__ = f"export_{kind}_{fmt}"
        return run

    def push_snapshot(repo_id: str, is_private: bool, *values: Any) -> str:
        repo_id = (settings.dataset_repo or "") if on_space else repo_id.strip()
        if not repo_id or repo_id.count("/") != 1:
            raise gr.Error("Give the dataset repo as user/name.")
        token = os.environ.get(token_env)
        if not token:
            raise gr.Error(f"No Hub token: set ${token_env} on the server (a write token), then push again.")
        flt = _filter(*values)
        try:
            push_to_hub(store, repo_id, token, flt=flt, private=bool(is_private))
        except Exception as exc:  # noqa: BLE001 — shown to the user, with the token masked
            raise gr.Error(redact(f"Push to {repo_id} failed: {type(exc).__name__}: {exc}", token)) from None
        return f"✅ Pushed to [{repo_id}](https://huggingface.co/datasets/{repo_id})."

    for control in filters:
        control.change(count_matching, filters, count, show_progress="hidden", api_visibility="private")
    tab.select(count_matching, filters, count, show_progress="hidden", api_visibility="private")
    for key, button in buttons.items():
        kind, fmt, _ = EXPORTS[key]
        button.click(exporter(kind, fmt), filters, [file, count], api_name=f"export_{kind}_{fmt}")
    push.click(push_snapshot, [repo, private, *filters], hub_status, api_name="push_to_hub")
