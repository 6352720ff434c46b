"""The judge inside the real app (``--judge-when every-turn``): judging never holds up a user's turn or vote."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import NamedTuple

import pytest
from gradio_client.exceptions import AppError

from playground.store.db import open_store
from playground.store.judgements import iter_judgements
from tests.integration.test_judging import answers
from tests.support.app_process import running_apps
from tests.support.gradio_api import GradioApi
from tests.support.replies import echo
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer

PANES = {"Panes": 2, "Pane A": "alpha", "Pane B": "beta"}


def longer(prompt: str) -> str:
    shown = answers(prompt)
    return json.dumps({"rationale": "r", "winner": "A" if len(shown["A"]) > len(shown["B"]) else "B"})


class JudgedApp(NamedTuple):
    """One test's app, its own test servers (alpha, beta, judge) and its store URL."""

    url: str
    servers: dict[str, TGITestServer]
    db: str


def app_args(servers: dict[str, TGITestServer], db: str, when: str, *extra: str) -> list[str]:
    return [*(a for name, s in servers.items() for a in ("--backend", f"{name.title()}={s.url}")),
            "--database-url", db, "--judge", "judge", "--judge-when", when, *extra]


@pytest.fixture(scope="module")
def apps(tmp_path_factory) -> Iterator[dict[str, JudgedApp]]:
    """An app per test, each over servers of its own (the judge hangs until a test says otherwise), all started at
    once so their start-ups overlap: ``hanging`` and ``one_at_a_time`` judge every turn, ``on_demand`` when asked."""
    extra = {"hanging": ("every-turn",), "one_at_a_time": ("every-turn", "--judge-concurrency", "1"),
             "on_demand": ("on-demand",)}
    with ExitStack() as stack:
        servers = {name: {"alpha": stack.enter_context(TGITestServer(echo("alpha"))),
                          "beta": stack.enter_context(TGITestServer(echo("beta, at length"))),
                          "judge": stack.enter_context(TGITestServer(Behavior(failure="hang"), model_id="test/judge"))}
                   for name in extra}
        dbs = {name: f"sqlite:///{tmp_path_factory.mktemp(f'judge-{name}') / 'store.db'}" for name in extra}
        running = stack.enter_context(running_apps([(app_args(servers[n], dbs[n], *extra[n]), None) for n in extra]))
        yield {name: JudgedApp(url, servers[name], dbs[name]) for name, (url, _) in zip(extra, running, strict=True)}


def wait_for(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_hanging_judge_never_holds_up_the_next_turn_or_vote(apps):
    url, servers, db = apps["hanging"]
    judge = servers["judge"]
    api = GradioApi(url)
    try:
        api.call("/send", Message="First question", **PANES)
        api.call("/store_turn")
        assert judge.wait_for_requests(2, timeout=60)  # both orders of the first turn are with the judge…
        api.call("/send", Message="Second question", **PANES)  # …which never answers, and the user goes on
        api.call("/store_turn")
        outputs = api.call("/vote_a")
        assert "Vote saved: **A is better**" in outputs[-2]
        assert judge.active == 2 and len(judge.requests) == 2  # still pending; the second turn waits its turn
        store = open_store(db, create=False)
        assert list(iter_judgements(store)) == []
        store.close()
    finally:
        api.close()


def test_the_background_judge_stores_verdicts_and_failures(apps):
    url, servers, db = apps["one_at_a_time"]
    judge = servers["judge"]
    judge.behavior = Behavior(text=longer)
    judge.enqueue(Behavior(failure="http_503"))
    api = GradioApi(url)
    try:
        for question in ("Judge me", "Judge me too"):
            api.call("/send", Message=question, **PANES)
            api.call("/store_turn")
        store = open_store(db, create=False)
        assert wait_for(lambda: len(list(iter_judgements(store))) == 2)
        finals = sorted(j.final for j in iter_judgements(store))
        store.close()
    finally:
        api.close()
    # the first order of the first turn met the 503; the other turn: beta's longer reply
    assert finals == ["b", "error"]
    for request in judge.requests:  # anonymised: no label, backend id or model id
        assert "Alpha" not in request["body"]["inputs"] and "test/judge" not in request["body"]["inputs"]


def test_the_judge_tab_judges_a_stored_turn_on_demand(apps):
    url, servers, db = apps["on_demand"]
    servers["judge"].behavior = Behavior(text=longer)
    api = GradioApi(url)
    try:
        api.call("/send", Message="On demand", **PANES)
        api.call("/store_turn")
        store = open_store(db, create=False)
        assert list(iter_judgements(store)) == []  # on demand: nothing judged by itself
        (turn_id,) = [row[0] for row in store.engine.connect().exec_driver_sql("select id from turns")]
        line = api.call("/judge_turn", **{"Turn id (from the Data tab)": turn_id})
        assert "A vs B: **B** better" in line and [j.final for j in iter_judgements(store)] == ["b"]
        progress = api.call("/judge_batch", **{"Also turns without a vote": True})
        assert "done — judged 0/0 pairs; 1 already judged, skipped" in progress
        with pytest.raises(AppError, match="No stored turn has the id"):
            api.call("/judge_turn", **{"Turn id (from the Data tab)": "nope"})
        store.close()
    finally:
        api.close()
