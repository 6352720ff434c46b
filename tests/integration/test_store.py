"""The preference store against a real SQLite file, and PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from playground.store.db import (
    Store,
    VoteFilter,
    count_votes,
    get_turn,
    get_vote,
    iter_votes_with_turns,
    metadata,
    open_store,
    record_vote,
    save_turn,
    votes,
)
from playground.store.errors import InvalidTurnError, InvalidVoteError, TurnNotFoundError, VoteNotAllowedError
from playground.store.synthetic import EPOCH, make_turn
from playground.types import Vote

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def store_url(kind: str, tmp_path) -> str:
    """A fresh, empty store URL of ``kind`` (skips when PostgreSQL is not configured)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'playground.db'}"
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL not set (scripts/test.sh starts PostgreSQL)")
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    return store_url(request.param, tmp_path)


@pytest.fixture
def store(url) -> Iterator[Store]:
    s = open_store(url)
    yield s
    s.close()


def test_turn_round_trips_with_full_context(store):
    turn = make_turn(seed=7, n_panes=3, mode="tools", history=2, system_prompts=("", None, "be brief"))
    turn_id = save_turn(store, turn)
    got = get_turn(store, turn_id)
    assert got == replace(turn, id=turn_id)
    assert [p.system_prompt for p in got.panes] == ["", None, "be brief"]
    assert got.panes[1].prompt_messages[0].role == "user"  # no system turn
    assert got.panes[0].prompt_messages[0].content == ""  # empty system turn
    assert got.created_at.tzinfo is not None and got.created_at == turn.created_at


def test_saving_the_same_turn_twice_stores_it_once(store):
    turn = replace(make_turn(seed=1), id="fixed-id")
    assert save_turn(store, turn) == save_turn(store, turn) == "fixed-id"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from turn_panes")).scalar_one() == 2


def test_turn_with_duplicate_positions_is_refused(store):
    turn = make_turn(seed=1)
    with pytest.raises(InvalidTurnError):
        save_turn(store, replace(turn, panes=(turn.panes[0], turn.panes[0])))


def test_changed_mind_replaces_the_earlier_vote(store):
    turn_id = save_turn(store, make_turn(seed=1))
    first = record_vote(store, Vote(turn_id, "alice", "a"))
    second = record_vote(store, Vote(turn_id, "alice", "b"))
    assert count_votes(store) == 1
    assert second.id == first.id and second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert get_vote(store, turn_id, "alice").ranking == ((1,), (0,))


def test_double_submit_counts_once(store):
    turn_id = save_turn(store, make_turn(seed=1))
    for _ in range(3):
        record_vote(store, Vote(turn_id, "alice", "tie"))
    record_vote(store, Vote(turn_id, "bob", "a"))
    assert count_votes(store) == 2


