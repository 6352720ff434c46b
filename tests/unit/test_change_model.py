"""A pane's model dropdown (``Turns.change_model``): a new model starts the pane afresh, as its next request would;
refused while a turn runs; a blind battle's models stay the battle's."""

from __future__ import annotations

import pytest

from playground.compare.actions import Turns
from playground.compare.prepare import TurnSetupError
from playground.compare.state import CompareSession, Exchange, PaneState
from playground.settings import load_settings

SETTINGS = load_settings(["--backend", "Alpha=http://127.0.0.1:9", "--backend", "Beta=http://127.0.0.1:8"], env={})


def session_with_history(status: str = "done") -> CompareSession:
    panes = [PaneState(spec.id, spec.label, status=status) for spec in SETTINGS.backends]
    for pane in panes:
        pane.transcript.append(Exchange("hello", "hi", "done"))
    return CompareSession(panes, turn_id="t1")


@pytest.fixture
def turns() -> Turns:
    return Turns.for_app(SETTINGS, {})


def test_a_new_model_forgets_that_panes_conversation_and_the_turn_gets_no_vote(turns):
    session = session_with_history()
    alpha = SETTINGS.backends[0]
    turns.change_model(session, 1, alpha.id)
    assert (session.panes[1].backend_id, session.panes[1].label, session.panes[1].transcript) == (alpha.id, "Alpha", [])
    assert session.panes[0].transcript, "the other pane keeps its conversation"
    assert session.turn_id == ""


def test_the_same_model_or_a_blind_battle_changes_nothing(turns):
    session = session_with_history()
    turns.change_model(session, 1, SETTINGS.backends[1].id)
    assert session.panes[1].transcript and session.turn_id == "t1"
    session.blind = True
    turns.change_model(session, 1, SETTINGS.backends[0].id)
    assert session.panes[1].backend_id == SETTINGS.backends[1].id and session.panes[1].transcript


@pytest.mark.parametrize("backend_id", ["nope", None, ["x"], 3])
def test_an_unknown_backend_is_refused(turns, backend_id):
    session = session_with_history()
    with pytest.raises(TurnSetupError, match="listed models"):
        turns.change_model(session, 1, backend_id)
    assert session.panes[1].transcript


def test_refused_while_a_turn_runs(turns):
    session = session_with_history(status="streaming")
    with pytest.raises(TurnSetupError, match="A turn is running"):
        turns.change_model(session, 1, SETTINGS.backends[0].id)
    assert session.panes[1].backend_id == SETTINGS.backends[1].id and session.panes[1].transcript
