"""The vote bar under the Compare panes: store every finished turn, vote on it, reveal blind names.

Two panes get four large buttons; three or four are ranked by clicking the panes best first
(each pane's ``rank`` button in its header shows its place; the last pane is placed for you and
the vote is saved). assets/app.js adds the keys in ``KEYS`` and forwards a click on a pane to
its rank button: the page only clicks real buttons, every vote is decided here.

Thin: widget values become a ``Vote`` (rules in ``playground.compare.votes``), stored by
``playground.store``. A vote is acknowledged ("Vote saved") only after ``record_vote``
returned, i.e. after its transaction committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from playground.compare import votes as voting
from playground.compare.actions import Turns
from playground.compare.state import CompareSession
from playground.compare.votes import VoteSession
from playground.limits import TextLimits
from playground.settings import Settings
from playground.store.db import Store, VotedTurn
from playground.store.errors import StoreError
from playground.store.hub import HubVoteLog
from playground.types import Vote, VoteKind
from playground.ui.access import Gatekeeper, Visitor
from playground.ui.compare import CompareWidgets, TurnEvents
from playground.ui.inputs import refusal
from playground.ui.recheck import RecheckWidgets, build_recheck, wire_recheck

log = logging.getLogger(__name__)
LABELS = {"a": "← A is better", "b": "B is better →"}  # with their arrow keys; other kinds: store.votes labels
KEYS = {"pair": "Keys: **A** or **←** · **B** or **→** · **T** tie · **X** both bad",
        "rank": "Keys: **A**–**D** pick that pane next · **U** undo"}  # what assets/app.js binds
ORDINALS = ("1st", "2nd", "3rd", "4th")


@dataclass
class VoteWidgets:
    """Every widget of the vote panel."""

    panel: gr.Column
    prompt: gr.Markdown
    pair_row: gr.Row
    pair: dict[str, gr.Button]
    rank_row: gr.Row
    marks: list[gr.Button]  # each Compare pane's rank button (in its header)
    undo: gr.Button
    reset: gr.Button
    gold: gr.Accordion
    gold_text: gr.Textbox
    gold_save: gr.Button
    status: gr.Markdown
    reveal: gr.Markdown
    state: gr.State
    consent: gr.Column
    accept: gr.Button
    recheck: RecheckWidgets

    def outputs(self) -> list[Any]:
        """The components ``render`` returns values for, in order."""
        return [self.panel, self.prompt, self.pair_row, self.rank_row, *self.marks, self.gold, self.gold_text,
                self.status, self.reveal, self.state]


def build_vote(terms: str, marks: list[gr.Button]) -> VoteWidgets:
    """Lay out the vote bar (hidden until a turn has finished) inside the current Blocks context.

    ``terms`` is the consent notice shown above the buttons until accepted (public deployments);
    ``marks`` are the Compare panes' rank buttons.
    """
    with gr.Column(visible=False, elem_id="consent") as consent:
        gr.Markdown(terms, elem_id="consent-text")
        accept = gr.Button("I agree — let me vote", size="sm", elem_id="consent-accept")
    with gr.Column(visible=False, elem_id="vote-panel") as panel:
        prompt = gr.Markdown("", elem_id="vote-prompt")
        with gr.Row(visible=False, elem_id="vote-pair") as pair_row:
            pair = {kind: gr.Button(LABELS.get(kind, label), elem_id=f"vote-{kind}", size="lg", min_width=120,
                                    variant="primary" if kind in ("a", "b") else "secondary")
                    for kind, label in voting.PAIR_CHOICES.items()}
        with gr.Row(visible=False, elem_id="vote-rank") as rank_row:
            undo = gr.Button("↶ Undo", elem_id="rank-undo", size="lg", scale=0, min_width=120)
            reset = gr.Button("Reset", elem_id="rank-reset", size="lg", scale=0, min_width=120)
        with gr.Accordion("Edit the preferred reply (optional: your edit becomes the chosen answer)",
                          open=False, visible=False, elem_id="gold") as gold:
            gold_text = gr.Textbox(lines=6, label="Corrected reply", show_label=False, elem_id="gold-text")
            gold_save = gr.Button("Save edited reply", size="sm", elem_id="gold-save")
    status = gr.Markdown("", elem_id="vote-status")
    reveal = gr.Markdown("", elem_id="vote-reveal")
    recheck = build_recheck()
    return VoteWidgets(panel, prompt, pair_row, pair, rank_row, marks, undo, reset, gold, gold_text,
                       gold_save, status, reveal, gr.State(VoteSession()), consent, accept, recheck)


def render(vs: VoteSession, session: CompareSession, rank_slots: int) -> list[Any]:
    """Widget updates showing the session's stored turn, its vote and (blind mode) the names."""
    panes = session.panes
    current = voting.is_current(vs, session)
    reason = voting.not_votable_reason(panes) if current else None
    votable = current and reason is None
    n = len(panes)
    if vs.problem:
        status = f"⚠️ {vs.problem}"
    elif current and reason:
        status = f"Voting is off for this turn: {reason}. The turn was stored all the same."
    elif votable and vs.vote is not None:
        status = f"✅ Vote saved: **{voting.describe_vote(vs.vote)}**. Choose again to change it before the next turn."
    else:
        status = ""
    keys = f'<span class="vote-keys">{KEYS["pair" if n == 2 else "rank"]}</span>'  # app.css: not on touch screens
    prompt = (f"**Which reply is better?** {keys}" if n == 2 else
              f"**Rank the replies: click the panes, best first** (the last is placed for you). {keys}")
    places = voting.places(vs.picks, n)
    marks = [mark(places[i], votable and n > 2) if i < n else gr.Button(visible=False) for i in range(rank_slots)]
    gold = voting.winner_text(vs.vote, vs.record) if votable else None
    gold_value = (vs.vote.gold_text if vs.vote and vs.vote.gold_text is not None else gold) or ""
    if session.blind and panes:
        revealed = current and not voting.blind_now(session)
        reveal = (voting.reveal_line(vs.record) if revealed and vs.record else
                  "🙈 Blind battle: the models' names are hidden until you vote.")
    else:
        reveal = ""
    return [gr.Column(visible=votable), prompt, gr.Row(visible=votable and n == 2),
            gr.Row(visible=votable and n > 2), *marks, gr.Accordion(visible=gold is not None),
            gold_value, status, reveal, vs]


