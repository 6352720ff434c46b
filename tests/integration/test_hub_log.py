"""The Space's continuous Hub log: started at app start when configured, fed by every stored turn and vote,
and the store restored from it on start."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from playground.compare.votes import VoteSession
from playground.store import db
from playground.store.db import (
    Store,
    VotedTurn,
    count_votes,
    get_turn,
    get_vote,
    iter_votes_with_turns,
    open_store,
    record_vote,
    save_turn,
)
from playground.store.hub import HubVoteLog, make_commit_scheduler, open_space_vote_log
from playground.store.restore import Restored, dumps, replay, restore_space_store, restore_vote, turn_line
from playground.store.synthetic import make_turn
from playground.types import Vote
from playground.ui.vote import append_to_hub
from tests.integration.test_export import FakeHub
from tests.support.app_process import free_port
from tests.support.fake_hub import FakeHubServer, fake_hub, point_hub_client_at


def test_no_hub_log_off_a_space_or_without_a_repo(tmp_path):
    assert open_space_vote_log(None, "me/votes", "HF_TOKEN", tmp_path) is None
    assert open_space_vote_log("me/space", None, "HF_TOKEN", tmp_path) is None


def test_on_a_space_the_scheduler_starts_with_the_server_token_and_votes_are_appended(tmp_path, monkeypatch):
    monkeypatch.setenv("VOTES_TOKEN", "hf_server_side")
    hub = FakeHub()
    log = open_space_vote_log("me/space", "me/votes", "VOTES_TOKEN", tmp_path / "outbox", hf_api=hub)
    assert log is not None
    deadline = time.monotonic() + 60  # a wait, returns as soon as the repo exists
    while not hub.repos and time.monotonic() < deadline:  # started in the background at app start
        time.sleep(0.01)
    assert hub.repos and hub.repos[0][0] == "me/votes" and hub.repos[0][1]["repo_type"] == "dataset"
    assert log.scheduler.token == "hf_server_side"

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    turn = make_turn(seed=4)
    turn_id = save_turn(store, turn)
    vote = record_vote(store, Vote(turn_id, "u", "b"))
    vs = VoteSession(record=replace(turn, id=turn_id))
    append_to_hub(log, vote, vs)
    log.stop()
    rows = [json.loads(line) for line in log.files["dpo"].read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1 and rows[0]["vote_id"] == vote.id and rows[0]["chosen_backend"] == turn.panes[1].backend_id
    store.close()


def test_a_failing_hub_log_never_fails_the_vote_and_logs_no_token(tmp_path, caplog):
    def refuse():
        raise ConnectionError("hf_secret_token refused")

    log = HubVoteLog(tmp_path, refuse, "me/votes")
    turn = make_turn(seed=5)
    vs = VoteSession(record=turn)
    with caplog.at_level(logging.WARNING):
        log.append_turn(turn)
        append_to_hub(log, Vote(turn.id, "u", "a", ranking=((0,), (1,)), id="v1"), vs)
        assert not log.start()
    assert "not started (ConnectionError): vote v1 kept on disk" in caplog.text and "did not start" in caplog.text
    assert "hf_secret_token" not in caplog.text
    # kept for the scheduler's first push once the Hub answers
    assert json.loads(log.files["votes"].read_text())["id"] == "v1"
    assert json.loads(log.files["turns"].read_text())["panes"]


# --- every stored turn and vote reaches the Hub log; a fresh store is restored from it -------------------

REPO = "me/playground-log"


@pytest.fixture
def hub(monkeypatch) -> Iterator[FakeHubServer]:
    """A fake Hub on 127.0.0.1 that this process's ``huggingface_hub`` talks to (as with ``HF_ENDPOINT``)."""
    with fake_hub() as server:
        point_hub_client_at(monkeypatch, server.url)
        monkeypatch.setenv("LOG_TOKEN", "hf_log_secret")
        yield server


def _store(path: Path) -> Store:
    return open_store(f"sqlite:///{path}")


def _fill(store: Store, log: HubVoteLog) -> list[str]:
    """Turns of every kind (voted, unvoted, failed, stopped, tools, 3 panes), votes changed, a gold edit.

    Each record is appended to the log right after the store returned it, as the app does.
    """
    turns = [make_turn(seed=1), make_turn(seed=2, mode="tools", history=1), make_turn(seed=3, n_panes=3),
             make_turn(seed=4, statuses=("done", "error")), make_turn(seed=5, statuses=("stopped", "done")),
             make_turn(seed=6, mode="json", blind=True), make_turn(seed=7, system_prompts=("", None))]
    ids = []
    for turn in turns:
        turn_id = save_turn(store, turn)
        log.append_turn(get_turn(store, turn_id))
        ids.append(turn_id)

    def vote(i: int, user: str, kind: str, **kw) -> None:
        stored = record_vote(store, Vote(ids[i], user, kind, **kw))
        log.append(VotedTurn(stored, get_turn(store, ids[i])))

    vote(0, "u1", "a")
    vote(0, "u1", "b")  # a changed mind replaces the vote
    vote(0, "u2", "tie")
    vote(1, "u1", "b", gold_text="A better reply, edited.")
    vote(2, "u3", "ranking", ranking=((2,), (0, 1)))
    vote(5, "u1", "bothbad", blind=True)
    vote(6, "u4", "a")
    vote(6, "u4", "a", gold_text="Gold, second thoughts.")  # a gold edit on a kept vote
    return ids


