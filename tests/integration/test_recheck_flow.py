"""Consistency checks through the real app: after a vote (``--recheck-rate 1``) a past pair of the same
rater comes back with its replies swapped; the answer is stored in ``rechecks``, never as a vote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from playground.store.db import count_votes, open_store
from playground.store.rechecks import rechecks
from tests.support.app_process import running_app
from tests.support.gradio_api import GradioApi
from tests.support.replies import echo
from tests.support.tgi_server import TGITestServer

UNCHANGED = {"__type__": "update"}  # what an output left as it is reads as over the API


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(url, store URL) of an app that follows every vote with a consistency check."""
    db = f"sqlite:///{tmp_path_factory.mktemp('recheck') / 'store.db'}"
    servers = [TGITestServer(echo(name), model_id=f"test/{name}").start() for name in ("alpha", "beta")]
    args = ["--backend", f"Alpha={servers[0].url}", "--backend", f"Beta={servers[1].url}", "--database-url", db,
            "--recheck-rate", "1"]
    try:
        with running_app(args) as (url, _):
            yield url, db
    finally:
        for server in servers:
            server.stop()


def vote_on(api: GradioApi, message: str, kind: str) -> tuple:
    """Send ``message`` to Alpha (A) and Beta (B), vote ``kind``, then ask for the check the page would ask for."""
    api.call("/send", Message=message, Panes=2, **{"Pane A": "alpha", "Pane B": "beta"})
    api.call("/store_turn")
    api.call(f"/vote_{kind}")
    return api.call("/recheck_offer")


def stored_rechecks(db: str) -> list[dict]:
    store = open_store(db, create=False)
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(rechecks).order_by(rechecks.c.answered_at)).mappings()]
    store.close()
    return rows


def test_a_past_pair_comes_back_swapped_and_the_answer_is_stored_with_its_consistency(app):
    url, db = app
    api = GradioApi(url)
    context, *_ = vote_on(api, "First pair", "a")
    assert context in ("", UNCHANGED), "no past pair yet: no check"

    context, reply_a, reply_b, _status = vote_on(api, "Second pair", "b")  # (the panel is not an API output)
    assert "First pair" in context
    assert "beta answers: First pair" in reply_a and "alpha answers: First pair" in reply_b, "swapped"
    outputs = api.call("/recheck_b")  # B shown = Alpha = the reply preferred before: consistent
    assert "consistency check recorded" in outputs[-1]
    with pytest.raises(Exception, match="no consistency check to answer"):
        api.call("/recheck_b")  # each check is answered once

    # The next check re-shows the pair not checked yet ("Second pair", voted b = Beta better).
    context, reply_a, reply_b, _ = vote_on(api, "Third pair", "tie")
    assert "Second pair" in context and "beta answers: Second pair" in reply_a
    api.call("/recheck_b")  # now prefers Alpha: inconsistent

    first, second = stored_rechecks(db)
    assert (first["original_kind"], first["answer"], first["answer_kind"], first["consistent"]) == ("a", "b", "a", True)
    assert (second["original_kind"], second["answer"], second["answer_kind"], second["consistent"]) == (
        "b", "b", "a", False)
    assert first["shown_order"] == [1, 0] and first["answered_at"] >= first["shown_at"]
    store = open_store(db, create=False)
    assert count_votes(store) == 3, "a check is not a vote"
    store.close()
    api.close()


def test_skipping_stores_nothing_and_a_check_is_offered_once_per_vote(app):
    url, db = app
    api = GradioApi(url)
    before = len(stored_rechecks(db))
    context, *_ = vote_on(api, "Fourth pair", "a")
    assert "pair" in context
    assert api.call("/recheck_offer")[0] == UNCHANGED, "the shown check is left as it is"
    assert api.call("/recheck_skip")[0] == ""
    assert api.call("/recheck_offer")[0] == UNCHANGED, "no second draw for the same vote (rate 1 would show one)"
    assert len(stored_rechecks(db)) == before
    api.close()