def mark(place: int | None, shown: bool) -> Any:
    """A pane's rank button: its place (1st, 2nd, …) once picked, else an invitation to pick it."""
    label = ORDINALS[place - 1] if place is not None and 0 < place <= len(ORDINALS) else "Rank"
    return gr.Button(label, visible=shown, variant="primary" if place is not None else "secondary")


def hidden_view(rank_slots: int) -> list[Any]:
    """Updates that hide the panel while a new turn runs (the state is left as it is)."""
    return [gr.Column(visible=False), gr.skip(), gr.skip(), gr.skip(), *[gr.Button(visible=False)] * rank_slots,
            gr.Accordion(visible=False), gr.skip(), "", "", gr.skip()]


def hidden_view_js(rank_slots: int) -> str:
    """:func:`hidden_view` as a page-side function: the panel hides as a turn is asked for, with no request.

    Example:
        >>> print(hidden_view_js(1))
        () => { const hide = {__type__: 'update', visible: false}, skip = {__type__: 'update'};
                return [hide, skip, skip, skip, hide, hide, skip, '', '', skip]; }
    """
    shown = ", ".join(["hide", "skip", "skip", "skip", *["hide"] * rank_slots, "hide", "skip", "''", "''", "skip"])
    return ("() => { const hide = {__type__: 'update', visible: false}, skip = {__type__: 'update'};\n"
            f"        return [{shown}]; }}")


def append_to_hub(hub_log: HubVoteLog | None, vote: Vote, vs: VoteSession) -> None:
    """Append a stored vote to the Hub log (Spaces); a failure is logged, the vote is already safe."""
    if hub_log is None or vs.record is None:
        return
    try:
        hub_log.append(VotedTurn(vote, vs.record))
    except Exception as exc:  # noqa: BLE001 — the store holds the vote; the next push retries the file
        log.warning("could not append vote %s to the Hub log: %s", vote.id, type(exc).__name__)


