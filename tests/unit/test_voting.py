"""Pure voting rules: which turn a session votes on, rankings from ranks, records from pane states, filters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from playground.compare import votes as voting
from playground.compare.record import is_finished, turn_record
from playground.compare.state import CompareSession, PaneState
from playground.compare.votes import VoteSession, not_votable_reason
from playground.store.errors import InvalidVoteError
from playground.store.filters import vote_filter
from playground.types import Message, PaneMetrics, Vote


def pane(backend: str, reply: str = "ok", status: str = "done", system: str | None = "sys", **kw) -> PaneState:
    sent = ((Message("system", system),) if system is not None else ()) + (Message("user", "q"),)
    return PaneState(backend, backend.title(), sent=sent, reply=reply, status=status, system_prompt=system, **kw)  # type: ignore[arg-type]


def stored(panes: list[PaneState], turn_id: str = "t1") -> VoteSession:
    return VoteSession(record=turn_record(panes, [f"org/{p.backend_id}" for p in panes], user_id="u", turn_id=turn_id))


def shown(panes: list[PaneState], turn_id: str = "t1", **kw) -> CompareSession:
    """The session whose panes show turn ``turn_id``."""
    return CompareSession(panes=panes, turn_id=turn_id, **kw)


def test_a_turn_is_identified_by_its_id_not_by_its_objects_or_values():
    panes = [pane("a"), pane("b")]
    vs, session = stored(panes), shown(panes)
    assert vs.record.id == "t1" and voting.is_current(vs, session)
    session.panes = [replace(p, metrics=replace(p.metrics)) for p in panes]  # copies of the same turn
    assert voting.is_current(vs, session) and voting.vote_problem(vs, session) is None
    twin = shown([pane("a"), pane("b")], turn_id="t2")  # equal values, another turn (a deterministic regenerate)
    assert not voting.is_current(vs, twin)
    assert voting.vote_problem(vs, twin) == "A new turn has started: vote on it when it has finished."
    assert not voting.is_current(vs, shown(panes, turn_id=""))


def test_no_vote_after_a_failed_or_stopped_pane_or_with_one_pane():
    failed = [pane("a"), pane("b", status="error", error="HTTP 503")]
    assert not_votable_reason(failed) == "pane B failed (its error is shown in the pane)"
    assert not_votable_reason([pane("a", status="stopped"), pane("b")]) == "pane A was stopped"
    assert not_votable_reason([pane("a")]) == "a vote needs at least two panes"
    panes = [pane("a"), pane("b", status="stopped")]
    problem = voting.vote_problem(stored(panes), shown(panes))
    assert problem.startswith("Voting is off for this turn: pane B was stopped")


def test_paused_or_streaming_panes_are_not_finished():
    assert is_finished([pane("a"), pane("b", status="error")])
    assert not is_finished([pane("a"), pane("b", status="streaming")])
    assert not is_finished([pane("a"), pane("b", status="tool_input")])
    assert not is_finished([])


def test_clicked_panes_take_the_next_places_and_the_last_one_is_placed_for_you():
    assert voting.add_pick((), 2, 4) == (2,)
    assert voting.add_pick((2,), 2, 4) == (2,)  # a placed pane keeps its place
    assert voting.ranking_from_picks((2, 0), 4) is None
    picks = voting.add_pick((2, 0), 3, 4)
    assert voting.ranking_from_picks(picks, 4) == ((2,), (0,), (3,), (1,))
    assert voting.places(picks, 4) == [2, 4, 1, 3] and voting.places(picks[:1], 4) == [None, None, 1, None]
    assert voting.add_pick(picks, 1, 4) == (1,)  # a click after a complete ranking starts a new one


def test_picking_needs_a_votable_turn_of_three_or_four_panes():
    three = [pane("a"), pane("b"), pane("c")]
    assert voting.pick_problem(stored(three), shown(three), 2) is None
    assert "not one of them" in voting.pick_problem(stored(three), shown(three), 3)
    two = [pane("a"), pane("b")]
    assert "three or four panes" in voting.pick_problem(stored(two), shown(two), 0)
    stopped = [pane("a"), pane("b", status="stopped"), pane("c")]
    assert voting.pick_problem(stored(stopped), shown(stopped), 0).startswith("Voting is off")


def test_new_vote_checks_the_kind_against_the_turn():
    two = stored([pane("a"), pane("b")])
    assert voting.new_vote(two, "u", "a").turn_id == "t1"
    with pytest.raises(InvalidVoteError):
        voting.new_vote(two, "u", "ranking", ranking=((0,), (1,)))
    three = stored([pane("a"), pane("b"), pane("c")])
    with pytest.raises(InvalidVoteError):
        voting.new_vote(three, "u", "a")
    with pytest.raises(InvalidVoteError, match="single best"):
        voting.new_vote(two, "u", "tie", gold_text="better")


def test_blind_names_stay_hidden_until_this_battle_is_revealed():
    panes = [pane("a"), pane("b")]
    session = shown(panes, blind=True)
    assert voting.blind_now(session)
    session.revealed = True  # a vote in this battle
    assert not voting.blind_now(session)
    assert voting.blind_now(shown([pane("a"), pane("b")], blind=True))  # a new battle
    assert not voting.blind_now(shown(panes, blind=False))


def test_repeating_or_editing_a_blind_vote_stays_blind_but_a_changed_mind_does_not():
    panes = [pane("a"), pane("b")]
    session = shown(panes, blind=True)
    vs = stored(panes)
    assert voting.cast_blind(vs, session, "a")
    vs.vote, session.revealed = Vote("t1", "u", "a", ranking=((0,), (1,)), blind=True), True
    assert voting.cast_blind(vs, session, "a")  # a second click, or a gold edit of the same choice
    assert not voting.cast_blind(vs, session, "b")  # decided with the names known
    open_vs = stored(panes)
    open_vs.vote = Vote("t1", "u", "a", ranking=((0,), (1,)))
    assert not voting.cast_blind(open_vs, shown(panes, blind=False), "a")


def test_reveal_line_names_every_pane_in_display_order():
    vs = stored([pane("zeta"), pane("alpha")])
    assert voting.reveal_line(vs.record) == "Pane A was **Zeta** (`org/zeta`); Pane B was **Alpha** (`org/alpha`)"


def test_winner_text_is_the_single_winners_original_reply():
    vs = stored([pane("a", reply="from a"), pane("b", reply="from b")])
    assert voting.winner_text(Vote("t1", "u", "b", ranking=((1,), (0,))), vs.record) == "from b"
    assert voting.winner_text(Vote("t1", "u", "tie", ranking=((0, 1),)), vs.record) is None
    assert voting.describe_vote(Vote("t1", "u", "b", gold_text="x")) == "B is better (with an edited reply)"


def test_turn_record_keeps_each_panes_context_and_the_users_messages():
    earlier = [Message("user", "q0"), Message("assistant", "a0")]
    a = pane("a", system=None, history=earlier)
    a.sent = (*earlier, Message("user", "q1"))
    b = pane("b", system="", status="error", error="boom", reply="par")
    b.metrics = PaneMetrics(ttft_s=0.1, total_s=2.0, tokens=3)
    now = datetime(2025, 5, 1, 12, tzinfo=UTC)
    record = turn_record([a, b], ["m/a", "m/b"], user_id="u", mode="tools", blind=True, now=now,
                         tools=({"type": "function"},))
    assert [m.content for m in record.messages] == ["q0", "q1"]
    pa, pb = record.panes
    assert pa.system_prompt is None and pb.system_prompt == "" and pb.prompt_messages[0] == Message("system", "")
    assert (pb.status, pb.error, pb.output, pb.model_id) == ("error", "boom", "par", "m/b")
    assert pb.started_at == now - timedelta(seconds=2) and pb.finished_at == now
    assert record.blind and record.tools == ({"type": "function"},) and record.pane_order == (0, 1)
    assert pb.metrics is not b.metrics, "the record holds a copy, not the live pane's metrics"


def test_form_filters_keep_whole_days_and_refuse_empty_ranges():
    flt = vote_filter(since="2025-01-01", until="2025-01-01", modes=["chat"], backends=["b8"], blind_only=True)
    assert (flt.until - flt.since).days == 1 and flt.modes == ("chat",) and flt.blind_only
    assert vote_filter(since=" ", until="").since is None
    with pytest.raises(ValueError, match="empty"):
        vote_filter(since="2025-02-01", until="2025-01-01")
    with pytest.raises(ValueError, match="neither a date"):
        vote_filter(since="yesterday")
