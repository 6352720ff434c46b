"""The judge calibration panel (operators only): one judge and prompt version against the human votes.

Figures (agreement with and without ties, kappa, position consistency, length bias), agreement by
mode and category, the human and judge-only leaderboards side by side, the disagreements (select one
to read both replies and the judge's rationale), and the AI-feedback DPO export of this judge.
The maths is ``playground.store.calibration``; every handler first asks ``gate.operator(request)``,
then checks its values (a judge must be one the store holds; turn ids and pairs by shape).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from playground.safe_markdown import code_span, escape_inline, inert_markdown
from playground.settings import Settings
from playground.store.calibration import Calibration, LengthBias, calibrate, judge_choices
from playground.store.db import Store, VoteFilter, get_turn
from playground.store.errors import TurnNotFoundError
from playground.store.judged import pair_judgement
from playground.store.quality import ExportOptions
from playground.ui.access import Gatekeeper
from playground.ui.data import export_file, report_line
from playground.ui.data_browse import TURN_ID, pane_view
from playground.ui.inputs import refusal

PAIR = re.compile(r"^([A-Z]) vs ([A-Z])$")
FIGURE_COLUMNS = ["Figure", "Value", "Based on"]
SLICE_COLUMNS = ["items", "agree", "rate", "kappa", "decisive", "decisive_agree", "decisive_rate", "decisive_kappa"]
ROUNDS = 200


def choice_value(judge_backend: str, prompt_version: str) -> str:
    """The selector's value for a judge and prompt version.

    Example:
        >>> choice_value("hermes-405b", "pairwise@1a2b")
        'hermes-405b · pairwise@1a2b'
    """
    return f"{judge_backend} · {prompt_version}"


def _share(k: int, n: int) -> str:
    return f"{k / n:.1%} ({k}/{n})" if n else "— (none)"


def _kappa(k: float | None) -> str:
    return "—" if k is None else f"{k:.3f}"


def _bias(b: LengthBias) -> str:
    if b.rate is None or b.low is None or b.high is None:
        return "— (no decisive outcome between replies of different length)"
    return f"{_share(b.longer_wins, b.decisive)}, 95% interval {b.low:.1%}–{b.high:.1%}"


def figure_rows(cal: Calibration) -> list[list[str]]:
    """The figures table: what, value, and what it rests on.

    Example:
        >>> from playground.store.calibration import Agreement, Consistency
        >>> a = Agreement(8, 4, 0.5, 0.135, 6, 4, 2 / 3, 1 / 3)
        >>> none = LengthBias(0, 0, None, None, None)
        >>> empty = [pd.DataFrame()] * 4
        >>> rows = figure_rows(Calibration(("j", "p"), a, Consistency(8, 7, 1, 0.875), none, none, *empty))
        >>> rows[0][1], rows[2][1], rows[4][1]
        ('50.0% (4/8)', '66.7% (4/6)', '87.5% (7/8)')
    """
    a, c = cal.agreement, cal.consistency
    return [
        ["Agreement with ties (3-way)", _share(a.agree, a.items),
         "human votes × the judge's verdict on the same turn and pair; an inconsistent verdict counts as a tie"],
        ["Cohen's kappa, with ties", _kappa(a.kappa), "the same items"],
        ["Agreement without ties", _share(a.decisive_agree, a.decisive),
         "items where both human and judge chose a reply"],
        ["Cohen's kappa, without ties", _kappa(a.decisive_kappa), "the same items"],
        ["Position consistency", _share(c.consistent, c.judged),
         f"judgements whose two orders agree (all of this judge's; {c.errors} errors left out)"],
        ["Judge picks the longer reply", _bias(cal.judge_length), "consistent decisive verdicts, lengths differing"],
        ["Humans pick the longer reply", _bias(cal.human_length), "decisive human votes on the calibration items"],
    ]


def slice_table(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Agreement by mode or category, rates rounded for display."""
    if frame.empty:
        return pd.DataFrame(columns=[column, *SLICE_COLUMNS])
    return frame[[column, *SLICE_COLUMNS]].round(3)


def boards_table(boards: pd.DataFrame) -> pd.DataFrame:
    """The two leaderboards side by side, ratings and bounds rounded."""
    return boards.round(0).reset_index()


