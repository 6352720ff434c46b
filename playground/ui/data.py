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

import dataclasses
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from playground.hermes.modes import mode_choices
from playground.settings import Settings
from playground.store.card import ExportReport
from playground.store.db import Store, VoteFilter, count_votes
from playground.store.export import Format, Kind, export_dataset
from playground.store.filters import export_options, vote_filter
from playground.store.hub import push_to_hub
from playground.store.quality import ExportOptions
from playground.store.raters import flagged_raters
from playground.ui.access import Gatekeeper
from playground.ui.data_browse import build_browse, wire_browse
from playground.ui.inputs import refusal

EXPORTS: dict[str, tuple[Kind, Format, str]] = {
    "dpo-jsonl": ("dpo", "jsonl", "DPO pairs (JSONL)"),
    "dpo-parquet": ("dpo", "parquet", "DPO pairs (Parquet)"),
    "dpo-mixed-context-jsonl": ("dpo-mixed-context", "jsonl", "Mixed-context pairs (JSONL)"),
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


def export_file(store: Store, folder: Path, kind: Kind, fmt: Format, options: ExportOptions,
                tool_roles: dict[str, str]) -> tuple[Path, ExportReport]:
    """Export matching votes (and the dataset card beside them) to a fresh folder under ``folder``.

    Earlier exports are deleted first: Gradio serves its own cached copy of each (which
    ``delete_cache`` on the Blocks removes after an hour), so ours is needed only until then.
    """
    prune_exports(folder, max_age_s=0)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.mkdtemp(dir=folder)) / f"hermes-{kind}-{stamp}.{fmt}"
    return path, export_dataset(store, path, kind=kind, fmt=fmt, options=options, tool_roles=tool_roles)


def _filter(since: str, until: str, modes: Sequence[str], backends: Sequence[str] | None, blind: bool) -> VoteFilter:
    try:
        return vote_filter(since=since, until=until, modes=modes, backends=backends or (), blind_only=bool(blind))
    except ValueError as exc:
        raise refusal(str(exc)) from None


def report_line(report: ExportReport) -> str:
    """What an export kept and left out, in one Markdown line.

    Example:
        >>> from playground.store.quality import ExportOptions
        >>> report_line(ExportReport("dpo", "jsonl", ExportOptions(), rows=3, votes=5, dropped={"tie": 2}))
        'Exported **3** dpo rows (jsonl) from 5 votes; left out: tie 2. The dataset card is beside the file.'
    """
    dropped = ", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in report.dropped.items() if n)
    return (f"Exported **{report.rows}** {report.kind} rows ({report.fmt}) from {report.votes} votes"
            + (f"; left out: {dropped}" if dropped else "") + ". The dataset card is beside the file.")


@dataclasses.dataclass
class DataWidgets:
    """The Data tab's filter, quality-control, export and push widgets."""

    filters: list[Any]  # since, until, modes, backends, blind: also read by the browser below
    quality: list[Any]  # same context only, min rank margin, max length ratio, dedup threshold, exclude flagged
    count: Any
    buttons: dict[str, Any]
    files: Any
    push: Any
    hub_status: Any
    panel: Any
    notice: Any


def build_data_tab(settings: Settings, store: Store, tab: gr.Tab, gate: Gatekeeper) -> None:
    """Lay out the Data tab inside ``tab`` and wire its events.

    Opening the tab shows the controls to operators (and refreshes the vote count), a notice to others.
    """
    notice = gr.Markdown("The collected data is for operators only: sign in as an operator to browse, "
                         "export or push it.", visible=False, elem_id="data-notice")
    with gr.Column(visible=False, elem_id="data-panel") as panel:
        w = _data_controls(settings, panel, notice)
        browse = build_browse(settings.max_panes)
    wire_browse(browse, store, gate, w.filters, _filter)
    wire_data_tab(settings, store, tab, gate, w)


