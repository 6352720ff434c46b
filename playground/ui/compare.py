"""The Compare tab: 2–4 panes, one message box, all panes streaming at once."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground import turn
from playground.backends.base import Backend
from playground.backends.tgi import MAX_STOP_SEQUENCES
from playground.hermes.chatml import ForgedTurnError, check_no_special_tokens
from playground.settings import Settings
from playground.types import CompareSession, PaneState, SamplingParams
from playground.ui.panes import chat_messages, metrics_line

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."


@dataclass
class PaneWidgets:
    """The widgets of one pane."""

    column: gr.Column
    backend: gr.Dropdown
    chatbot: gr.Chatbot
    metrics: gr.Markdown


@dataclass
class CompareWidgets:
    """Every widget of the Compare tab that events read or write."""

    panes: list[PaneWidgets]
    n_panes: gr.Radio
    blind: gr.Checkbox
    system_prompt: gr.Textbox
    sampling: list[gr.components.Component]
    message: gr.Textbox
    send: gr.Button
    stop: gr.Button
    regenerate: gr.Button
    clear: gr.Button
    state: gr.State


def sampling_from_widgets(temperature: float, top_p: float, top_k: float, repetition_penalty: float,
                          max_new_tokens: float, seed: float | None, stop_text: str) -> SamplingParams:
    """Widget values -> SamplingParams (blank seed = random; one stop sequence per line)."""
    stops = tuple(line for line in (stop_text or "").splitlines() if line)
    return SamplingParams(temperature=float(temperature), top_p=float(top_p), top_k=int(top_k),
                          repetition_penalty=float(repetition_penalty), max_new_tokens=int(max_new_tokens),
                          seed=int(seed) if seed not in (None, "") else None, stop=stops)


def _sampling_widgets() -> list[gr.components.Component]:
    defaults = SamplingParams()
    return [
        gr.Slider(0.0, 2.0, value=defaults.temperature, step=0.05, label="Temperature (0 = greedy)"),
        gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.01, label="top_p (1.0 = off, not sent)"),
        gr.Slider(0, 200, value=defaults.top_k, step=1, label="top_k (0 = off)"),
        gr.Slider(0.5, 2.0, value=defaults.repetition_penalty, step=0.01, label="Repetition penalty"),
        gr.Slider(1, 8192, value=defaults.max_new_tokens, step=1, label="Max new tokens"),
        gr.Number(value=None, precision=0, label="Seed (blank = random)"),
        gr.Textbox(value="", lines=2, label="Stop sequences (one per line, at most 4)"),
    ]


def build_compare(settings: Settings) -> CompareWidgets:
    """Lay out the Compare tab inside the current Blocks context (no events wired)."""
    choices = [(spec.label, spec.id) for spec in settings.backends]
    ids = [spec.id for spec in settings.backends]
    with gr.Row():
        n_panes = gr.Radio([2, 3, 4], value=2, label="Panes", scale=0, min_width=200)
        blind = gr.Checkbox(False, label="Blind (arena): random models, names hidden until you vote",
                            elem_id="blind", scale=0, min_width=300)
    panes = []
    with gr.Row(equal_height=False):
        for i in range(settings.max_panes):
            with gr.Column(visible=i < 2, min_width=260, elem_classes=["pane"]) as column:
                backend = gr.Dropdown(choices, value=ids[i % len(ids)] if ids else None,
                                      label=f"Pane {chr(65 + i)}", elem_id=f"pane-{i}-backend")
                chatbot = gr.Chatbot(label=f"Pane {chr(65 + i)}", height=460, elem_id=f"pane-{i}-chat",
                                     buttons=["copy"], feedback_options=None)
                metrics = gr.Markdown("", elem_id=f"pane-{i}-metrics")
            panes.append(PaneWidgets(column, backend, chatbot, metrics))
    system_prompt = gr.Textbox(DEFAULT_SYSTEM_PROMPT, lines=3, label="System prompt", elem_id="system-prompt")
    with gr.Accordion("Sampling (Nous reference defaults)", open=False):
        sampling = _sampling_widgets()
    with gr.Row():
        message = gr.Textbox(placeholder="Message all panes…", lines=2, show_label=False, scale=5,
                             elem_id="message")
        with gr.Column(scale=1, min_width=160):
            send = gr.Button("Send", variant="primary", elem_id="send")
            stop = gr.Button("Stop", variant="stop", elem_id="stop")
    with gr.Row():
        regenerate = gr.Button("Regenerate last turn", size="sm", elem_id="regenerate")
        clear = gr.Button("Clear", size="sm", elem_id="clear")
    return CompareWidgets(panes, n_panes, blind, system_prompt, sampling, message, send, stop, regenerate, clear,
                          gr.State(CompareSession()))


def _pane_outputs(panes: list[PaneState], widget_count: int) -> list[Any]:
    chats = [chat_messages(p) for p in panes] + [[] for _ in range(widget_count - len(panes))]
    lines = [metrics_line(p.metrics, p.status) for p in panes] + ["" for _ in range(widget_count - len(panes))]
    return [*chats, *lines]


def blind_assignment(settings: Settings, n: int, rng: random.Random) -> list[str]:
    """Random backends for a blind battle: distinct while there are enough, in random order."""
    ids = [spec.id for spec in settings.backends]
    return rng.sample(ids, n) if len(ids) >= n else [rng.choice(ids) for _ in range(n)]


def _panes_for(panes: list[PaneState], backend_ids: list[str], settings: Settings) -> list[PaneState]:
    """Keep each pane's conversation unless its backend changed (then it starts afresh)."""
    out = []
    for i, backend_id in enumerate(backend_ids):
        old = panes[i] if i < len(panes) else None
        if old is not None and old.backend_id == backend_id:
            out.append(old)
        else:
            out.append(PaneState(backend_id=backend_id, label=settings.backend(backend_id).label))
    return out


