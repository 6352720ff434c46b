"""The Data tab's reading part (operators only): a page of turns and votes, one turn side by side,
counts per model, mode and day, and rater quality.

Every handler first asks ``gate.operator(request)``; values from the client (page number, turn
id) are checked before any query. Text from models and users is shown inert (no live HTML).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from playground.safe_markdown import code_span, escape_inline, inert_markdown
from playground.store.browse import counts_by_day, counts_by_model, turn_page, turn_votes
from playground.store.db import Store, VoteFilter, get_turn
from playground.store.errors import TurnNotFoundError
from playground.store.raters import rater_quality
from playground.store.votes import ranking_letters
from playground.types import PaneOutput, TurnRecord, Vote
from playground.ui.access import Gatekeeper
from playground.ui.inputs import refusal

PAGE_SIZE = 50
MAX_PAGE = 100_000
TURN_ID = re.compile(r"^[0-9a-fA-F-]{1,36}$")


@dataclass
class BrowseWidgets:
    """Every widget of the reading part of the Data tab."""

    page: gr.Number
    show: gr.Button
    note: gr.Markdown
    table: gr.Dataframe
    turn_id: gr.Textbox
    open_turn: gr.Button
    meta: gr.Markdown
    panes: list[gr.Markdown]
    count: gr.Button
    per_day: gr.Plot
    per_model: gr.Plot
    counts: gr.Dataframe
    rate: gr.Button
    raters_note: gr.Markdown
    raters: gr.Dataframe


def build_browse(max_panes: int) -> BrowseWidgets:
    """Lay out the table, the turn view, the counts and rater quality (inside the operators' panel)."""
    with gr.Accordion("Turns and votes", open=True):
        with gr.Row():
            page = gr.Number(1, label="Page", minimum=1, maximum=MAX_PAGE, precision=0, elem_id="data-page", scale=1)
            show = gr.Button("Show", size="sm", elem_id="data-browse", scale=1)
        note = gr.Markdown("", elem_id="data-browse-note")
        table = gr.Dataframe(interactive=False, wrap=True, elem_id="data-table")
        with gr.Row():
            turn_id = gr.Textbox(label="Turn id (or select a row)", elem_id="data-turn-id", scale=3)
            open_turn = gr.Button("Open turn", size="sm", elem_id="data-open-turn", scale=1)
        meta = gr.Markdown("", elem_id="data-turn-meta")
        with gr.Row(equal_height=False):
            panes = [gr.Markdown("", elem_id=f"data-turn-pane-{i}") for i in range(max_panes)]
    with gr.Accordion("Counts per model, mode and day", open=False):
        count = gr.Button("Count", size="sm", elem_id="data-counts")
        with gr.Row():
            per_day, per_model = gr.Plot(elem_id="data-per-day"), gr.Plot(elem_id="data-per-model")
        counts = gr.Dataframe(interactive=False, elem_id="data-counts-table")
    with gr.Accordion("Rater quality", open=False):
        rate = gr.Button("Compute rater quality", size="sm", elem_id="data-raters")
        raters_note = gr.Markdown("", elem_id="data-raters-note")
        raters = gr.Dataframe(interactive=False, elem_id="data-raters-table")
    return BrowseWidgets(page, show, note, table, turn_id, open_turn, meta, panes, count, per_day, per_model, counts,
                         rate, raters_note, raters)


def _fence(text: str) -> str:
    ticks = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{ticks}text\n{text}\n{ticks}"


def pane_view(pane: PaneOutput) -> str:
    """One pane of a stored turn: backend, model, status, metrics, system prompt, context, reply."""
    m = pane.metrics
    figures = [f"{m.ttft_s:.2f} s to first token" if m.ttft_s is not None else "",
               f"{m.tokens} tokens", f"{m.total_s:.2f} s" if m.total_s is not None else "",
               f"finish: {escape_inline(m.finish_reason)}" if m.finish_reason else ""]
    lines = [f"### Pane {chr(65 + pane.position)} — {escape_inline(pane.label)}",
             f"{code_span(pane.model_id or '?')} on backend {code_span(pane.backend_id)}",
             f"**Status:** {escape_inline(pane.status)}" + (f" — {escape_inline(pane.error)}" if pane.error else ""),
             " · ".join(f for f in figures if f)]
    system = "*(no system turn)*" if pane.system_prompt is None else _fence(pane.system_prompt)
    context = "\n\n".join(f"**{m.role}:**\n\n{_fence(m.content)}" for m in pane.prompt_messages if m.role != "system")
    followup = "\n\n".join(f"**{m.role}:**\n\n{_fence(m.content)}" for m in pane.followup)
    body = [f"**System prompt**\n\n{system}", f"**Context**\n\n{context}",
            f"**Reply**\n\n{inert_markdown(pane.output)}"]
    if followup:
        body.append(f"**Tool loop**\n\n{followup}")
    return "  \n".join(lines) + "\n\n" + "\n\n".join(body)


def turn_meta(turn: TurnRecord, votes: list[Vote]) -> str:
    """The turn's header: when, mode, blind, sampling, and every vote on it."""
    s = turn.sampling
    when = turn.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") if turn.created_at else "?"
    lines = [f"**Turn** {code_span(turn.id)} · {when} · mode **{turn.mode}** · {'blind' if turn.blind else 'named'}",
             f"Sampling: temperature {s.temperature}, top-p {s.top_p}, top-k {s.top_k}, repetition penalty "
             f"{s.repetition_penalty}, max new tokens {s.max_new_tokens}"
             + (f", seed {s.seed}" if s.seed is not None else "")]
    for v in votes:
        lines.append(f"Vote by {code_span(v.user_id)}: **{escape_inline(v.kind)}** ({ranking_letters(v.ranking or ())})"
                     + (" · blind" if v.blind else "") + (" · with an edited reply" if v.gold_text is not None else ""))
    if not votes:
        lines.append("No vote on this turn.")
    return "  \n".join(lines)


def page_number(value: Any) -> int:
    """The page asked for, or a refusal naming the range."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or not 1 <= value <= MAX_PAGE:
        raise refusal(f"Page must be a whole number from 1 to {MAX_PAGE}.")
    return int(value)


def wire_browse(w: BrowseWidgets, store: Store, gate: Gatekeeper, filters: list[Any],
                read_filter: Callable[..., VoteFilter]) -> None:
    """The reading handlers; each first checks that the caller is an operator."""
    slots = len(w.panes)

    def browse(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool, page: Any,
               request: gr.Request) -> tuple[pd.DataFrame, str]:
        gate.operator(request)
        number = page_number(page)
        flt = read_filter(since, until, modes, backends, blind)
        frame, total = turn_page(store, flt, page=number, page_size=PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        first = (number - 1) * PAGE_SIZE
        shown = f"rows {first + 1}–{first + len(frame)}" if len(frame) else "no rows"
        return frame, (f"Page {number} of {pages}: {shown} of **{total}** (newest turn first, one row per vote, "
                       f"{PAGE_SIZE} a page). Select a row to open its turn.")

    def show_turn(turn_id: Any, request: gr.Request) -> list[Any]:
        gate.operator(request)
        if not isinstance(turn_id, str) or not TURN_ID.match(turn_id.strip()):
            raise refusal("Turn id must be the id shown in the table's turn column.")
        try:
            turn = get_turn(store, turn_id.strip())
        except TurnNotFoundError:
            raise refusal(f"No stored turn has the id {turn_id.strip()!r}.") from None
        views = [gr.Markdown(pane_view(p), visible=True) for p in turn.panes[:slots]]
        views += [gr.Markdown("", visible=False)] * (slots - len(views))
        return [turn_meta(turn, turn_votes(store, turn.id)), *views]

    def pick_row(evt: gr.SelectData, request: gr.Request) -> str:
        gate.operator(request)
        row = evt.row_value if isinstance(evt.row_value, list) else []
        return str(row[1]) if len(row) > 1 else ""

    def count(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool,
              request: gr.Request) -> tuple[Any, Any, pd.DataFrame]:
        gate.operator(request)
        from playground.ui.data_charts import turns_per_model_figure, votes_per_day_figure  # plotly.express: only here

        flt = read_filter(since, until, modes, backends, blind)
        by_model = counts_by_model(store, flt)
        return votes_per_day_figure(counts_by_day(store, flt)), turns_per_model_figure(by_model), by_model

    def rate(since: str, until: str, modes: list[str], backends: list[str] | None, blind: bool,
             request: gr.Request) -> tuple[str, pd.DataFrame]:
        gate.operator(request)
        quality = rater_quality(store, read_filter(since, until, modes, backends, blind)).reset_index()
        flagged = int(quality["flagged"].sum()) if not quality.empty else 0
        note = (f"**{len(quality)}** raters, **{flagged}** flagged: no better than chance against the other raters' "
                "Bradley–Terry favourite (one-sided binomial test, α = 0.05, from 10 decisive votes). Kappa: "
                "agreement with the other raters' majority on the same model pair. Self-consistency: swapped "
                "re-shows answered the same way.")
        return note, quality.round(3)

    w.show.click(browse, [*filters, w.page], [w.table, w.note], api_name="data_browse")
    w.open_turn.click(show_turn, w.turn_id, [w.meta, *w.panes], api_name="data_turn")
    w.table.select(pick_row, None, w.turn_id, api_visibility="private").success(
        show_turn, w.turn_id, [w.meta, *w.panes], api_visibility="private")
    w.count.click(count, filters, [w.per_day, w.per_model, w.counts], api_name="data_counts")
    w.rate.click(rate, filters, [w.raters_note, w.raters], api_name="data_raters")
