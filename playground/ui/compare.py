"""The Compare tab: 2–4 panes, one message box, all panes streaming at once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.backends.base import Backend
from playground.compare import run as turn
from playground.compare.actions import Turns, turn_running
from playground.compare.prepare import (
    SHARED,
    TurnChoices,
    TurnSetupError,
    sampling_from_widgets,
)
from playground.compare.state import CompareSession
from playground.compare.votes import blind_now
from playground.settings import Settings
from playground.types import SamplingParams
from playground.ui.access import Gatekeeper
from playground.ui.blind import pane_name, shown_pane, shown_summary
from playground.ui.inputs import preprocessed, refusal
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
from playground.ui.pane_head import COMPOSER_HINT, pane_head_html, pane_title
from playground.ui.panes import awaiting_line, chat_messages

Outputs = dict[Any, Any]
TURNS = "turns"  # the concurrency id of every event that runs a turn (at most --max-turns at once)

# Send empties the message box in the page as the request leaves (the text is in it). The server cannot do it:
# its update would have to leave the box alone on every later streamed update, and Gradio turns each "leave it
# alone" into a whole new Textbox (a fifth of the app's CPU per turn). A refused turn puts the text back unless
# something new was typed; Stop, Clear and the Blind switch forget it first, since cancelling a turn also runs
# its failure listeners.
TAKE_MESSAGE_JS = """(...values) => {
  const box = document.querySelector("#message textarea");
  window.hermesUnsent = box ? box.value : null;
  if (box) { box.value = ""; box.dispatchEvent(new Event("input", {bubbles: true})); }
  return values;
}"""
PUT_BACK_MESSAGE_JS = "(typed) => typed || window.hermesUnsent || ''"
FORGET_MESSAGE_JS = "(...values) => { window.hermesUnsent = null; return values; }"


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
    rank: gr.Button  # its place when ranking 3–4 panes: click to pick it next (ui/vote.py shows and wires it)


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
    after_turn: gr.Column  # empty, pinned with the message box right under the panes: where voting goes


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
            rank = gr.Button("Rank", visible=False, size="lg", scale=0, min_width=110, elem_id=f"pane-{i}-rank",
                             elem_classes=["rank-mark"])
        # The chatbot's label names the pane ("Model A" in a blind battle); app.css keeps it from floating.
        title = pane_title(i, ids[i % len(ids)] if ids else None, {spec.id: spec.label for spec in settings.backends})
        chatbot = gr.Chatbot(label=title, height="52vh", min_height=260, elem_id=f"pane-{i}-chat",
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
                       inspector, header, code, head, rank)


def build_compare(settings: Settings) -> CompareWidgets:
    """Lay out the Compare tab inside the current Blocks context (no events wired).

    Panes on the left with the vote bar and the message box pinned under them (app.css makes it sticky);
    the mode switch, its editors, the shared system prompt and sampling in a side column that
    scrolls on its own. Narrow screens stack the panes, then the side column.
    """
    assets = load_mode_assets(settings.assets_dir)
    with gr.Row(equal_height=False, elem_id="compare-main"):
        with gr.Column(scale=3, min_width=300, elem_id="compare-stage"):
            with gr.Row(elem_id="compare-bar"):
                n_panes = gr.Radio([2, 3, 4], value=2, label="Panes", scale=1, min_width=250)
                blind = gr.Checkbox(False, label="Blind (arena): random models, names hidden until you vote",
                                    elem_id="blind", scale=1)
            with gr.Row(equal_height=False, elem_id="panes"):
                panes = [_build_pane(i, settings, assets) for i in range(settings.max_panes)]
            with gr.Column(elem_id="composer"):
                after_turn = gr.Column(elem_id="vote-dock")
                with gr.Row(equal_height=True):
                    message = gr.Textbox(placeholder="Message all panes…", lines=1, max_lines=8, label="Message",
                                         show_label=False, scale=5, min_width=150, elem_id="message",
                                         container=False)
                    send = gr.Button("Send", variant="primary", elem_id="send", scale=0, min_width=70)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=70)
                with gr.Row(elem_id="composer-tools"):
                    gr.HTML(COMPOSER_HINT, elem_id="message-hint", js_on_load=None, scale=1, min_width=140)
                    regenerate = gr.Button("Regenerate last turn", size="sm", elem_id="regenerate", scale=0,
                                           min_width=150)
                    clear = gr.Button("Clear", size="sm", elem_id="clear", scale=0, min_width=60)
        with gr.Column(scale=1, min_width=340, elem_id="compare-settings"):
            mode = gr.Radio(list(MODE_LABELS), value=next(iter(MODE_LABELS)), label="Mode", elem_id="mode")
            modes = build_modes(assets, mode)
            with gr.Accordion("System prompt", open=True, elem_id="system-box"):
                system = build_system_prompt(assets, "System prompt", "system-prompt")
            with gr.Accordion("Sampling (Nous reference defaults)", open=False, elem_id="sampling-box"):
                sampling = _sampling_widgets()
    return CompareWidgets(panes, n_panes, blind, modes, system, sampling, message, send, stop, regenerate,
                          clear, gr.State(CompareSession()), assets, after_turn)


@dataclass
class TurnEvents:
    """Events other tabs chain onto (those that run a turn, Stop and Clear), and the full view."""

    turns: list[Any]
    stop: Any
    clear: Any
    refresh: Any  # CompareSession -> every pane widget, e.g. to show the names after a blind vote
    outputs: list[Any]
    actions: Turns  # the entry points (start, regenerate, tool result, stop, record) the events call
    started: list[Any]  # each turn trigger's first listener (turn buttons off): chain on it to act as a turn starts


class CompareView:
    """Pane states -> widget updates for the Compare tab (``live`` while streaming, ``full`` otherwise).

    Every value is already postprocessed: the events that show them run with ``postprocess=False``
    (Gradio would otherwise postprocess each output in a worker thread and walk it twice for files,
    on every update: about a fifth of the app's CPU per turn under load, benchmarks/load.py). The
    session is not an output: every action changes it in place, and an output ``gr.State`` costs
    Gradio a walk over every listener per update. A title (the chat's label) is sent only where it
    can change, since any property update makes Gradio build a new component.
    """

    def __init__(self, w: CompareWidgets, settings: Settings) -> None:
        self.w, self.settings = w, settings
        self.labels = {spec.id: spec.label for spec in settings.backends}

    def titles(self, session: CompareSession, blind: object, backend_ids: Sequence[object]) -> list[str]:
        """Each pane's title: the model of its conversation, "Model A" in a hidden blind battle (or with Blind on
        before one), else the model its dropdown (``backend_ids``) picked."""
        return [pane_name(i, session) if i < len(session.panes) or blind_now(session) else
                f"Model {chr(65 + i)}" if blind is True else pane_title(i, backend_id, self.labels)
                for i, backend_id in enumerate(backend_ids)]

    def names(self, session: CompareSession) -> list[str]:
        """Each pane's title from the session alone: "Model A" in a hidden blind battle, else its model."""
        return [pane_name(i, session) for i in range(len(self.w.panes))]

    def _chat(self, i: int, session: CompareSession, title: str | None) -> Any:
        pane = session.panes[i] if i < len(session.panes) else None
        chatbot = self.w.panes[i].chatbot
        value = chatbot.postprocess(chat_messages(shown_pane(i, pane, session)) if pane else []).model_dump()
        return value if title is None else gr.update(value=value, label=title)

    def live(self, session: CompareSession, titles: Sequence[str] | None = None) -> Outputs:
        """What changes while tokens stream: the chats and the lines under them; the titles too if given (a title
        is a property: any property update makes Gradio build a new component, so only where they change)."""
        out: Outputs = {}
        for i, widgets in enumerate(self.w.panes):
            pane = session.panes[i] if i < len(session.panes) else None
            out[widgets.chatbot] = self._chat(i, session, titles[i] if titles else None)
            out[widgets.metrics] = widgets.metrics.postprocess(shown_summary(pane, session) if pane else "")
        return out

    def live_outputs(self) -> list[Any]:
        """The components a streaming update writes (see :meth:`live`)."""
        return [c for p in self.w.panes for c in (p.chatbot, p.metrics)]

    def full(self, session: CompareSession, clear_tool_results: bool = False,
             titles: Sequence[str] | None = None) -> Outputs:
        """Everything: also tool-result boxes (emptied if asked) and the prompt inspector."""
        out = self.live(session, titles)
        for i, widgets in enumerate(self.w.panes):
            pane = session.panes[i] if i < len(session.panes) else None
            step = turn.awaiting_tool(pane) if pane else None
            out[widgets.tool_box] = gr.update(visible=step is not None)
            out[widgets.tool_call] = widgets.tool_call.postprocess(awaiting_line(step) if step else "")
            if clear_tool_results:
                out[widgets.tool_result] = widgets.tool_result.postprocess("")
            spec = self.settings.backend(pane.backend_id) if pane and not blind_now(session) else None
            out[widgets.inspector_header] = widgets.inspector_header.postprocess(
                inspector_header(pane, spec) if pane and spec else
                "Hidden in a blind battle until you vote." if pane else "")
            out[widgets.inspector_code] = widgets.inspector_code.postprocess(
                inspector_text(pane, spec) if pane and spec else "")
        return out

    def outputs(self, tool_results: bool = True) -> list[Any]:
        """Every component :meth:`full` updates (the tool-result boxes only if ``tool_results``: an output left
        out of an update costs Gradio a new component, so events that never empty them do not list them)."""
        return [c for p in self.w.panes for c in (
            p.chatbot, p.metrics, p.tool_box, p.tool_call, *([p.tool_result] if tool_results else []),
            p.inspector_header, p.inspector_code)]


class CompareHandlers:
    """The Compare tab's event handlers: widget values -> one ``compare.actions.Turns`` call -> widgets.

    Starting a turn asks ``gate`` first (quotas); the guard in front of Gradio already refused a
    second turn of a session that has one queued or running. Setup problems become a refusal.
    """

    def __init__(self, w: CompareWidgets, turns: Turns, gate: Gatekeeper, visitor: gr.State) -> None:
        self.w, self.turns, self.gate, self.visitor = w, turns, gate, visitor
        self.view = CompareView(w, turns.settings)

    def choices(self, values: Mapping[Any, Any]) -> TurnChoices:
        """The turn's choices (mode, prompts, editors, sampling) from the widget values."""
        w = self.w
        if values[w.modes.mode] not in MODE_LABELS:
            raise refusal(f"Mode must be one of {', '.join(MODE_LABELS)}.")
        own = tuple(system_value(values[p.system.no_system], values[p.system.text]) if values[p.own_system]
                    else SHARED for p in w.panes)
        return TurnChoices(
            mode=MODE_LABELS[values[w.modes.mode]],
            sampling=sampling_from_widgets(*(values[c] for c in w.sampling), limits=self.turns.settings.limits),
            system=system_value(values[w.system.no_system], values[w.system.text]), pane_systems=own,
            tools_text=values[w.modes.tools], schema_text=values[w.modes.schema],
            grammar=bool(values[w.modes.grammar]), max_depth=values[w.modes.max_depth])

    async def send(self, values: dict[Any, Any], request: gr.Request) -> AsyncIterator[Outputs]:
        """Send: a new turn on the chosen panes (random ones in a new blind battle); the page empties the box."""
        values = preprocessed(values)
        self.gate.turn(request, values[self.visitor])
        w, n = self.w, int(values[self.w.n_panes])
        with _refused():
            updates = self.turns.start(values[w.state], self.choices(values), values[w.message],
                                       [values[p.backend] for p in w.panes][:n], bool(values[w.blind]))
        async for update in self._shown(updates):
            yield update

    async def regenerate(self, values: dict[Any, Any], request: gr.Request) -> AsyncIterator[Outputs]:
        """Regenerate: the last turn again, as a new turn."""
        values = preprocessed(values)
        self.gate.turn(request, values[self.visitor])
        with _refused():
            updates = self.turns.regenerate(values[self.w.state], self.choices(values))
        async for update in self._shown(updates):
            yield update

    def tool_result(self, index: int) -> Callable[[str, CompareSession], AsyncIterator[Outputs]]:
        """The handler of pane ``index``'s "Return result" button (named for its API endpoint)."""

        async def return_result(text: str, session: CompareSession) -> AsyncIterator[Outputs]:
            with _refused():
                updates = self.turns.continue_after_tool(session, index, text)
            async for update in self._shown(updates):
                yield update

        return_result.__name__ = f"return_tool_result_{index}"
        return return_result

    async def _shown(self, updates: AsyncIterator[CompareSession]) -> AsyncIterator[Outputs]:
        """A streaming turn's updates; in a blind battle the first also titles the panes ("Model A" again after a
        vote named the last battle's models). Otherwise the titles already follow the dropdowns."""
        first = True
        async for session in updates:
            titled = first and session.blind
            yield self.view.live(session, self.view.names(session) if titled else None)
            first = False

    async def inspect(self, session: CompareSession) -> Outputs:
        """The prompt inspector opened: exact token counts, then every pane widget."""
        await self.turns.recount_tokens(session)
        return self.view.full(session)

    def turn_ended(self, session: CompareSession) -> Outputs:
        """A turn event ended: every pane widget as the session is now, and the turn buttons on again."""
        return {**self.view.full(session), **self.unlock(session)}

    def tool_turn_ended(self, session: CompareSession) -> Outputs:
        """A turn continued after a tool result ended: as :meth:`turn_ended`, the tool-result boxes emptied."""
        return {**self.view.full(session, clear_tool_results=True), **self.unlock(session)}

    def show_full(self, session: CompareSession) -> Outputs:
        """Every pane widget as the session is now, titles included (the names after a blind vote)."""
        return self.view.full(session, titles=self.view.names(session))

    def stop(self, session: CompareSession) -> Outputs:
        """Stop: every pane stops, keeping its text; the turn buttons are on again."""
        self.turns.stop(session)
        return {**self.view.full(session), **self.unlock(session)}

    def clear(self, session: CompareSession, blind: object, *backend_ids: object) -> Outputs:
        """Clear: the conversation forgotten in place (a turn still streaming ends with it)."""
        self.turns.clear(session)
        titles = self.view.titles(session, blind, backend_ids)
        return {**self.view.full(session, clear_tool_results=True, titles=titles), **self.unlock(session)}

    def switch_blind(self, blind: object, session: CompareSession, *backend_ids: object) -> Outputs:
        """The Blind switch moved: a new conversation, unless a turn already runs in the new setting."""
        self.turns.switch_blind(session, blind is True)
        return self.view.full(session, titles=self.view.titles(session, blind, backend_ids))

    def clear_pane(self, index: int) -> Callable[[CompareSession], Outputs]:
        """The handler of pane ``index``'s own 🗑 (its Chatbot's clear event): forget that pane's conversation.

        While a turn runs it is refused with a warning, and the pane shows its conversation again.
        """

        def clear_pane(session: CompareSession) -> Outputs:
            try:
                self.turns.clear_pane(session, index)
            except TurnSetupError as exc:
                gr.Warning(str(exc))
            return self.view.full(session)

        clear_pane.__name__ = f"clear_pane_{index}"
        return clear_pane

    def change_model(self, index: int) -> Callable[[object, object, CompareSession], Outputs]:
        """The handler of pane ``index``'s model dropdown: the pane forgets its conversation (its next request would)
        and its title names the new model at once; refused while a turn runs (the dropdown goes back)."""
        w = self.w.panes[index]

        def change_model(backend_id: object, blind: object, session: CompareSession) -> Outputs:
            try:
                self.turns.change_model(session, index, backend_id)
            except TurnSetupError as exc:
                gr.Warning(str(exc))
                pane = session.panes[index] if index < len(session.panes) else None
                return {w.backend: pane.backend_id if pane else gr.skip()}
            shown = self.view.live(session)
            hidden = blind is not False or session.blind
            title = gr.skip() if hidden else pane_title(index, backend_id, self.view.labels)
            return {w.chatbot: gr.update(value=shown[w.chatbot], label=title) if isinstance(title, str)
                    else shown[w.chatbot], w.metrics: shown[w.metrics]}

        change_model.__name__ = f"change_model_{index}"
        return change_model

    def controls(self) -> list[gr.Button]:
        """The buttons that start or continue a turn: Send, Regenerate, each pane's tool-result button."""
        return [self.w.send, self.w.regenerate, *(p.tool_send for p in self.w.panes)]

    def lock_js(self) -> str:
        """A turn was asked for: its buttons go off in the page at once (no request), until the turn has ended."""
        return f"() => Array({len(self.controls())}).fill({{__type__: 'update', interactive: false}})"

    def unlock(self, session: CompareSession) -> Outputs:
        """The turn buttons, on again unless the session's turn still runs."""
        on = not turn_running(session)
        return {button: gr.update(interactive=on) for button in self.controls()}

    def show_panes(self, n: int) -> list[Any]:
        """Show the first ``n`` pane columns."""
        return [gr.Column(visible=i < int(n)) for i in range(len(self.w.panes))]

    def toggle_blind(self, blind: bool) -> list[Any]:
        """Blind mode hides the backend choice (the battle picks at random)."""
        return [gr.Dropdown(visible=not blind) for _ in self.w.panes]


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    """A turn that cannot start is refused with the setup problem's message (nothing was changed)."""
    try:
        yield
    except TurnSetupError as exc:
        raise refusal(str(exc)) from None


def wire_compare(w: CompareWidgets, settings: Settings, backends: Mapping[str, Backend], gate: Gatekeeper,
                 visitor: gr.State) -> TurnEvents:
    """Attach the Compare tab's events; returns them so voting can follow a turn."""
    h = CompareHandlers(w, Turns.for_app(settings, backends), gate, visitor)
    wire_system_prompt(w.system, w.assets)
    for pane in w.panes:
        wire_system_prompt(pane.system, w.assets)
    wire_modes(w.modes, w.system, w.assets)
    outputs = h.view.outputs()
    modes = w.modes
    inputs = {w.message, w.n_panes, w.blind, w.state, visitor, *w.sampling, w.system.no_system, w.system.text,
              modes.mode, modes.tools, modes.schema, modes.grammar, modes.max_depth,
              *(c for p in w.panes for c in (p.backend, p.own_system, p.system.no_system, p.system.text))}
    live = h.view.live_outputs()
    # Progress shows on the small pane-count radio, hidden: on each streamed update the page refreshes the loading
    # status of every progress target any listener ever had (its outputs unless ``show_progress_on``), copying each
    # whole (a column with its children, a chat with every message); "hidden" alone keeps them targets.
    quiet: dict[str, Any] = {"show_progress": "hidden", "show_progress_on": [w.n_panes]}
    shown: dict[str, Any] = {"postprocess": False, **quiet}  # CompareView's values are postprocessed already
    turn_options: dict[str, Any] = {"concurrency_id": TURNS, "concurrency_limit": settings.max_turns, **shown}
    glue: dict[str, Any] = {"queue": False, "api_visibility": "private"}  # UI glue: no named API endpoint
    # The turn buttons go off first, in the page (no request): the page runs one trigger's listeners in order, each
    # once the one before has ended (a turn: when it has streamed). The server refuses a second turn all the same.
    controls = h.controls()
    started = [trigger(None, None, controls, js=h.lock_js(), **quiet, **glue) for trigger in (
        w.send.click, w.message.submit, w.regenerate.click, *(p.tool_send.click for p in w.panes))]
    page_only: dict[str, Any] = {"api_visibility": "undocumented"}  # one value per widget: scripts use ui/api.py
    many: dict[str, Any] = {"preprocess": False}  # 34 inputs: preprocessed inline (inputs.preprocessed: why)
    send_event = w.send.click(h.send, inputs, live, js=TAKE_MESSAGE_JS, api_name="send", **page_only, **many,
                              **turn_options)
    submit_event = w.message.submit(h.send, inputs, live, js=TAKE_MESSAGE_JS, api_name=False, **many, **turn_options)
    for event in (send_event, submit_event):
        event.failure(None, w.message, w.message, js=PUT_BACK_MESSAGE_JS, **quiet, **glue)
    regen_event = w.regenerate.click(h.regenerate, inputs, live, api_name="regenerate", **page_only, **many,
                                     **turn_options)
    tool_events = [p.tool_send.click(h.tool_result(i), [p.tool_result, w.state], live, **turn_options)
                   for i, p in enumerate(w.panes)]
    # Once a turn event has ended (streamed, refused or cancelled): every pane widget and the buttons, in one request.
    for event in (send_event, submit_event, regen_event):
        event.then(h.turn_ended, [w.state], [*h.view.outputs(tool_results=False), *controls], **shown, **glue)
    for event in tool_events:  # a result that was taken leaves its box; a refused one stays there
        event.success(h.tool_turn_ended, [w.state], [*outputs, *controls], **shown, **glue)
        event.failure(h.turn_ended, [w.state], [*h.view.outputs(tool_results=False), *controls], **shown, **glue)
    turn_events = [send_event, submit_event, regen_event, *tool_events]
    # The cancel goes first: Gradio adds a listener's ``cancels`` as a second listener after it, and the page
    # sends that only once the first one's request has returned (seconds under load).
    for button in (w.stop, w.clear):
        button.click(None, None, None, cancels=turn_events, js=FORGET_MESSAGE_JS, queue=False, api_visibility="private")
    stop_event = w.stop.click(h.stop, [w.state], [*h.view.outputs(tool_results=False), *controls], queue=False,
                              **shown)
    backends = [p.backend for p in w.panes]
    clear_event = w.clear.click(h.clear, [w.state, w.blind, *backends], [*outputs, *controls], queue=False, **shown)
    for i, p in enumerate(w.panes):  # queued: a refusal's warning shows only for queued events
        p.chatbot.clear(h.clear_pane(i), [w.state], h.view.outputs(tool_results=False), api_visibility="private",
                        **shown)
        p.backend.change(h.change_model(i), [p.backend, w.blind, w.state], [p.backend, p.chatbot, p.metrics],
                         api_visibility="private", **shown)
    for p in w.panes:
        p.inspector.expand(h.inspect, [w.state], h.view.outputs(tool_results=False), api_visibility="private",
                           **shown)
    w.n_panes.change(h.show_panes, w.n_panes, [p.column for p in w.panes], **quiet, **glue)
    blind_event = w.blind.change(h.toggle_blind, w.blind, [p.backend for p in w.panes], cancels=turn_events,
                                 js=FORGET_MESSAGE_JS, **quiet, **glue)
    blind_event.then(h.switch_blind, [w.blind, w.state, *backends], h.view.outputs(tool_results=False), **shown,
                     **glue)
    return TurnEvents(turns=turn_events, stop=stop_event, clear=clear_event, refresh=h.show_full,
                      outputs=h.view.outputs(tool_results=False), actions=h.turns, started=started)
