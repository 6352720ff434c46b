"""The Leaderboard tab's public endpoint on the real app over a real SQLite file: ratings per slice and
configuration, style coefficients, position bias, conformance; bad payloads refused with a message."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from playground.store.db import open_store, record_vote, save_turn
from playground.store.synthetic import make_turn
from tests.support import raw_gradio as raw
from tests.support.app_process import running_app
from tests.support.arena_sim import simulate_arena
from tests.support.gradio_api import GradioApi
from tests.support.replies import echo
from tests.support.tgi_server import TGITestServer


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[str]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('leaderboard') / 'store.db'}"
    store = open_store(db_url)
    sim = simulate_arena(60, seed=5)
    for turn, vote in zip(sim.turns, sim.votes, strict=True):
        save_turn(store, turn)
        record_vote(store, vote)
    save_turn(store, make_turn(seed=1, mode="tools"))  # not voted on: still counts for conformance
    store.close()
    server = TGITestServer(echo("alpha"), model_id="test/alpha").start()
    try:
        with running_app(["--backend", f"Alpha={server.url}", "--database-url", db_url]) as (url, _):
            yield url
    finally:
        server.stop()


def test_leaderboard_rates_configurations_in_a_slice_with_style_control_and_conformance(app):
    api = GradioApi(app)
    table, style, _, _, summary, position, conformance, _ = api.call(
        "/leaderboard", Rate="config", **{"Slice (mode or category of the first message)": "category: math"})
    names = [row[1] for row in table["data"]]
    assert names and all(n.startswith("hermes-") and n.endswith(" · No system turn · chat") for n in names)
    assert all(row[-1].startswith("provisional") for row in table["data"])  # 12 battles among 4 configurations
    assert "(category: math)" in summary and "Provisional" in summary
    assert [row[0] for row in style["data"]] == ["length", "headers", "lists", "bold"]
    assert "of 60 decisive left-vs-right outcomes" in position
    by_model = {row[0]: row for row in conformance["data"]}
    assert by_model["NousResearch/Hermes-3-Llama-3.2-3B"][2] == "100% (1/1)"  # its unvoted tool turn
    assert by_model["hermes-405b"][5] > 0 and by_model["hermes-405b"][2] == "—"
    api.close()


@pytest.mark.parametrize(("data", "message"), [
    (["everything", "all", True], "Rate must be one of"),
    ([None, "all", True], "Rate must be one of"),
    (["backend", "category: gossip", True], "Slice .*must be one of"),
    (["backend", {"all": 1}, True], "Slice .*must be one of"),
    (["backend", "all", "no"], "Blind votes only must be true or false"),
])
def test_leaderboard_refuses_values_outside_its_choices(app, data, message):
    with httpx.Client(base_url=app, timeout=30) as client:
        dep = next(d for d in raw.dependencies(client) if d.get("api_name") == "leaderboard")
        result = raw.call(client, dep, data, raw.new_session())
    # refused by the request guard (422) or by the handler (a gr.Error event), always with a message
    assert not result.success and re.search(message, result.text), result.text[:500]
