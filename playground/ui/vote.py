"""The vote panel under the Compare panes: store every finished turn, vote on it, reveal blind names.

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


@dataclass
class VoteWidgets:
    """Every widget of the vote panel."""

    panel: gr.Column
    prompt: gr.Markdown
    pair_row: gr.Row
    pair: dict[str, gr.Button]
    rank_row: gr.Row
    ranks: list[gr.Dropdown]
    submit_ranking: gr.Button
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
        return [self.panel, self.prompt, self.pair_row, self.rank_row, *self.ranks, self.gold, self.gold_text,
                self.status, self.reveal, self.state]


def build_vote(settings: Settings, terms: str) -> VoteWidgets:
    """Lay out the vote panel (hidden until a turn has finished) inside the current Blocks context.

    ``terms`` is the consent notice shown above the buttons until accepted (public deployments).
    """
    with gr.Column(visible=False, elem_id="consent") as consent:
        gr.Markdown(terms, elem_id="consent-text")
        accept = gr.Button("I agree — let me vote", size="sm", elem_id="consent-accept")
    with gr.Column(visible=False, elem_id="vote-panel") as panel:
        prompt = gr.Markdown("", elem_id="vote-prompt")
        with gr.Row(visible=False) as pair_row:
            pair = {kind: gr.Button(label, elem_id=f"vote-{kind}", size="sm")
                    for kind, label in voting.PAIR_CHOICES.items()}
        with gr.Row(visible=False) as rank_row:
            ranks = [gr.Dropdown([], label=f"Pane {chr(65 + i)} rank", elem_id=f"rank-{i}", min_width=120)
                     for i in range(settings.max_panes)]
            submit_ranking = gr.Button("Submit ranking", elem_id="vote-ranking", size="sm")
        with gr.Accordion("Edit the preferred reply (optional: your edit becomes the chosen answer)",
                          open=False, visible=False, elem_id="gold") as gold:
            gold_text = gr.Textbox(lines=6, label="Corrected reply", show_label=False, elem_id="gold-text")
            gold_save = gr.Button("Save edited reply", size="sm", elem_id="gold-save")
    status = gr.Markdown("", elem_id="vote-status")
    reveal = gr.Markdown("", elem_id="vote-reveal")
    recheck = build_recheck()
    return VoteWidgets(panel, prompt, pair_row, pair, rank_row, ranks, submit_ranking, gold, gold_text, gold_save,
                       status, reveal, gr.State(VoteSession()), consent, accept, recheck)


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
    prompt = ("**Which reply is better?**" if n == 2 else
              "**Rank the replies** (1 = best; give replies the same rank for a tie), then submit.")
    ranks = voting.ranks_from_ranking(vs.vote.ranking if vs.vote else None, n)
    rank_updates = [gr.Dropdown(choices=list(range(1, n + 1)), value=ranks[i], visible=True) if i < n
                    else gr.Dropdown(visible=False, value=None) for i in range(rank_slots)]
    gold = voting.winner_text(vs.vote, vs.record) if votable else None
    gold_value = (vs.vote.gold_text if vs.vote and vs.vote.gold_text is not None else gold) or ""
    if session.blind and panes:
        revealed = current and not voting.blind_now(session)
        reveal = (voting.reveal_line(vs.record) if revealed and vs.record else
                  "🙈 Blind battle: the models' names are hidden until you vote.")
    else:
        reveal = ""
    return [gr.Column(visible=votable), prompt, gr.Row(visible=votable and n == 2),
            gr.Row(visible=votable and n > 2), *rank_updates, gr.Accordion(visible=gold is not None),
            gold_value, status, reveal, vs]


def hidden_view(rank_slots: int) -> list[Any]:
    """Updates that hide the panel while a new turn runs (the state is left as it is)."""
    return [gr.Column(visible=False), gr.skip(), gr.skip(), gr.skip(), *[gr.skip()] * rank_slots,
            gr.Accordion(visible=False), gr.skip(), "", "", gr.skip()]


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
        self.slots, self.n_outputs = len(w.ranks), len(w.outputs())

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

    def vote_ranking(self, request: gr.Request, session: CompareSession, vs: VoteSession, visitor_now: Visitor,
                     *ranks: Any) -> list[Any]:
        """Submit ranking: a rank per pane becomes a best-to-worst vote."""
        try:
            ranking = voting.ranking_from_ranks(ranks[: len(session.panes)])
        except StoreError as exc:
            raise refusal(str(exc)) from None
        return self.cast(vs, session, visitor_now, request, "ranking", ranking=ranking)

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

    def turn_started(self) -> list[Any]:
        """A turn started: hide the panel until it has finished."""
        return hidden_view(self.slots)


def wire_vote(w: VoteWidgets, compare: CompareWidgets, events: TurnEvents, store: Store, settings: Settings,
              gate: Gatekeeper, visitor: gr.State,
              hub_log: HubVoteLog | None = None, on_stored: Callable[[str], object] | None = None) -> None:
    """Store each finished turn (after every turn event and after Stop), and wire the vote controls.

    ``on_stored(turn_id)`` is told of each stored turn (the background judge's ``submit``: it never waits).
    """
    h = VoteHandlers(w, events.actions, store, settings, gate, hub_log, on_stored)
    outputs = w.outputs()
    turn_inputs = [compare.state, w.state, visitor]
    for i, event in enumerate(events.turns):  # on success, failure and cancellation alike
        event.then(h.store_turn, turn_inputs, outputs, show_progress="hidden",
                   api_name="store_turn" if i == 0 else None, api_visibility="public" if i == 0 else "undocumented")
    events.stop.then(h.store_turn, turn_inputs, outputs, show_progress="hidden", api_name="store_turn_after_stop")
    glue: dict[str, Any] = {"queue": False, "api_visibility": "private"}
    show_names = (events.refresh, [compare.state], events.outputs)  # a blind vote reveals the names on the panes
    for start in (compare.send.click, compare.message.submit, compare.regenerate.click, compare.clear.click,
                  compare.blind.change):
        start(h.turn_started, None, outputs, queue=False, show_progress="hidden", api_visibility="private")
    votes = [button.click(h.pair(kind), turn_inputs, outputs, api_name=f"vote_{kind}")  # type: ignore[arg-type]
             for kind, button in w.pair.items()]
    votes.append(w.submit_ranking.click(h.vote_ranking, [*turn_inputs, *w.ranks], outputs, api_name="vote_ranking"))
    for voted in votes:
        voted.success(*show_names, **glue)
    wire_recheck(w.recheck, votes, w.state, visitor, store, settings, gate)  # now and then, a past pair re-shown
    w.gold_save.click(h.save_gold, [w.gold_text, *turn_inputs], outputs, api_name="save_gold")
    w.accept.click(h.accept_terms, visitor, [visitor, w.consent], api_name="accept_terms")
