"""Durability: SIGKILL the app while many sessions vote; every vote a client saw acknowledged is in the store."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field

from playground.store.db import count_votes, iter_votes_with_turns, open_store
from tests.support.app_process import running_app
from tests.support.gradio_api import GradioApi
from tests.support.replies import echo

pytest_plugins = ["tests.support.fixtures"]

VOTERS = 10
KILL_AFTER_ACKS = 35  # mid-way through a wave of votes: the kill lands right after an acknowledgement


@dataclass
class Ledger:
    """What the clients saw: per question, the votes tried in order and which were acknowledged."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tried: dict[str, list[str]] = field(default_factory=dict)
    acked: dict[str, list[str]] = field(default_factory=dict)
    in_flight: int = 0
    enough: threading.Event = field(default_factory=threading.Event)

    def start(self, question: str, kind: str) -> None:
        with self.lock:
            self.tried.setdefault(question, []).append(kind)
            self.in_flight += 1

    def end(self, question: str, kind: str | None) -> None:
        with self.lock:
            self.in_flight -= 1
            if kind is not None:
                self.acked.setdefault(question, []).append(kind)
                if sum(len(kinds) for kinds in self.acked.values()) >= KILL_AFTER_ACKS:
                    self.enough.set()

    @property
    def ack_count(self) -> int:
        with self.lock:
            return sum(len(kinds) for kinds in self.acked.values())


def vote_until_killed(url: str, voter: int, ledger: Ledger, killed: threading.Event) -> None:
    """One browser session: ask, store the turn, vote (sometimes changing its mind), again and again."""
    try:
        api = GradioApi(url)
    except Exception:  # noqa: BLE001 — the app may already be gone
        return
    turn = 0
    while not killed.is_set():
        question = f"voter {voter} question {turn}"
        kinds = ("a", "b") if turn % 3 == 0 else (("tie", "bothbad", "a", "b")[(voter + turn) % 4],)
        try:
            api.call("/send", Message=question)
            api.call("/store_turn")
            for kind in kinds:
                ledger.start(question, kind)
                outputs = None
                try:
                    outputs = api.call(f"/vote_{kind}")
                finally:
                    saved = outputs is not None and "Vote saved" in outputs[-2]
                    ledger.end(question, kind if saved else None)
        except Exception:  # noqa: BLE001 — calls in flight when the app dies fail; they were not acknowledged
            if killed.is_set():
                return
            raise
        turn += 1


def test_every_acknowledged_vote_survives_sigkill(tgi_server_factory, tmp_path):
    alpha = tgi_server_factory(behavior=echo("alpha"), model_id="test/alpha")
    beta = tgi_server_factory(behavior=echo("beta"), model_id="test/beta")
    db_url = f"sqlite:///{tmp_path / 'votes.db'}"
    args = ["--backend", f"Alpha={alpha.url}", "--backend", f"Beta={beta.url}", "--database-url", db_url]
    ledger, killed = Ledger(), threading.Event()
    with running_app(args) as (url, proc):
        threads = [threading.Thread(target=vote_until_killed, args=(url, v, ledger, killed), daemon=True)
                   for v in range(VOTERS)]
        for t in threads:
            t.start()
        assert ledger.enough.wait(120), f"only {ledger.ack_count} votes acknowledged in 120 s"
        while ledger.in_flight == 0:  # kill with votes in flight, as soon as possible after an acknowledgement
            assert proc.poll() is None, "the app died on its own"
        in_flight_at_kill = ledger.in_flight
        os.kill(proc.pid, signal.SIGKILL)
        killed.set()
        proc.wait(10)
        for t in threads:
            t.join(30)
    assert in_flight_at_kill > 0
    acked, tried = dict(ledger.acked), dict(ledger.tried)
    store = open_store(db_url, create=False)
    try:
        stored = {}
        for vote, turn in iter_votes_with_turns(store):
            question = turn.messages[-1].content
            assert question not in stored, f"two votes for {question!r}"
            stored[question] = vote.kind
        missing = sorted(q for q in acked if q not in stored)
        assert not missing, f"{len(missing)} acknowledged votes lost, e.g. {missing[:3]}"
        for question, kinds in acked.items():
            # the last acknowledged choice, or a later one that committed just before the kill
            later = tried[question][len(kinds):]
            assert stored[question] in [kinds[-1], *later], (question, kinds, later, stored[question])
        assert count_votes(store) == len(stored) >= len(acked) >= KILL_AFTER_ACKS // 2
    finally:
        store.close()