def test_concurrent_voters_never_lose_or_duplicate_votes(url):
    setup = open_store(url)
    turn_ids = [save_turn(setup, make_turn(seed=s)) for s in range(8)]
    n_users = 50
    barrier = threading.Barrier(n_users)
    acknowledged: dict[tuple[str, str], str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def voter(u: int) -> None:
        own = open_store(url, create=False, pool_size=1)  # each writer has its own connection
        try:
            barrier.wait()
            for i, turn_id in enumerate(turn_ids):
                kind = "ab"[(u + i) % 2]
                record_vote(own, Vote(turn_id, f"user-{u}", "tie"))
                record_vote(own, Vote(turn_id, f"user-{u}", kind))  # changed mind
                record_vote(own, Vote(turn_id, f"user-{u}", kind))  # double submit
                with lock:
                    acknowledged[(turn_id, f"user-{u}")] = kind
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            own.close()

    threads = [threading.Thread(target=voter, args=(u,)) for u in range(n_users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    stored = {(item.vote.turn_id, item.vote.user_id): item.vote.kind for item in iter_votes_with_turns(setup)}
    assert count_votes(setup) == len(acknowledged) == n_users * len(turn_ids)
    assert stored == acknowledged
    setup.close()


def test_same_vote_raced_from_many_connections_is_stored_once(url):
    setup = open_store(url)
    turn_id = save_turn(setup, make_turn(seed=3))
    stores = [open_store(url, create=False, pool_size=1) for _ in range(16)]
    barrier = threading.Barrier(len(stores))
    results: list[Vote] = []

    def submit(s: Store) -> None:
        barrier.wait()
        results.append(record_vote(s, Vote(turn_id, "carol", "b")))

    threads = [threading.Thread(target=submit, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16 and len({v.id for v in results}) == 1
    assert count_votes(setup) == 1
    for s in [*stores, setup]:
        s.close()


@pytest.mark.parametrize("status", ["error", "stopped", "streaming"])
def test_vote_refused_when_a_pane_did_not_finish(store, status):
    turn_id = save_turn(store, make_turn(seed=1, n_panes=3, statuses=("done", status, "done")))
    with pytest.raises(VoteNotAllowedError, match="pane 1"):
        record_vote(store, Vote(turn_id, "alice", "ranking", ranking=((0,), (2,), (1,))))
    assert count_votes(store) == 0


def test_vote_refused_on_single_pane_and_unknown_turn(store):
    turn_id = save_turn(store, make_turn(seed=1, n_panes=1))
    with pytest.raises(VoteNotAllowedError, match="at least 2"):
        record_vote(store, Vote(turn_id, "alice", "a"))
    with pytest.raises(TurnNotFoundError):
        record_vote(store, Vote("no-such-turn", "alice", "a"))


@pytest.mark.parametrize(
    "vote",
    [
        Vote("", "u", "a"),  # two-pane kind on three panes
        Vote("", "u", "ranking", ranking=((0,), (1,))),  # position 2 missing
        Vote("", "u", "ranking", ranking=((0,), (1,), (1, 2))),  # named twice
        Vote("", "u", "ranking", ranking=((0, 1), (2,)), gold_text="x"),  # gold without a single winner
    ],
)
def test_invalid_votes_are_refused(store, vote):
    turn_id = save_turn(store, make_turn(seed=1, n_panes=3))
    with pytest.raises(InvalidVoteError):
        record_vote(store, replace(vote, turn_id=turn_id))


def test_gold_edit_keeps_the_original(store):
    turn = make_turn(seed=1)
    turn_id = save_turn(store, turn)
    vote = record_vote(store, Vote(turn_id, "alice", "b", gold_text="A corrected answer."))
    assert vote.gold_text == "A corrected answer."
    assert vote.gold_original == turn.panes[1].output


def test_filters_select_votes(store):
    day = timedelta(days=1)
    specs = [("chat", False, EPOCH), ("tools", True, EPOCH + day), ("json", True, EPOCH + 2 * day)]
    for seed, (mode, blind, when) in enumerate(specs):
        turn_id = save_turn(store, make_turn(seed=seed, mode=mode, blind=blind))
        record_vote(store, Vote(turn_id, "alice", "a", blind=blind))
        # votes are stamped with the current time; move each to a known day for the date filters
        with store.engine.begin() as conn:
            conn.execute(sa.update(votes).where(votes.c.turn_id == turn_id).values(updated_at=when))
    assert count_votes(store) == 3
    assert count_votes(store, VoteFilter(modes=["tools", "json"])) == 2
    assert count_votes(store, VoteFilter(blind_only=True)) == 2
    assert count_votes(store, VoteFilter(since=EPOCH + day)) == 2
    assert count_votes(store, VoteFilter(since=EPOCH, until=EPOCH + day)) == 1
    assert count_votes(store, VoteFilter(backends=["hermes-8b"])) == 3
    assert count_votes(store, VoteFilter(backends=["hermes-405b"])) == 0
    modes = [i.turn.mode for i in iter_votes_with_turns(store, VoteFilter(since=EPOCH + day))]
    assert modes == ["tools", "json"]


def test_sqlite_is_durable_wal(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    store.close()