def _data_controls(settings: Settings, panel: Any, notice: Any) -> DataWidgets:
    with gr.Row():
        since = gr.Textbox(label="From (YYYY-MM-DD, UTC)", placeholder="any", elem_id="data-since", scale=1)
        until = gr.Textbox(label="Until (inclusive)", placeholder="any", elem_id="data-until", scale=1)
        modes = gr.CheckboxGroup(mode_choices(), value=[],
                                 label="Modes (none = all)", elem_id="data-modes", scale=2)
    with gr.Row():
        backends = gr.Dropdown([(s.label, s.id) for s in settings.backends], value=[], multiselect=True,
                               allow_custom_value=True, label="Backends (none = all)", elem_id="data-backends", scale=3)
        blind = gr.Checkbox(False, label="Blind votes only", elem_id="data-blind", scale=1)
    count = gr.Markdown("", elem_id="data-count")
    with gr.Accordion("Quality controls for DPO exports and pushes", open=False, elem_id="data-quality"):
        with gr.Row():
            same_context = gr.Checkbox(True, label="Same context only (pairs whose panes saw the same prompt)",
                                       elem_id="data-same-context")
            exclude = gr.Checkbox(False, label="Exclude flagged raters (outlier test)", elem_id="data-exclude-flagged")
        with gr.Row():
            margin = gr.Number(1, precision=0, minimum=1, maximum=3, label="Minimum rank margin (rankings)",
                               elem_id="data-margin")
            ratio = gr.Number(None, minimum=0, maximum=100, label="Max length ratio (blank = off)",
                              elem_id="data-ratio")
            dedup = gr.Number(None, minimum=0, maximum=0.98, label="Near-duplicate prompts: Jaccard ≥ (blank = off)",
                              elem_id="data-dedup")
    with gr.Row():
        buttons = {key: gr.Button(label, size="sm", elem_id=f"export-{key}") for key, (_, _, label) in EXPORTS.items()}
    files = gr.File(label="Export and its dataset card", file_count="multiple", interactive=False, height=140,
                    elem_id="export-file")
    with gr.Accordion("Push to a Hugging Face dataset", open=False):
        target = (f"Pushes to **`{settings.dataset_repo}`** ({'private' if settings.dataset_private else 'public'} "
                  "when created), as set on the server." if settings.dataset_repo else
                  "No dataset repo is set: start the app with `--dataset-repo user/name` (or `$HERMES_DATASET_REPO`).")
        gr.Markdown(target, elem_id="hub-target")
        push = gr.Button("Push snapshot (Parquet + dataset card)", size="sm", elem_id="hub-push")
        hub_status = gr.Markdown(f"The write token is read on the server from `${settings.hub_token_env}`; "
                                 "it never enters this page.", elem_id="hub-status")
    return DataWidgets([since, until, modes, backends, blind], [same_context, margin, ratio, dedup, exclude],
                       count, buttons, files, push, hub_status, panel, notice)


def wire_data_tab(settings: Settings, store: Store, tab: gr.Tab, gate: Gatekeeper, w: DataWidgets) -> None:
    """The Data tab's events; each handler first checks that the caller is an operator."""
    folder = Path(tempfile.mkdtemp(prefix="playground-exports-"))
    tool_roles = {spec.id: spec.tool_response_role for spec in settings.backends}

    def options(values: Sequence[Any]) -> ExportOptions:
        """Export options from the filter and quality widgets (refused by name when a value is wrong)."""
        since, until, modes, backends, blind, same_context, margin, ratio, dedup, exclude = values
        try:
            chosen = export_options(since=since, until=until, modes=modes, backends=backends or (),
                                    blind_only=blind is True, same_context_only=same_context is not False,
                                    min_rank_margin=margin, max_length_ratio=ratio, dedup_threshold=dedup)
        except (ValueError, TypeError) as exc:
            raise refusal(str(exc)) from None
        if exclude is True:
            chosen = dataclasses.replace(chosen, exclude_raters=tuple(sorted(flagged_raters(store))))
        return chosen

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
        def run(request: gr.Request, *values: Any) -> tuple[list[str], str]:
            gate.operator(request)
            try:
                path, report = export_file(store, folder, kind, fmt, options(values), tool_roles)
            except (SQLAlchemyError, OSError) as exc:
                raise refusal(f"Export failed: {exc}") from None
            return [str(path), *([str(report.card_path)] if report.card_path else [])], report_line(report)

        run.__name__ = f"export_{kind.replace('-', '_')}_{fmt}"
        return run

    def push_snapshot(request: gr.Request, *values: Any) -> str:
        gate.operator(request)
        repo_id = settings.dataset_repo or ""
        if not repo_id:
            raise refusal("No dataset repo is set on the server: start the app with --dataset-repo user/name.")
        token = os.environ.get(settings.hub_token_env)
        if not token:
            raise refusal(f"No Hub token: set ${settings.hub_token_env} on the server (a write token), "
                          "then push again.")
        chosen = options(values)
        try:
            push_to_hub(store, repo_id, token, flt=chosen, tool_roles=tool_roles, private=settings.dataset_private)
        except Exception as exc:  # noqa: BLE001 — shown to the user, with the token masked
            raise refusal(redact(f"Push to {repo_id} failed: {type(exc).__name__}: {exc}", token)) from None
        return f"✅ Pushed to [{repo_id}](https://huggingface.co/datasets/{repo_id})."

    for control in w.filters:
        control.change(count_matching, w.filters, w.count, show_progress="hidden", api_visibility="private")
    tab.select(open_tab, w.filters, [w.panel, w.notice, w.count], show_progress="hidden", api_visibility="private")
    for key, button in w.buttons.items():
        kind, fmt, _ = EXPORTS[key]
        button.click(exporter(kind, fmt), [*w.filters, *w.quality], [w.files, w.count],
                     api_name=f"export_{kind.replace('-', '_')}_{fmt}")
    w.push.click(push_snapshot, [*w.filters, *w.quality], w.hub_status, api_name="push_to_hub")
