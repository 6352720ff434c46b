"""The Space's continuous Hub log: started at app start when configured, fed by every stored vote."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

from playground.store.db import open_store, record_vote, save_turn
from playground.store.hub import HubVoteLog, open_space_vote_log
from playground.store.synthetic import make_turn
from playground.types import Vote
from playground.ui.vote import append_to_hub
from playground.voting import VoteSession
from tests.integration.test_export import FakeHub


def test_no_hub_log_off_a_space_or_without_a_repo(tmp_path):
    assert open_space_vote_log(None, "me/votes", "HF_TOKEN", tmp_path) is None
    assert open_space_vote_log("me/space", None, "HF_TOKEN", tmp_path) is None


def test_on_a_space_the_scheduler_starts_with_the_server_token_and_votes_are_appended(tmp_path, monkeypatch):
    monkeypatch.setenv("VOTES_TOKEN", "hf_server_side")
    hub = FakeHub()
    log = open_space_vote_log("me/space", "me/votes", "VOTES_TOKEN", tmp_path / "outbox", hf_api=hub)
    assert log is not None
    deadline = time.monotonic() + 10
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
        append_to_hub(log, Vote(turn.id, "u", "a", ranking=((0,), (1,))), vs)
        assert not log.start()
    assert "could not append vote" in caplog.text and "did not start" in caplog.text
    assert "hf_secret_token" not in caplog.text
