"""The Data tab (operators only): filter the collected votes, download DPO pairs or battles, push
a snapshot to the Hub dataset named in the settings; read turns, counts and rater quality
(``playground.ui.data_browse``).

Every handler checks on the server that the caller is an operator (``Gatekeeper.operator``);
the controls are also hidden from everyone else, which protects nothing by itself. The push
target and its visibility come from the settings, never from the client. The Hub token is read
on the server from the variable named by ``settings.hub_token_env`` when a push is made; it is
never a widget value, never returned, never logged.
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
from playground.ui.access import Gatekeeper
from playground.ui.data_browse import build_browse, wire_browse
from playground.ui.inputs import refusal

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
    """Export matching votes to a fresh file under ``folder``; return (path, rows).

    Earlier exports are deleted first: Gradio serves its own cached copy of each (which
    ``delete_cache`` on the Blocks removes after an hour), so ours is needed only until then.
    """
    prune_exports(folder, max_age_s=0)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.mkdtemp(dir=folder)) / f"hermes-{kind}-{stamp}.{fmt}"
    return path, export(store, path, kind=kind, fmt=fmt, flt=flt)


def _filter(since: str, until: str, modes: Sequence[str], backends: Sequence[str] | None, blind: bool) -> VoteFilter:
    try:
        return vote_filter(since=since, until=until, modes=modes, backends=backends or (), blind_only=bool(blind))
    except ValueError as exc:
        raise refusal(str(exc)) from None


def build_data_tab(settings: Settings, store: Store, tab: gr.Tab, gate: Gatekeeper) -> None:
    """Lay out the Data tab inside ``tab`` and wire its events.

    Opening the tab shows the controls to operators (and refreshes the vote count), a notice to others.
    """
    folder = Path(tempfile.mkdtemp(prefix="playground-exports-"))
    token_env = settings.hub_token_env
    notice = gr.Markdown("The collected data is for operators only: sign in as an operator to browse, "
                         "export or push it.", visible=False, elem_id="data-notice")
    with gr.Column(visible=False, elem_id="data-panel") as panel:
        filters, count, buttons, file, push, hub_status = _data_controls(settings, token_env)
        browse = build_browse(settings.max_panes)
    wire_browse(browse, store, gate, filters, _filter)
    wire_data_tab(settings, store, tab, gate, folder, filters, count, buttons, file, push, hub_status, panel, notice)


def _data_controls(settings: Settings, token_env: str) -> tuple[list[Any], Any, dict[str, Any], Any, Any, Any]:
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
        target = (f"Pushes to **`{settings.dataset_repo}`** ({'private' if settings.dataset_private else 'public'} "
                  "when created), as set on the server." if settings.dataset_repo else
                  "No dataset repo is set: start the app with `--dataset-repo user/name` (or `$HERMES_DATASET_REPO`).")
        gr.Markdown(target, elem_id="hub-target")
        push = gr.Button("Push snapshot (Parquet + dataset card)", size="sm", elem_id="hub-push")
        hub_status = gr.Markdown(f"The write token is read on the server from `${token_env}`; it never enters this page.",
                                 elem_id="hub-status")
    return [since, until, modes, backends, blind], count, buttons, file, push, hub_status


def wire_data_tab(settings: Settings, store: Store, tab: gr.Tab, gate: Gatekeeper, folder: Path, filters: list[Any],
                  count: Any, buttons: dict[str, Any], file: Any, push: Any, hub_status: Any, panel: Any,
                  notice: Any) -> None:
    """The Data tab's events; each handler first checks that the caller is an operator."""

    def count_matching(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool,
                       request: gr.Request) -> str:
        gate.operator(request)
        n = count_votes(store, _filter(since, until, modes, backends, blind))
        return f"**{n}** {'vote matches' if n == 1 else 'votes match'} these filters."

    def open_tab(request: gr.Request, *values: Any) -> tuple[Any, Any, str]:
        if not gate.identify(request).operator:
            return gr.Column(visible=False), gr.Markdown(visible=True), ""
        return gr.Column(visible=True), gr.Markdown(visible=False), count_matching(*values, request=request)

    def exporter(kind: Kind, fmt: Format) -> Any:
        def run(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool,
                request: gr.Request) -> tuple[str, str]:
            gate.operator(request)
            try:
                path, rows = export_file(store, folder, kind, fmt, _filter(since, until, modes, backends, blind))
            except (SQLAlchemyError, OSError) as exc:
                raise refusal(f"Export failed: {exc}") from None
            return str(path), f"Exported **{rows}** {kind} rows ({fmt})."

        run.__name__ = f"export_{kind}_{fmt}"
        return run

    def push_snapshot(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool,
                      request: gr.Request) -> str:
        gate.operator(request)
        repo_id = settings.dataset_repo or ""
        if not repo_id:
            raise refusal("No dataset repo is set on the server: start the app with --dataset-repo user/name.")
        token = os.environ.get(settings.hub_token_env)
        if not token:
            raise refusal(f"No Hub token: set ${settings.hub_token_env} on the server (a write token), then push again.")
        flt = _filter(since, until, modes, backends, blind)
        try:
            push_to_hub(store, repo_id, token, flt=flt, private=settings.dataset_private)
        except Exception as exc:  # noqa: BLE001 — shown to the user, with the token masked
            raise refusal(redact(f"Push to {repo_id} failed: {type(exc).__name__}: {exc}", token)) from None
        return f"✅ Pushed to [{repo_id}](https://huggingface.co/datasets/{repo_id})."

    for control in filters:
        control.change(count_matching, filters, count, show_progress="hidden", api_visibility="private")
    tab.select(open_tab, filters, [panel, notice, count], show_progress="hidden", api_visibility="private")
    for key, button in buttons.items():
        kind, fmt, _ = EXPORTS[key]
        button.click(exporter(kind, fmt), filters, [file, count], api_name=f"export_{kind}_{fmt}")
    push.click(push_snapshot, filters, hub_status, api_name="push_to_hub")