def save_vote(gate: Gatekeeper, store: Store, limits: TextLimits, hub_log: HubVoteLog | None, vs: VoteSession,
              session: CompareSession, visitor_now: Visitor | None, request: gr.Request, kind: VoteKind, *,
              ranking: Any = None, gold_text: str | None = None) -> Vote:
    """Store the caller's vote on the session's current turn after the vote policy, consent and quotas;
    returns it as stored. ``gr.Error`` says why when it cannot be (the quota counts only votable turns)."""
    problem = voting.vote_problem(vs, session)
    if problem:  # before the quota counts the vote
        raise refusal(problem)
    who = gate.vote(request, visitor_now)
    try:
        stored = voting.cast_vote(vs, session, store, who.voter or "", kind, ranking=ranking, gold_text=gold_text,
                                  terms_version=gate.terms_version(), limits=limits)
    except (StoreError, SQLAlchemyError) as exc:
        raise refusal(f"Your vote was not saved: {exc}") from None
    append_to_hub(hub_log, stored, vs)
    return stored


class VoteHandlers:
    """The vote panel's event handlers: widget values -> ``compare`` calls -> widget updates.

    Every vote handler asks ``gate`` first: vote policy, consent, quotas; the voter is the
    caller's pseudonym, never the Gradio session.
    """

    def __init__(self, w: VoteWidgets, turns: Turns, store: Store, settings: Settings, gate: Gatekeeper,
                 hub_log: HubVoteLog | None, on_stored: Callable[[str], object] | None) -> None:
        self.turns, self.store, self.settings, self.gate = turns, store, settings, gate
        self.hub_log, self.on_stored = hub_log, on_stored
        self.slots, self.n_outputs = len(w.marks), len(w.outputs())

    async def store_turn(self, session: CompareSession, vs: VoteSession, visitor_now: Visitor,
                         request: gr.Request) -> list[Any]:
        """A turn event ended: store the finished turn once and show the vote panel for it."""
        recorded = await self.turns.record(session, vs, self.store,
                                           lambda: self.gate.recorder(self.gate.identify(request, visitor_now)),
                                           self.hub_log, self.on_stored)
        if recorded == "saving":  # the same turn's other "ended" event is saving it
            return [gr.skip()] * self.n_outputs
        return render(vs, session, self.slots) if recorded == "stored" else hidden_view(self.slots)

    def cast(self, vs: VoteSession, session: CompareSession, visitor_now: Visitor, request: gr.Request,
             kind: VoteKind, ranking: Any = None, gold_text: str | None = None) -> list[Any]:
        """Record the caller's vote on the current turn (refused with a reason when it cannot be)."""
        save_vote(self.gate, self.store, self.settings.limits, self.hub_log, vs, session, visitor_now, request, kind,
                  ranking=ranking, gold_text=gold_text)
        return render(vs, session, self.slots)

    def pair(self, kind: VoteKind) -> Callable[..., list[Any]]:
        """The handler of one two-pane vote button (named for its API endpoint)."""

        def vote(session: CompareSession, vs: VoteSession, visitor_now: Visitor, request: gr.Request) -> list[Any]:
            return self.cast(vs, session, visitor_now, request, kind)

        vote.__name__ = f"vote_{kind}"
        return vote

    def pick(self, index: int) -> Callable[..., list[Any]]:
        """The handler of pane ``index``'s rank button (named for its API endpoint): the pane takes the next
        place; once one pane is left it is placed last and the ranking is saved as the vote."""

        def rank_pane(session: CompareSession, vs: VoteSession, visitor_now: Visitor,
                      request: gr.Request) -> list[Any]:
            problem = voting.pick_problem(vs, session, index)
            if problem:
                raise refusal(problem)
            self.gate.check_consent(visitor_now)  # before the first place, not only when the vote is saved
            n = len(session.panes)
            picks = voting.add_pick(vs.picks, index, n)
            ranking = voting.ranking_from_picks(picks, n)
            if ranking is not None:
                save_vote(self.gate, self.store, self.settings.limits, self.hub_log, vs, session, visitor_now,
                          request, "ranking", ranking=ranking)
            vs.picks = picks
            return render(vs, session, self.slots)

        rank_pane.__name__ = f"rank_pane_{index}"
        return rank_pane

    def undo_pick(self, session: CompareSession, vs: VoteSession) -> list[Any]:
        """Undo: the last pane picked loses its place (a saved ranking stays until a new one is complete)."""
        vs.picks = vs.picks[:-1]
        return render(vs, session, self.slots)

    def reset_picks(self, session: CompareSession, vs: VoteSession) -> list[Any]:
        """Reset: no pane picked (a saved ranking stays until a new one is complete)."""
        vs.picks = ()
        return render(vs, session, self.slots)

    def save_gold(self, text: str, session: CompareSession, vs: VoteSession, visitor_now: Visitor,
                  request: gr.Request) -> list[Any]:
        """Save edited reply: the vote again, with the edit (an unchanged or empty text drops it)."""
        if vs.vote is None:
            raise refusal("Vote first: the edit replaces the reply you preferred.")
        if not isinstance(text, str):
            raise refusal("The edited reply must be text.")
        return self.cast(vs, session, visitor_now, request, vs.vote.kind, ranking=vs.vote.ranking,
                         gold_text=voting.gold_edit(vs, text))

    def accept_terms(self, visitor_now: Visitor) -> tuple[Visitor, Any]:
        """The visitor accepted the consent notice: remember its version, hide the notice."""
        accepted = Visitor(visitor_now.browser_id if isinstance(visitor_now, Visitor) else None,
                           self.gate.terms.version)
        return accepted, gr.Column(visible=False)