@dataclass
class CalibrationWidgets:
    """Every widget of the calibration panel."""

    judge: gr.Dropdown
    blind: gr.Checkbox
    refresh: gr.Button
    run: gr.Button
    note: gr.Markdown
    figures: gr.Dataframe
    by_mode: gr.Dataframe
    by_category: gr.Dataframe
    boards: gr.Dataframe
    disagreements: gr.Dataframe
    turn_id: gr.Textbox
    pair: gr.Textbox
    read: gr.Button
    rationale: gr.Markdown
    panes: list[gr.Markdown]
    with_human: gr.Checkbox
    export: gr.Button
    files: gr.File


def _layout() -> CalibrationWidgets:
    gr.Markdown("### Judge calibration\nOne judge and prompt version against the human votes on the same turns "
                "and pairs. Inconsistent verdicts (the two orders disagree) count as ties; judge errors are left out.")
    with gr.Row():
        judge = gr.Dropdown([], value=None, allow_custom_value=True, label="Judge · prompt version",
                            elem_id="cal-judge", scale=3)
        blind = gr.Checkbox(False, label="Blind human votes only", elem_id="cal-blind", scale=1)
        refresh = gr.Button("List judges", size="sm", elem_id="cal-refresh", scale=1)
        run = gr.Button("Calibrate", size="sm", variant="primary", elem_id="cal-run", scale=1)
    note = gr.Markdown("", elem_id="cal-note")
    figures = gr.Dataframe(headers=FIGURE_COLUMNS, value=[], interactive=False, wrap=True, elem_id="cal-figures")
    with gr.Row():
        by_mode = gr.Dataframe(interactive=False, label="Agreement by mode", elem_id="cal-by-mode")
        by_category = gr.Dataframe(interactive=False, label="Agreement by category", elem_id="cal-by-category")
    boards = gr.Dataframe(interactive=False, label="Leaderboards: humans and the judge alone, side by side "
                          "(Bradley–Terry, ties ½, 95% bootstrap intervals)", elem_id="cal-boards")
    disagreements = gr.Dataframe(interactive=False, wrap=True, label="Disagreements (select one to read it)",
                                 elem_id="cal-disagreements")
    with gr.Row():
        turn_id = gr.Textbox(label="Turn id", elem_id="cal-turn-id", scale=3)
        pair = gr.Textbox(label="Pair (e.g. A vs B)", elem_id="cal-pair", scale=1)
        read = gr.Button("Read", size="sm", elem_id="cal-read", scale=1)
    rationale = gr.Markdown("", elem_id="cal-rationale")
    with gr.Row(equal_height=False):
        panes = [gr.Markdown("", elem_id=f"cal-pane-{i}") for i in range(2)]
    with gr.Row():
        with_human = gr.Checkbox(False, label="Mix in human pairs (marked source = human)", elem_id="cal-with-human")
        export = gr.Button("Export this judge's AI-feedback DPO pairs (JSONL)", size="sm", elem_id="cal-export")
    files = gr.File(label="AI-feedback export and its dataset card", file_count="multiple", interactive=False,
                    height=120, elem_id="cal-export-file")
    return CalibrationWidgets(judge, blind, refresh, run, note, figures, by_mode, by_category, boards, disagreements,
                              turn_id, pair, read, rationale, panes, with_human, export, files)


def stored_judge(store: Store, value: object) -> tuple[str, str]:
    """The (judge backend, prompt version) the selector names, refused unless the store holds it."""
    known = {choice_value(c.judge_backend, c.prompt_version): (c.judge_backend, c.prompt_version)
             for c in judge_choices(store)}
    if not isinstance(value, str) or value not in known:
        raise refusal("Judge must be one of the stored judges: press 'List judges' and pick one."
                      if known else "No judgement is stored yet: run the judge first.")
    return known[value]


