"""Turn ids: made when a turn starts, the id the store keeps it under, the id every vote names.

The real middle layer (``compare.actions.Turns``) over TGI test servers and a real SQLite store.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from playground.backends.registry import build_backends
from playground.compare.actions import Turns
from playground.compare.prepare import TurnChoices
from playground.compare.state import CompareSession
from playground.compare.votes import VoteSession, cast_vote
from playground.settings import load_settings
from playground.store.db import get_turn, open_store
from playground.store.errors import InvalidVoteError
from playground.types import SamplingParams
from tests.support.replies import echo

pytest_plugins = ["tests.support.fixtures"]
CHAT = TurnChoices(mode="chat", sampling=SamplingParams(max_new_tokens=20), system=None)


@pytest.fixture
def setup(tgi_server_factory, tmp_path):
    """(Turns over two test servers, their servers by id, a fresh SQLite store)."""
    servers = {name: tgi_server_factory(behavior=echo(name), model_id=f"test/{name}-model")
               for name in ("alpha", "beta")}
    settings = load_settings([a for name, s in servers.items() for a in ("--backend", f"{name.title()}={s.url}")], {})
    store = open_store(f"sqlite:///{tmp_path / 'turns.db'}")
    yield Turns.for_app(settings, build_backends(settings)), servers, store
    store.close()


async def play(turns: Turns, session: CompareSession, text: str) -> str:
    """Run one turn on both panes to its end; returns its turn id."""
    async for _ in turns.start(session, CHAT, text, ["alpha", "beta"], blind=False):
        pass
    return session.turn_id


async def test_a_vote_goes_to_the_turn_id_whatever_happened_to_the_pane_objects(setup):
    turns, _, store = setup
    session, vs = CompareSession(), VoteSession()
    first = await play(turns, session, "one")
    assert uuid.UUID(first).version == 4
    assert await turns.record(session, vs, store, lambda: "u") == "stored"
    assert vs.record is not None and vs.record.id == first and get_turn(store, first).messages[-1].content == "one"
    session.panes = [replace(p, metrics=replace(p.metrics)) for p in session.panes]  # new objects, same turn
    vote = cast_vote(vs, session, store, "voter", "a")
    assert vote.turn_id == first

    second = await play(turns, session, "two")
    assert second != first
    with pytest.raises(InvalidVoteError, match="A new turn has started"):  # vs still holds the first turn
        cast_vote(vs, session, store, "voter", "b")
    assert await turns.record(session, vs, store, lambda: "u") == "stored"
    assert cast_vote(vs, session, store, "voter", "b").turn_id == second


async def test_a_second_record_of_the_same_turn_stores_nothing_new(setup):
    turns, _, store = setup
    session, vs = CompareSession(), VoteSession()
    turn_id = await play(turns, session, "once")
    assert await turns.record(session, vs, store, lambda: "u") == "stored"
    stored = vs.record
    assert await turns.record(session, vs, store, lambda: "u") == "stored"
    assert vs.record is stored and get_turn(store, turn_id).id == turn_id


async def test_model_ids_come_from_one_info_per_backend_not_one_per_turn(setup):
    turns, servers, store = setup
    session, vs = CompareSession(), VoteSession()
    for text in ("one", "two", "three"):
        await play(turns, session, text)
        assert [p.model_id for p in session.panes] == ["test/alpha-model", "test/beta-model"]
        await turns.record(session, vs, store, lambda: "u")
        assert [p.model_id for p in vs.record.panes] == ["test/alpha-model", "test/beta-model"]
    assert [s.info_requests for s in servers.values()] == [1, 1]
