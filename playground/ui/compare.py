"""The Compare tab: 2–4 panes, one message box, all panes streaming at once."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from playground.compare import run as turn
from playground.backends.base import Backend
from playground.backends.windows import ContextWindows
from playground.hermes.builtin_tools import ToolContext, load_stock_table
from playground.compare.pacing import UpdatePacer
from playground.settings import Settings
from playground.compare.prepare import (
    SHARED,
    TurnChoices,
    TurnSetupError,
    continue_pane,
    sampling_from_widgets,
    start_turn,
    take_tool_result,
)
from playground.types import SamplingParams
from playground.compare.state import CompareSession, PaneState
from playground.ui.access import Gatekeeper
from playground.ui.blind import names_hidden, pane_name, shown_pane, shown_summary
from playground.ui.inputs import refusal
from playground.ui.inspector import inspector_header, inspector_text
from playground.ui.modes import (
    MODE_LABELS,
    ModeAssets,
    ModeWidgets,
    SystemPromptWidgets,
    build_modes,
    build_system_prompt,
    load_mode_assets,
    system_value,
    wire_modes,
    wire_system_prompt,
)
from playground.ui.pane_head import COMPOSER_HINT, pane_head_html
from playground.ui.panes import awaiting_line, chat_messages

Outputs = dict[Any, Any]
TURNS = "turns"  # the concurrency id of every event that runs a turn (at most --max-turns at once)


@dataclass
class PaneWidgets:
    """The widgets of one pane."""

    column: gr.Column
    backend: gr.Dropdown
    own_system: gr.Checkbox
    system: SystemPromptWidgets
    chatbot: gr.Chatbot
    metrics: gr.Markdown
    tool_box: gr.Group
    tool_call: gr.Markdown
    tool_result: gr.Textbox
    tool_send: gr.Button
    inspector: gr.Accordion
    inspector_header: gr.Markdown
    inspector_code: gr.Code
    head: gr.HTML  # the pane's health and system-prompt badges (ui/pane_head.py)


@dataclass
class CompareWidgets:
    """Every widget of the Compare tab that events read or write."""

    panes: list[PaneWidgets]
    n_panes: gr.Radio
    blind: gr.Checkbox
    modes: ModeWidgets
    system: SystemPromptWidgets
    sampling: list[gr.components.Component]
    message: gr.Textbox
    send: gr.Button
    stop: gr.Button
    regenerate: gr.Button
    clear: gr.Button
    state: gr.State
    assets: ModeAssets
    after_turn: gr.Column  # empty, right under the buttons: where voting goes


def _sampling_widgets() -> list[gr.components.Component]:
    """The sampling controls in ``sampling_from_widgets`` order.

    The seed is a Textbox: a ``gr.Number`` left blank reads 0 in Gradio 6, so every request
    would carry ``seed: 0``.
    """
    defaults = SamplingParams()
    sliders = [
        gr.Slider(0.0, 2.0, value=defaults.temperature, step=0.05, label="Temperature (0 = greedy)"),
        gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.01, label="top_p (1.0 = off, not sent)"),
        gr.Slider(0, 200, value=defaults.top_k, step=1, label="top_k (0 = off)"),
        gr.Slider(0.5, 2.0, value=defaults.repetition_penalty, step=0.01, label="Repetition penalty"),
        gr.Slider(1, 8192, value=defaults.max_new_tokens, step=1, label="Max new tokens"),
    ]
    with gr.Row():
        seed = gr.Textbox("", label="Seed (blank = random, none sent)", placeholder="random", elem_id="seed",
                          scale=1, min_width=120)
        same_seed = gr.Checkbox(defaults.same_seed, elem_id="same-seed", scale=2, min_width=160,
                                label="Same seed for all panes (off: pane A gets the seed, B seed + 1, …)")
    stop = gr.Textbox(value="", lines=2, label="Stop sequences (one per line, at most 4)")
    return [*sliders, seed, stop, same_seed]


def _build_pane(i: int, settings: Settings, assets: ModeAssets) -> PaneWidgets:
    name = f"Pane {chr(65 + i)}"
    choices = [(spec.label, spec.id) for spec in settings.backends]
    ids = [spec.id for spec in settings.backends]
    with gr.Column(visible=i < 2, min_width=280, elem_classes=["pane"], elem_id=f"pane-{i}") as column:
        with gr.Row(elem_classes=["pane-head"], equal_height=True):
            backend = gr.Dropdown(choices, value=ids[i % len(ids)] if ids else None, label=f"{name} model",
                                  show_label=False, container=False, elem_id=f"pane-{i}-backend", scale=1,
                                  min_width=150)
            head = gr.HTML(pane_head_html(i, None, own=False, blind=False), elem_id=f"pane-{i}-head",
                           js_on_load=None, scale=1, min_width=150)
        # The chatbot's label names the pane ("Model A" in a blind battle); app.css keeps it from floating.
        chatbot = gr.Chatbot(label=name, height="52vh", min_height=260, elem_id=f"pane-{i}-chat",
                             buttons=["copy"], feedback_options=None, elem_classes=["pane-chat"])
        metrics = gr.Markdown("", elem_id=f"pane-{i}-metrics")
        with gr.Group(visible=False) as tool_box:
            tool_call = gr.Markdown("", elem_id=f"pane-{i}-tool-call", padding=True)
            tool_result = gr.Textbox(lines=3, label="Tool result", elem_id=f"pane-{i}-tool-result",
                                     placeholder="The tool's result: JSON, or plain text")
            tool_send = gr.Button("Return result to the model", size="sm", elem_id=f"pane-{i}-tool-send")
        with gr.Accordion("System prompt for this pane", open=False, elem_id=f"pane-{i}-system-box"):
            own = gr.Checkbox(False, label="Use its own system prompt instead of the shared one",
                              elem_id=f"pane-{i}-own-system")
            system = build_system_prompt(assets, f"{name} system prompt", f"pane-{i}-system")
        with gr.Accordion("Prompt inspector", open=False, elem_id=f"pane-{i}-inspector") as inspector:
            header = gr.Markdown(elem_id=f"pane-{i}-inspector-header")
            code = gr.Code(language=None, label="Sent", elem_id=f"pane-{i}-inspector-code", max_lines=30)
    return PaneWidgets(column, backend, own, system, chatbot, metrics, tool_box, tool_call, tool_result, tool_send,
                       inspector, header, code, head)


def build_compare(settings: Settings) -> CompareWidgets:
    """Lay out the Compare tab inside the current Blocks context (no events wired).

    Panes on the left with the message box pinned under them (app.css makes it sticky);
    the mode switch, its editors, the shared system prompt and sampling in a side column that
    scrolls on its own. Narrow screens stack the panes, then the side column.
    """
    assets = load_mode_assets(settings.assets_dir)
    with gr.Row(equal_height=False, elem_id="compare-main"):
        with gr.Column(scale=3, min_width=300, elem_id="compare-stage"):
            with gr.Row(elem_id="compare-bar"):
                n_panes = gr.Radio([2, 3, 4], value=2, label="Panes", scale=0, min_width=200)
                blind = gr.Checkbox(False, label="Blind (arena): random models, names hidden until you vote",
                                    elem_id="blind", scale=1, min_width=260)
            with gr.Row(equal_height=False, elem_id="panes"):
                panes = [_build_pane(i, settings, assets) for i in range(settings.max_panes)]
            after_turn = gr.Column()
            with gr.Column(elem_id="composer"):
                with gr.Row(equal_height=True):
                    message = gr.Textbox(placeholder="Message all panes (Enter sends, Shift+Enter adds a line)",
                                         lines=1, max_lines=8, label="Message", show_label=False, scale=5,
                                         min_width=180, elem_id="message", container=False)
                    send = gr.Button("Send", variant="primary", elem_id="send", scale=0, min_width=80)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=80)
                with gr.Row(elem_id="composer-tools"):
                    gr.HTML(COMPOSER_HINT, elem_id="message-hint", js_on_load=None)
                    regenerate = gr.Button("Regenerate last turn", size="sm", elem_id="regenerate", scale=0,
                                           min_width=150)
                    clear = gr.Button("Clear", size="sm", elem_id="clear", scale=0, min_width=70)
        with gr.Column(scale=1, min_width=300, elem_id="compare-settings"):
            mode = gr.Radio(list(MODE_LABELS), value=next(iter(MODE_LABELS)), label="Mode", elem_id="mode")
            modes = build_modes(assets, mode)
            with gr.Accordion("System prompt", open=True, elem_id="system-box"):
                system = build_system_prompt(assets, "System prompt", "system-prompt")
            with gr.Accordion("Sampling (Nous reference defaults)", open=False, elem_id="sampling-box"):
                sampling = _sampling_widgets()
    return CompareWidgets(panes, n_panes, blind, modes, system, sampling, message, send, stop, regenerate,
                          clear, gr.State(CompareSession()), assets, after_turn)


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
    """Events other tabs chain onto (those that run a turn, Stop and Clear), and the full view."""

    turns: list[Any]
    stop: Any
    clear: Any
    refresh: Any  # CompareSession -> every pane widget, e.g. to show the names after a blind vote
    outputs: list[Any]


class CompareView:
    """Pane states -> widget updates for the Compare tab (``live`` while streaming, ``full`` otherwise)."""

    def __init__(self, w: CompareWidgets, settings: Settings) -> None:
        self.w, self.settings = w, settings

    def live(self, session: CompareSession) -> Outputs:
        """What changes while tokens stream: chats, summaries, the state, already postprocessed.

        Turn events run with ``postprocess=False`` and get these values: Gradio would otherwise
        postprocess each output in a worker thread and walk it twice for files, on every update
        (about a fifth of the app's CPU per turn under load, measured with benchmarks/load.py).
        """
        out: Outputs = {self.w.state: session}
        for i, widgets in enumerate(self.w.panes):
            pane = session.panes[i] if i < len(session.panes) else None
            shown = chat_messages(shown_pane(i, pane, session)) if pane else []
            out[widgets.chatbot] = widgets.chatbot.postprocess(shown).model_dump()
            out[widgets.metrics] = widgets.metrics.postprocess(shown_summary(pane, session) if pane else "")
        return out

    def live_outputs(self) -> list[Any]:
        """The components a streaming update writes (see :meth:`live`)."""
        return [self.w.state, *(c for p in self.w.panes for c in (p.chatbot, p.metrics))]

    def full(self, session: CompareSession, clear_tool_results: bool = False) -> Outputs:
        """Everything: also tool-result boxes (emptied if asked) and the prompt inspector."""
        out: Outputs = {self.w.state: session}
        for i, widgets in enumerate(self.w.panes):
            pane = session.panes[i] if i < len(session.panes) else None
            out[widgets.chatbot] = gr.Chatbot(chat_messages(shown_pane(i, pane, session)) if pane else [],
                                              label=pane_name(i, session))
            out[widgets.metrics] = shown_summary(pane, session) if pane else ""
            step = turn.awaiting_tool(pane) if pane else None
            out[widgets.tool_box] = gr.Group(visible=step is not None)
            out[widgets.tool_call] = awaiting_line(step) if step else ""
            # plain values, not component updates: Gradio builds a new component per update
            out[widgets.tool_result] = "" if clear_tool_results else gr.skip()
            spec = self.settings.backend(pane.backend_id) if pane and not names_hidden(session) else None
            out[widgets.inspector_header] = (inspector_header(pane, spec) if pane and spec else
                                             "Hidden in a blind battle until you vote." if pane else "")
            out[widgets.inspector_code] = inspector_text(pane, spec) if pane and spec else ""
        return out

    def outputs(self) -> list[Any]:
        """Every component a turn event may update."""
        return [self.w.state, *(c for p in self.w.panes for c in (
            p.chatbot, p.metrics, p.tool_box, p.tool_call, p.tool_result, p.inspector_header, p.inspector_code))]


def wire_compare(w: CompareWidgets, settings: Settings, backends: Mapping[str, Backend], gate: Gatekeeper,
                 visitor: gr.State) -> TurnEvents:
    """Attach the Compare tab's events; returns them so voting can follow a turn.

    Starting a turn asks ``gate`` first (quotas); the guard in front of Gradio already refused a
    second turn of a session that has one queued or running.
    """
    count = len(w.panes)
    view = CompareView(w, settings)
    windows = ContextWindows(backends)
    pacer = UpdatePacer()
    tool_context = ToolContext(stocks=load_stock_table(settings.assets_dir / "tools" / "stock_fundamentals.csv"))
    wire_system_prompt(w.system, w.assets)
    for pane in w.panes:
        wire_system_prompt(pane.system, w.assets)
    wire_modes(w.modes, w.system, w.assets)

    def choices_from(values: Mapping[Any, Any]) -> TurnChoices:
        if values[w.modes.mode] not in MODE_LABELS:
            raise refusal(f"Mode must be one of {', '.join(MODE_LABELS)}.")
        own = tuple(system_value(values[p.system.no_system], values[p.system.text]) if values[p.own_system]
                    else SHARED for p in w.panes)
        return TurnChoices(
            mode=MODE_LABELS[values[w.modes.mode]],
            sampling=sampling_from_widgets(*(values[c] for c in w.sampling), limits=settings.limits),
            system=system_value(values[w.system.no_system], values[w.system.text]), pane_systems=own,
            tools_text=values[w.modes.tools], schema_text=values[w.modes.schema],
            grammar=bool(values[w.modes.grammar]), max_depth=values[w.modes.max_depth])

    async def stream(session: CompareSession, jobs: Sequence[turn.PaneJob], panes: Sequence[PaneState]
                     ) -> AsyncIterator[Outputs]:
        yield view.live(session)
        async for _ in turn.run_turn(jobs, panes, windows, pacer=pacer):
            yield view.live(session)

    async def send(values: dict[Any, Any], request: gr.Request) -> AsyncIterator[Outputs]:
        gate.turn(request, values[visitor])
        session: CompareSession = values[w.state]
        n, blind = int(values[w.n_panes]), bool(values[w.blind])
        if not settings.backends:
            raise refusal("No backend is configured: see the setup help at the top of the page.")
        backend_ids = [values[p.backend] for p in w.panes][:n]
        if blind and (len(session.panes) != n or not session.panes[0].transcript):  # a new battle
            backend_ids = blind_assignment(settings, n, random.SystemRandom())
            session.revealed = False
        elif blind:  # a battle goes on with the same hidden models
            backend_ids = [pane.backend_id for pane in session.panes]
        if any(b is None for b in backend_ids):
            raise refusal("Choose a backend for every pane.")
        previous = session.panes
        session.panes = _panes_for(previous, backend_ids, settings)
        session.blind = blind
        try:
            jobs = start_turn(session, choices_from(values), values[w.message], backends, tool_context,
                              settings.limits)
        except TurnSetupError as exc:
            session.panes = previous
            raise refusal(str(exc)) from None
        first = True
        async for update in stream(session, jobs, session.panes):
            if first:
                update[w.message], first = "", False
            yield update

    async def regenerate(values: dict[Any, Any], request: gr.Request) -> AsyncIterator[Outputs]:
        gate.turn(request, values[visitor])
        session: CompareSession = values[w.state]
        if not session.panes or not session.panes[0].transcript or any(p.status == "tool_input"
                                                                        for p in session.panes):
            raise refusal("Nothing to regenerate yet (or a pane still waits for a tool result).")
        dropped = [(pane.transcript[-1], pane.history) for pane in session.panes]
        text = [turn.drop_last_exchange(pane) for pane in session.panes][0]
        try:
            jobs = start_turn(session, choices_from(values), text, backends, tool_context, settings.limits)
        except TurnSetupError as exc:
            for pane, (exchange, history) in zip(session.panes, dropped):
                pane.transcript.append(exchange)
                pane.history = history
            raise refusal(str(exc)) from None
        async for update in stream(session, jobs, session.panes):
            yield update

    def tool_result_handler(index: int) -> Any:
        async def return_result(text: str, session: CompareSession) -> AsyncIterator[Outputs]:
            pane = session.panes[index] if index < len(session.panes) else None
            if pane is None or turn.awaiting_tool(pane) is None:
                raise refusal("This pane is not waiting for a tool result.")
            try:
                take_tool_result(pane, text, settings.limits)
            except TurnSetupError as exc:
                raise refusal(str(exc)) from None
            if turn.awaiting_tool(pane) is not None:  # more calls of this round still wait
                yield view.live(session)
                return
            job = continue_pane(pane, session, backends[pane.backend_id], tool_context)
            async for update in stream(session, [job], [pane]):
                yield update

        return_result.__name__ = f"return_tool_result_{index}"
        return return_result

    async def inspect(session: CompareSession) -> Outputs:
        session.inspect = True
        for pane in session.panes:
            request = pane.last_request
            if request is not None and pane.budget is not None and pane.budget.source != "tokenize":
                counted = await backends[pane.backend_id].count_tokens(request)
                if counted is not None:
                    pane.budget = replace(pane.budget, prompt_tokens=counted, source="tokenize")
        return view.full(session)

    def show_full(session: CompareSession) -> Outputs:
        return view.full(session)

    def show_full_cleared(session: CompareSession) -> Outputs:
        return view.full(session, clear_tool_results=True)

    def stop(session: CompareSession) -> Outputs:
        turn.stop(session.panes)
        return view.full(session)

    def clear() -> Outputs:
        return view.full(CompareSession())

    def show_panes(n: int) -> list[Any]:
        return [gr.Column(visible=i < int(n)) for i in range(count)]

    def toggle_blind(blind: bool) -> list[Any]:
        return [gr.Dropdown(visible=not blind) for _ in range(count)]

    outputs = view.outputs()
    modes = w.modes
    inputs = {w.message, w.n_panes, w.blind, w.state, visitor, *w.sampling, w.system.no_system, w.system.text, modes.mode,
              modes.tools, modes.schema, modes.grammar, modes.max_depth,
              *(c for p in w.panes for c in (p.backend, p.own_system, p.system.no_system, p.system.text))}
    live = view.live_outputs()
    turn_options: dict[str, Any] = {"postprocess": False, "concurrency_id": TURNS,
                                    "concurrency_limit": settings.max_turns}
    send_event = w.send.click(send, inputs, [*live, w.message], api_name="send", **turn_options)
    submit_event = w.message.submit(send, inputs, [*live, w.message], api_name=False, **turn_options)
    regen_event = w.regenerate.click(regenerate, inputs, live, api_name="regenerate", **turn_options)
    tool_events = [p.tool_send.click(tool_result_handler(i), [p.tool_result, w.state], live, **turn_options)
                   for i, p in enumerate(w.panes)]
    glue: dict[str, Any] = {"queue": False, "api_visibility": "private"}  # UI glue: no named API endpoint
    for event in (send_event, submit_event, regen_event):
        event.then(show_full, [w.state], outputs, **glue)
    for event in tool_events:  # only after a result was taken: a refused one stays in its box
        event.success(show_full_cleared, [w.state], outputs, **glue)
    turn_events = [send_event, submit_event, regen_event, *tool_events]
    stop_event = w.stop.click(stop, [w.state], outputs, cancels=turn_events, queue=False)
    clear_event = w.clear.click(clear, None, outputs, cancels=turn_events, queue=False)
    for p in w.panes:
        p.inspector.expand(inspect, [w.state], outputs, api_visibility="private")
    w.n_panes.change(show_panes, w.n_panes, [p.column for p in w.panes], **glue)
    blind_event = w.blind.change(toggle_blind, w.blind, [p.backend for p in w.panes], cancels=turn_events, **glue)
    blind_event.then(clear, None, outputs, **glue)
    return TurnEvents(turns=turn_events, stop=stop_event, clear=clear_event, refresh=show_full, outputs=outputs)