def _snapshot(store: Store, ids: list[str]) -> tuple[list, list]:
    votes = sorted((tuple(v) for v in iter_votes_with_turns(store)), key=lambda vt: vt[0].id)
    return [get_turn(store, i) for i in ids], votes


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_every_stored_turn_and_vote_is_pushed_and_a_fresh_store_is_restored_from_the_files(hub, tmp_path):
    original = _store(tmp_path / "original.db")
    log = make_commit_scheduler(REPO, os.environ["LOG_TOKEN"], tmp_path / "outbox", hf_api=HfApi(token="hf_log_secret"))
    ids = _fill(original, log)
    log.scheduler.push_to_hub()  # what the scheduler's thread does every 5 minutes
    log.stop()

    sent = hub.files(REPO)
    assert {p.split("-")[0] for p in sent if p.startswith("log/")} == {"log/turns", "log/votes", "log/dpo",
                                                                         "log/battles"}
    rows = {kind: [json.loads(line) for p, data in sent.items() if p.startswith(f"log/{kind}-")
                   for line in data.decode().splitlines()] for kind in ("turns", "votes")}
    assert [r["id"] for r in rows["turns"]] == ids  # failed and stopped turns too
    assert {c.name for c in db.turns.c} <= set(rows["turns"][0]) and rows["turns"][0]["panes"][0]["output"]
    assert all(set(r) == {c.name for c in db.votes.c} for r in rows["votes"])
    assert len(rows["votes"]) == 8  # every save, replaced votes and gold edits included
    assert [r["kind"] for r in rows["votes"][:2]] == ["a", "b"] and rows["votes"][0]["id"] == rows["votes"][1]["id"]
    assert "Gold, second thoughts." in {r["gold_text"] for r in rows["votes"]}
    assert not _keys(rows) & {"session_id", "session_hash"}
    assert all(b"hf_log_secret" not in data for data in sent.values())
    assert all(auth == "Bearer hf_log_secret" for method, _, auth in hub.state.requests if method == "POST")

    fresh = _store(tmp_path / "fresh.db")
    restored = restore_space_store(fresh, "me/space", REPO, "LOG_TOKEN")
    assert restored == Restored(turns=7, votes=6, skipped=0)
    assert _snapshot(fresh, ids) == _snapshot(original, ids)
    assert restore_space_store(fresh, "me/space", REPO, "LOG_TOKEN") == Restored()  # twice adds nothing
    assert _snapshot(fresh, ids) == _snapshot(original, ids) and count_votes(fresh) == 6
    original.close()
    fresh.close()


def test_a_partial_store_gets_the_rest_and_keeps_its_newer_votes(hub, tmp_path):
    original = _store(tmp_path / "original.db")
    log = make_commit_scheduler(REPO, None, tmp_path / "outbox", hf_api=HfApi(token="hf_log_secret"))
    ids = _fill(original, log)
    log.scheduler.push_to_hub()
    log.stop()
    partial = _store(tmp_path / "partial.db")
    save_turn(partial, get_turn(original, ids[0]))
    newer = record_vote(partial, Vote(ids[0], "u1", "tie"))  # after everything in the log
    restored = restore_space_store(partial, "me/space", REPO, "LOG_TOKEN")
    assert restored == Restored(turns=6, votes=5, skipped=0)
    assert get_vote(partial, ids[0], "u1") == newer
    assert [get_turn(partial, i) for i in ids] == [get_turn(original, i) for i in ids]
    original.close()
    partial.close()


def test_an_older_logged_vote_never_replaces_a_newer_one(tmp_path):
    store = _store(tmp_path / "s.db")
    turn_id = save_turn(store, make_turn(seed=9))
    first = record_vote(store, Vote(turn_id, "u", "a"))
    second = record_vote(store, Vote(turn_id, "u", "b"))
    assert not restore_vote(store, first) and get_vote(store, turn_id, "u") == second
    assert not restore_vote(store, second)  # the same vote again: nothing written
    store.close()


def test_unreadable_lines_are_skipped_and_the_rest_restored(tmp_path, caplog):
    source = _store(tmp_path / "source.db")
    turn = get_turn(source, save_turn(source, make_turn(seed=11)))
    turns_file = tmp_path / "turns-x.jsonl"
    turns_file.write_bytes(b"not json\n" + dumps(turn_line(turn)) + b'{"id": "no panes"}\n[1]\n')
    store = _store(tmp_path / "s.db")
    with caplog.at_level(logging.WARNING):
        assert replay(store, [turns_file], []) == Restored(turns=1, votes=0, skipped=3)
    assert get_turn(store, turn.id) == turn and "turns-x.jsonl:1" in caplog.text
    source.close()
    store.close()


def test_restore_does_nothing_off_a_space_and_nothing_before_the_first_push(hub, tmp_path):
    store = _store(tmp_path / "s.db")
    assert restore_space_store(store, None, REPO, "LOG_TOKEN") is None
    assert restore_space_store(store, "me/space", None, "LOG_TOKEN") is None
    assert hub.state.requests == []
    assert restore_space_store(store, "me/space", "me/not-yet", "LOG_TOKEN") == Restored()  # 404: no log yet
    store.close()


def test_a_hub_that_cannot_be_reached_leaves_the_store_as_it_is(monkeypatch, tmp_path, caplog):
    point_hub_client_at(monkeypatch, f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("LOG_TOKEN", "hf_log_secret")
    store = _store(tmp_path / "s.db")
    with caplog.at_level(logging.WARNING):
        assert restore_space_store(store, "me/space", REPO, "LOG_TOKEN") is None
    assert "could not restore" in caplog.text and "hf_log_secret" not in caplog.text
    assert count_votes(store) == 0
    store.close()
