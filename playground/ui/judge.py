"""The Judge tab (operators only): the judge's settings, judging one stored turn, and a batch over a filter.

Every handler checks on the server that the caller is an operator (``Gatekeeper.operator``)
and that judging is on (``--judge-when on-demand`` or ``every-turn``). The prompt shown can be
edited; an edited text is judged and stored under its own prompt version (preset + hash).
Judging runs on the app's event loop through the app's ``JudgeFactory``: it shares the judge
backend's request limit with the background judge and waits while users' turns are at capacity.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import gradio as gr

from playground.hermes.chatml import find_special_token
from playground.hermes.modes import mode_choices
from playground.judging.background import judge_turn
from playground.judging.batch import BatchProgress, pairs_to_judge, run_batch
from playground.judging.prompts import JudgePrompt
from playground.judging.runner import JudgeFactory
from playground.limits import InputRefused
from playground.settings import Settings
from playground.store.db import Store
from playground.store.errors import TurnNotFoundError
from playground.store.filters import vote_filter
from playground.ui.access import Gatekeeper
from playground.ui.inputs import refusal
from playground.ui.judge_calibration import build_calibration

MAX_TURN_ID_CHARS = 64


def turns_at_capacity(demo: gr.Blocks, concurrency_id: str, limit: int) -> Callable[[], bool]:
    """``busy()``: are ``limit`` turn events running, or any waiting, in Gradio's queue?

    The judge never goes through Gradio's queue, so it cannot take a user's turn slot; it
    waits instead while the slots are full, so it adds no backend load when users queue.
    """

    def busy() -> bool:
        queue = demo._queue
        running = sum(1 for job in queue.active_jobs if job for e in job if e.concurrency_id == concurrency_id)
        waiting = queue.event_queue_per_concurrency_id.get(concurrency_id)
        return running >= limit or bool(waiting and waiting.queue)

    return busy


def judgement_line(final: str, pos_a: int, pos_b: int) -> str:
    """A judgement in words.

    Example:
        >>> judgement_line("b", 0, 2), judgement_line("inconsistent", 0, 1)
        ('A vs C: **C** better', 'A vs B: **inconsistent** (the two orders disagree)')
    """
    a, b = chr(65 + pos_a), chr(65 + pos_b)
    words = {"a": f"**{a}** better", "b": f"**{b}** better", "tie": "**tie**",
             "inconsistent": "**inconsistent** (the two orders disagree)", "error": "**error** (see the Data tab)"}
    return f"{a} vs {b}: {words.get(final, final)}"


def build_judge_tab(settings: Settings, store: Store, tab: gr.Tab, gate: Gatekeeper, judges: JudgeFactory,
                    presets: dict[str, JudgePrompt]) -> None:
    """Lay out the Judge tab inside ``tab`` and wire its events."""
    on = settings.judge_when != "off"
    default_backend = settings.judge or (settings.backends[0].id if settings.backends else None)
    notice = gr.Markdown("The judge is for operators only.", visible=False, elem_id="judge-notice")
    with gr.Column(visible=False, elem_id="judge-panel") as panel:
        gr.Markdown(f"Judging: **{settings.judge_when}**" + ("" if on else " — start the app with `--judge BACKEND "
                    "--judge-when on-demand` (or `every-turn`) to judge from here."), elem_id="judge-mode")
        with gr.Row():
            backend = gr.Dropdown([(s.label, s.id) for s in settings.backends], value=default_backend,
                                  label="Judge backend", elem_id="judge-backend")
            preset = gr.Dropdown([(p.title, p.id) for p in presets.values()], value=settings.judge_prompt,
                                 label="Judge prompt", elem_id="judge-preset")
        chosen = presets.get(settings.judge_prompt)
        instructions = gr.Textbox(chosen.instructions if chosen is not None else "",
                                  lines=6, label="Instructions (editable; an edit is stored as its own prompt version)",
                                  elem_id="judge-instructions")
        with gr.Row():
            turn_id = gr.Textbox(label="Turn id (from the Data tab)", elem_id="judge-turn-id", scale=3)
            judge_one = gr.Button("Judge this turn", size="sm", elem_id="judge-turn", scale=1)
        with gr.Row():
            since = gr.Textbox(label="From (YYYY-MM-DD, UTC)", placeholder="any", elem_id="judge-since")
            until = gr.Textbox(label="Until (inclusive)", placeholder="any", elem_id="judge-until")
            modes = gr.CheckboxGroup(mode_choices(), value=[],
                                     label="Modes (none = all)", elem_id="judge-modes")
        with gr.Row():
            backends = gr.Dropdown([(s.label, s.id) for s in settings.backends], value=[], multiselect=True,
                                   label="Pane backends (none = all)", elem_id="judge-backends")
            blind = gr.Checkbox(False, label="Blind votes only", elem_id="judge-blind")
            all_turns = gr.Checkbox(False, label="Also turns without a vote", elem_id="judge-all-turns")
        judge_batch = gr.Button("Judge matching turns (resumes: judged pairs are skipped)", size="sm",
                                elem_id="judge-batch")
        result = gr.Markdown("", elem_id="judge-result")
        with gr.Accordion("Calibration against the human votes", open=True, elem_id="judge-calibration"):
            build_calibration(store, gate, settings)

    def chosen_prompt(preset_id: Any, text: Any) -> JudgePrompt:
        if preset_id not in presets:
            raise refusal(f"Unknown judge prompt {preset_id!r}; choose one of: {', '.join(presets)}.")
        if not isinstance(text, str) or not text.strip():
            raise refusal("The judge's instructions are empty: pick a preset or write them.")
        try:
            settings.limits.text("The judge's instructions", text, "system_chars")
        except InputRefused as exc:
            raise refusal(str(exc)) from None
        hit = find_special_token(text)
        if hit:
            raise refusal(f"The judge's instructions hold the special token {hit[0]!r}; remove it.")
        return dataclasses.replace(presets[preset_id], instructions=text)

    def checked(request: gr.Request, backend_id: Any, preset_id: Any, text: Any) -> Any:
        gate.operator(request)
        if not on:
            raise refusal("Judging is off on this server: start it with --judge BACKEND --judge-when on-demand.")
        if backend_id not in judges.backends:
            raise refusal(f"Unknown judge backend {backend_id!r}; choose a configured backend.")
        return judges.judge(backend_id, chosen_prompt(preset_id, text))

    def open_tab(request: gr.Request) -> tuple[Any, Any]:
        operator = gate.identify(request).operator
        return gr.Column(visible=operator), gr.Markdown(visible=not operator)

    def show_preset(preset_id: Any) -> str:
        return presets[preset_id].instructions if preset_id in presets else ""

    async def judge_stored_turn(backend_id: Any, preset_id: Any, text: Any, turn: Any, request: gr.Request) -> str:
        judge = checked(request, backend_id, preset_id, text)
        if not isinstance(turn, str) or not turn.strip() or len(turn) > MAX_TURN_ID_CHARS:
            raise refusal("Paste a turn id from the Data tab.")
        try:
            judged = await judge_turn(judge, store, turn.strip())
        except TurnNotFoundError:
            raise refusal(f"No stored turn has the id {turn.strip()!r}.") from None
        if not judged:
            return "Nothing to judge: this turn has no two panes that finished" + (
                ", or no gold edit to guide the judge." if judge.prompt.kind == "reference" else ".")
        return f"`{judge.prompt.version}` by {judge.backend_id}: " + "; ".join(
            judgement_line(j.final, j.pos_a, j.pos_b) for j in judged)

    async def judge_matching(request: gr.Request, backend_id: Any, preset_id: Any, text: Any, since: Any, until: Any,
                             chosen_modes: Sequence[str], chosen_backends: Sequence[str] | None, blind_only: Any,
                             every_turn: Any) -> AsyncIterator[str]:
        judge = checked(request, backend_id, preset_id, text)
        try:
            flt = vote_filter(since=since, until=until, modes=chosen_modes or (), backends=chosen_backends or (),
                              blind_only=blind_only is True)
        except (ValueError, TypeError) as exc:
            raise refusal(str(exc)) from None
        pairs, skipped, references = await asyncio.to_thread(pairs_to_judge, store, flt, judge,
                                                             voted_only=every_turn is not True)
        progress = BatchProgress(len(pairs), skipped)
        head = f"`{judge.prompt.version}` by {judge.backend_id}: "
        yield head + progress.line()
        lines: list[str] = []
        batch = run_batch(judge, store, pairs, references, progress, lambda p: lines.append(p.line()))
        async for line in _while_running(batch, lines):
            yield head + line
        yield head + "done — " + progress.line()

    judge_inputs = [backend, preset, instructions]
    filters = [since, until, modes, backends, blind, all_turns]
    tab.select(open_tab, None, [panel, notice], show_progress="hidden", api_visibility="private")
    preset.change(show_preset, preset, instructions, queue=False, api_visibility="private")
    judge_one.click(judge_stored_turn, [*judge_inputs, turn_id], result, api_name="judge_turn")
    judge_batch.click(judge_matching, [*judge_inputs, *filters], result, api_name="judge_batch",
                      concurrency_limit=1, concurrency_id="judge-batch")


async def _while_running(batch: Any, lines: list[str]) -> AsyncIterator[str]:
    """Run ``batch`` as a task and yield its latest progress line each time one arrived (at most 2 a second)."""
    task = asyncio.ensure_future(batch)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if lines:
                yield lines[-1]
                lines.clear()
        task.result()
    finally:
        task.cancel()