@dataclass
class TurnEvents:
    """Events other tabs chain onto: those that run a turn, Stop and Clear."""

    turns: list[Any]
    stop: Any
    clear: Any


def wire_compare(w: CompareWidgets, settings: Settings, backends: Mapping[str, Backend]) -> TurnEvents:
    """Attach the Compare tab's events; returns them so voting can follow a turn."""
    count = len(w.panes)
    outputs = [*(p.chatbot for p in w.panes), *(p.metrics for p in w.panes), w.state]

    async def stream_turn(session: CompareSession, text: str, system: str) -> AsyncIterator[list[Any]]:
        jobs = []
        for pane in session.panes:
            messages = turn.conversation(pane, system, text)
            turn.begin(pane, text, system, messages)
            jobs.append(turn.PaneJob(backends[pane.backend_id], tuple(messages), session.sampling))
        yield [*_pane_outputs(session.panes, count), session]
        async for _ in turn.run_turn(jobs, session.panes):
            yield [*_pane_outputs(session.panes, count), session]

    def validated(text: str, system: str, n: int, backend_ids: list[str]) -> None:
        if not settings.backends:
            raise gr.Error("No backend is configured: see the setup help at the top of the page.")
        if not text.strip():
            raise gr.Error("Type a message first.")
        if any(b is None for b in backend_ids[:n]):
            raise gr.Error("Choose a backend for every pane.")
        try:
            check_no_special_tokens(text)
            check_no_special_tokens(system)
        except ForgedTurnError as exc:
            raise gr.Error(str(exc)) from None

    async def send(text: str, system: str, n: int, blind: bool, *rest: Any) -> AsyncIterator[list[Any]]:
        sampling, backend_ids, session = rest[:7], list(rest[7:7 + count]), rest[-1]
        validated(text, system, int(n), backend_ids)
        panes = session.panes
        if blind and (len(panes) != int(n) or not panes[0].transcript):  # a new battle: models chosen here
            backend_ids = blind_assignment(settings, int(n), random.SystemRandom())
        elif blind:  # a battle goes on with the same hidden models
            backend_ids = [pane.backend_id for pane in panes]
        params = sampling_from_widgets(*sampling)
        if len(params.stop) > MAX_STOP_SEQUENCES:
            raise gr.Error(f"{len(params.stop)} stop sequences given; TGI accepts at most {MAX_STOP_SEQUENCES}.")
        session.panes = _panes_for(panes, backend_ids[: int(n)], settings)
        session.sampling, session.blind = params, bool(blind)
        async for update in stream_turn(session, text, system):
            yield [*update, ""]

    async def regenerate(system: str, n: int, *rest: Any) -> AsyncIterator[list[Any]]:
        sampling, session = rest[:7], rest[-1]
        if not session.panes or not session.panes[0].transcript:
            raise gr.Error("Nothing to regenerate yet.")
        text = session.panes[0].transcript[-1].user
        for pane in session.panes:
            if pane.transcript:
                turn.drop_last_exchange(pane)
        session.sampling = sampling_from_widgets(*sampling)
        async for update in stream_turn(session, text, system):
            yield update

    def stop(session: CompareSession) -> list[Any]:
        turn.stop(session.panes)
        return [*_pane_outputs(session.panes, count), session]

    def clear() -> list[Any]:
        return [*_pane_outputs([], count), CompareSession()]

    def show_panes(n: int) -> list[Any]:
        return [gr.Column(visible=i < int(n)) for i in range(count)]

    def toggle_blind(blind: bool) -> list[Any]:
        return [gr.Dropdown(visible=not blind) for _ in range(count)] + [*_pane_outputs([], count), CompareSession()]

    backend_inputs = [p.backend for p in w.panes]
    send_inputs = [w.message, w.system_prompt, w.n_panes, w.blind, *w.sampling, *backend_inputs, w.state]
    send_event = w.send.click(send, send_inputs, [*outputs, w.message])
    submit_event = w.message.submit(send, send_inputs, [*outputs, w.message])
    regen_event = w.regenerate.click(regenerate, [w.system_prompt, w.n_panes, *w.sampling, w.state], outputs)
    turn_events = [send_event, submit_event, regen_event]
    stop_event = w.stop.click(stop, [w.state], outputs, cancels=turn_events, queue=False)
    clear_event = w.clear.click(clear, None, outputs, cancels=turn_events, queue=False)
    w.n_panes.change(show_panes, w.n_panes, [p.column for p in w.panes], queue=False)
    w.blind.change(toggle_blind, w.blind, [*backend_inputs, *outputs], cancels=turn_events, queue=False)
    return TurnEvents(turns=turn_events, stop=stop_event, clear=clear_event)
