"""The consistency check under the vote panel: now and then, after a vote, a past pair the same
rater judged is shown again with its replies swapped.

Clearly labelled, not a new turn and not a vote: the answer goes to the ``rechecks`` table
(``playground.store.rechecks``). Whether to show one is decided on the server, once per
stored vote (``settings.recheck_rate``); the pending check lives in server-side session state,
so a client can answer only the check it was shown, as the rater who was shown it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from playground.compare import votes as voting
from playground.compare.votes import VoteSession
from playground.safe_markdown import inert_markdown
from playground.settings import Settings
from playground.store.db import Store, get_turn
from playground.store.errors import StoreError
from playground.store.rechecks import PendingRecheck, pick_recheck, record_recheck
from playground.types import PaneOutput, TurnRecord
from playground.ui.access import Gatekeeper, Visitor
from playground.ui.inputs import refusal

INTRO = ("🔁 **Consistency check** — not a new turn and not a new vote. You judged these two replies before; "
         "here they are again, possibly in another order. Which is better?")


@dataclass
class RecheckSession:
    """One browser session's check: the vote it was decided for, and the check shown (if any)."""

    offered_for: str | None = None
    pending: PendingRecheck | None = None


@dataclass
class RecheckWidgets:
    """Every widget of the consistency check."""

    panel: gr.Column
    context: gr.Markdown
    replies: list[gr.Markdown]
    buttons: dict[str, gr.Button]
    skip: gr.Button
    status: gr.Markdown
    state: gr.State

    def outputs(self) -> list[Any]:
        """The components ``render`` returns values for, in order."""
        return [self.panel, self.context, *self.replies, self.status, self.state]


def build_recheck() -> RecheckWidgets:
    """Lay out the (hidden) consistency check inside the current Blocks context."""
    with gr.Column(visible=False, elem_id="recheck-panel") as panel:
        gr.Markdown(INTRO, elem_id="recheck-intro")
        context = gr.Markdown("", elem_id="recheck-context")
        with gr.Row():
            replies = [gr.Markdown("", elem_id=f"recheck-reply-{side}") for side in ("a", "b")]
        with gr.Row():
            buttons = {kind: gr.Button(label, size="sm", elem_id=f"recheck-{kind}")
                       for kind, label in voting.PAIR_CHOICES.items()}
            skip = gr.Button("Skip", size="sm", elem_id="recheck-skip")
    status = gr.Markdown("", elem_id="recheck-status")
    return RecheckWidgets(panel, context, replies, buttons, skip, status, gr.State(RecheckSession()))


def reply_view(letter: str, pane: PaneOutput) -> str:
    """One reply of the check as safe Markdown (the assistant reply, then any in-turn tool loop)."""
    parts = [pane.output, *(f"*{m.role}:* {m.content}" for m in pane.followup)]
    return f"**Reply {letter}**\n\n" + inert_markdown("\n\n".join(parts))


def render(rs: RecheckSession, turn: TurnRecord | None, status: str = "") -> list[Any]:
    """Widget updates showing the pending check (its replies in the order shown), or hiding it."""
    if rs.pending is None or turn is None:
        return [gr.Column(visible=False), "", "", "", status, rs]
    panes = {p.position: p for p in turn.panes}
    asked = next((m.content for m in reversed(turn.messages) if m.role == "user"), "")
    context = f"**The message was:**\n\n{inert_markdown(asked)}"
    shown = [reply_view(chr(65 + i), panes[pos]) for i, pos in enumerate(rs.pending.shown_order)]
    return [gr.Column(visible=True), context, *shown, status, rs]


def wire_recheck(w: RecheckWidgets, after_votes: Sequence[Any], vote_state: gr.State, visitor: gr.State,
                 store: Store, settings: Settings, gate: Gatekeeper) -> None:
    """Offer a check after each successful vote event in ``after_votes``; wire its answer buttons."""
    rng = random.Random()
    outputs = w.outputs()

    def offer(vs: VoteSession, rs: RecheckSession, visitor_now: Visitor, request: gr.Request) -> list[Any]:
        vote = vs.vote if isinstance(vs, VoteSession) else None
        if not isinstance(rs, RecheckSession):
            rs = RecheckSession()
        if vote is None or rs.offered_for == vote.id or rs.pending is not None:
            return [gr.skip()] * len(outputs)
        rs.offered_for = vote.id  # one draw per stored vote, however often this is called
        if settings.recheck_rate <= 0 or rng.random() >= settings.recheck_rate:
            return [gr.skip()] * (len(outputs) - 1) + [rs]
        if gate.identify(request, visitor_now).voter != vote.user_id:
            return [gr.skip()] * (len(outputs) - 1) + [rs]
        try:
            rs.pending = pick_recheck(store, vote.user_id, exclude_turn=vote.turn_id, rng=rng)
            turn = get_turn(store, rs.pending.turn_id) if rs.pending else None
        except (StoreError, SQLAlchemyError):
            rs.pending, turn = None, None
        return render(rs, turn)

    def answer_handler(kind: str) -> Callable[..., list[Any]]:
        def answer(rs: RecheckSession, visitor_now: Visitor, request: gr.Request) -> list[Any]:
            pending = rs.pending if isinstance(rs, RecheckSession) else None
            if pending is None:
                raise refusal("There is no consistency check to answer: one appears now and then after a vote.")
            if gate.identify(request, visitor_now).voter != pending.user_id:
                raise refusal("This consistency check was shown to another rater; reload the page.")
            try:
                record_recheck(store, pending, kind)
            except (StoreError, SQLAlchemyError) as exc:
                raise refusal(f"Your answer was not saved: {exc}") from None
            rs.pending = None
            return render(rs, None, "✅ Thanks — consistency check recorded.")

        answer.__name__ = f"recheck_{kind}"
        return answer

    def skip(rs: RecheckSession) -> list[Any]:
        if isinstance(rs, RecheckSession):
            rs.pending = None
        return render(rs if isinstance(rs, RecheckSession) else RecheckSession(), None)

    inputs = [vote_state, w.state, visitor]
    for i, event in enumerate(after_votes):
        event.success(offer, inputs, outputs, show_progress="hidden", api_name="recheck_offer" if i == 0 else None,
                      api_visibility="public" if i == 0 else "undocumented")
    for kind, button in w.buttons.items():
        button.click(answer_handler(kind), [w.state, visitor], outputs, api_name=f"recheck_{kind}")
    w.skip.click(skip, w.state, outputs, api_name="recheck_skip")