def wire_vote(w: VoteWidgets, compare: CompareWidgets, events: TurnEvents, store: Store, settings: Settings,
              gate: Gatekeeper, visitor: gr.State,
              hub_log: HubVoteLog | None = None, on_stored: Callable[[str], object] | None = None) -> None:
    """Store each finished turn (after every turn event and after Stop), and wire the vote controls.

    ``on_stored(turn_id)`` is told of each stored turn (the background judge's ``submit``: it never waits).
    """
    h = VoteHandlers(w, events.actions, store, settings, gate, hub_log, on_stored)
    outputs = w.outputs()
    turn_inputs = [compare.state, w.state, visitor]
    # Progress only on the status line: the page refreshes every progress target ever used (a listener's outputs
    # by default: the panel with all its children, the chats) on each update of a streaming turn.
    on_status: dict[str, Any] = {"show_progress_on": [w.status]}
    quiet: dict[str, Any] = {"show_progress": "hidden", **on_status}
    for i, event in enumerate(events.turns):  # on success, failure and cancellation alike
        event.then(h.store_turn, turn_inputs, outputs, **quiet,
                   api_name="store_turn" if i == 0 else None, api_visibility="public" if i == 0 else "undocumented")
    events.stop.then(h.store_turn, turn_inputs, outputs, **quiet, api_name="store_turn_after_stop")
    glue: dict[str, Any] = {"queue": False, "api_visibility": "private"}
    show_names = (events.refresh, [compare.state], events.outputs)  # a blind vote reveals the names on the panes
    hide = hidden_view_js(h.slots)  # in the page, no request (a turn's first listener is page-side too)
    for started in events.started:  # at once, not after the turn's listener (the page runs those in order)
        started.then(None, None, outputs, js=hide, **quiet, **glue)
    for start in (compare.clear.click, compare.blind.change,
                  *(e for p in compare.panes for e in (p.chatbot.clear, p.backend.change))):
        start(None, None, outputs, js=hide, **quiet, **glue)
    votes = [button.click(h.pair(kind), turn_inputs, outputs, api_name=f"vote_{kind}",  # type: ignore[arg-type]
                          **on_status) for kind, button in w.pair.items()]
    votes += [button.click(h.pick(i), turn_inputs, outputs, api_name=f"rank_pane_{i}",  # type: ignore[arg-type]
                           **on_status) for i, button in enumerate(w.marks)]
    w.undo.click(h.undo_pick, [compare.state, w.state], outputs, api_name="rank_undo", **on_status)
    w.reset.click(h.reset_picks, [compare.state, w.state], outputs, api_name="rank_reset", **on_status)
    for voted in votes:
        voted.success(*show_names, postprocess=False, **quiet, **glue)  # CompareView postprocesses
    wire_recheck(w.recheck, votes, w.state, visitor, store, settings, gate)  # now and then, a past pair re-shown
    w.gold_save.click(h.save_gold, [w.gold_text, *turn_inputs], outputs, api_name="save_gold", **on_status)
    w.accept.click(h.accept_terms, visitor, [visitor, w.consent], api_name="accept_terms")