def _flag(what: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise refusal(f"{what} must be true or false.")
    return value


def _pair(value: object) -> tuple[int, int]:
    found = PAIR.match(value.strip()) if isinstance(value, str) else None
    if not found or found.group(1) == found.group(2):
        raise refusal("Pair must name two different panes, like 'A vs B' (as in the disagreements table).")
    return ord(found.group(1)) - 65, ord(found.group(2)) - 65


def build_calibration(store: Store, gate: Gatekeeper, settings: Settings) -> CalibrationWidgets:
    """Lay out the calibration panel inside the current Blocks context and wire its handlers.

    Mount it where only operators see it; every handler also checks the caller on the server.
    """
    w = _layout()
    folder = Path(tempfile.mkdtemp(prefix="playground-ai-exports-"))
    tool_roles = {spec.id: spec.tool_response_role for spec in settings.backends}

    def list_judges(request: gr.Request) -> Any:
        gate.operator(request)
        choices = [(f"{choice_value(c.judge_backend, c.prompt_version)} ({c.judge_model}, {c.judgements} judgements)",
                    choice_value(c.judge_backend, c.prompt_version)) for c in judge_choices(store)]
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    def run_calibration(judge: object, blind: object, request: gr.Request) -> tuple[Any, ...]:
        gate.operator(request)
        backend, version = stored_judge(store, judge)
        cal = calibrate(store, backend, version, flt=VoteFilter(blind_only=_flag("Blind human votes only", blind)),
                        rounds=ROUNDS)
        a = cal.agreement
        note = (f"{code_span(backend)} with prompt {code_span(version)}: **{a.items}** calibration items "
                f"(human vote × judge verdict), **{len(cal.disagreements)}** disagreements.")
        return (note, figure_rows(cal), slice_table(cal.by_mode, "mode"), slice_table(cal.by_category, "category"),
                boards_table(cal.boards), cal.disagreements)

    def pick(evt: gr.SelectData, request: gr.Request) -> tuple[str, str]:
        gate.operator(request)
        row = evt.row_value if isinstance(evt.row_value, list) else []
        return (str(row[0]), str(row[1])) if len(row) > 1 else ("", "")

    def read(judge: object, turn_id: object, pair: object, request: gr.Request) -> list[Any]:
        gate.operator(request)
        backend, version = stored_judge(store, judge)
        if not isinstance(turn_id, str) or not TURN_ID.match(turn_id.strip()):
            raise refusal("Turn id must be the id shown in the disagreements table's turn_id column.")
        positions = _pair(pair)
        try:
            turn = get_turn(store, turn_id.strip())
        except TurnNotFoundError:
            raise refusal(f"No stored turn has the id {turn_id.strip()!r}.") from None
        panes = {p.position: p for p in turn.panes}
        if not all(p in panes for p in positions):
            raise refusal(f"This turn has panes {', '.join(chr(65 + p) for p in sorted(panes))} only.")
        j = pair_judgement(store, turn.id, positions, backend, version)
        verdict = "no judgement of this pair" if j is None else (
            f"verdicts {escape_inline(str(j.verdict_ab))} (pane {chr(65 + j.pos_a)} shown first) / "
            f"{escape_inline(str(j.verdict_ba))} (pane {chr(65 + j.pos_b)} first), final **{escape_inline(j.final)}**")
        why = inert_markdown(j.rationale) if j is not None and j.rationale else "*(no rationale)*"
        head = f"**Judge {code_span(backend)}** on pane {chr(65 + positions[0])} vs {chr(65 + positions[1])}: {verdict}"
        return [f"{head}\n\n{why}", *(pane_view(panes[p]) for p in positions)]

    def export_ai(judge: object, with_human: object, request: gr.Request) -> tuple[list[str], str]:
        gate.operator(request)
        backend, version = stored_judge(store, judge)
        options = ExportOptions(judge=backend, prompt_version=version,
                                with_human=_flag("Mix in human pairs", with_human))
        path, report = export_file(store, folder, "ai-dpo", "jsonl", options, tool_roles)
        line = report_line(report).replace(f"from {report.votes} votes", f"from {report.judgements} judgements"
                                           + (f" and {report.votes} votes" if options.with_human else ""))
        return [str(path), *([str(report.card_path)] if report.card_path else [])], line

    w.refresh.click(list_judges, None, w.judge, api_name="calibration_judges")
    w.run.click(run_calibration, [w.judge, w.blind],
                [w.note, w.figures, w.by_mode, w.by_category, w.boards, w.disagreements], api_name="calibration")
    w.read.click(read, [w.judge, w.turn_id, w.pair], [w.rationale, *w.panes], api_name="calibration_read")
    w.disagreements.select(pick, None, [w.turn_id, w.pair], api_visibility="private").success(
        read, [w.judge, w.turn_id, w.pair], [w.rationale, *w.panes], api_visibility="private")
    w.export.click(export_ai, [w.judge, w.with_human], [w.files, w.note], api_name="export_ai_dpo_jsonl")
    return w
