"""Finished turns become stored turns and votes: the real app over the Gradio queue API, TGI test servers behind it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from playground.access.pseudonym import is_pseudonym
from playground.store.db import Store, VoteFilter, get_turn, iter_votes_with_turns, open_store, turns
from playground.types import TurnRecord
from tests.integration.test_store import BACKENDS, store_url
from tests.support.app_process import running_app
from tests.support.gradio_api import GradioApi
from tests.support.replies import echo
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer

NAMES = ("alpha", "beta", "gamma", "broken")


@pytest.fixture(scope="module", params=BACKENDS)
def app(request, tmp_path_factory) -> Iterator[tuple[str, dict[str, TGITestServer], str]]:
    """One app over four test servers and a fresh store: (url, servers by backend id, store URL)."""
    db_url = store_url(request.param, tmp_path_factory.mktemp("vote-flow"))
    servers = {name: TGITestServer(echo(name), model_id=f"test/{name}-model").start() for name in NAMES}
    args = [a for name in NAMES for a in ("--backend", f"{name.title()}={servers[name].url}")]
    try:
        with running_app([*args, "--database-url", db_url]) as (url, _):
            yield url, servers, db_url
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def store(app) -> Iterator[Store]:
    s = open_store(app[2], create=False)
    yield s
    s.close()


@pytest.fixture
def api(app) -> Iterator[GradioApi]:
    """A fresh browser session."""
    client = GradioApi(app[0])
    yield client
    client.close()


def turns_of(store: Store, *first_messages: str) -> list[TurnRecord]:
    """The stored turns whose conversation starts with one of these messages (each test asks its own).

    On a local deployment every caller is the one local operator, so turns are told apart by content.
    """
    with store.engine.connect() as conn:
        ids = conn.execute(sa.select(turns.c.id).order_by(turns.c.created_at)).scalars().all()
    found = [get_turn(store, turn_id) for turn_id in ids]
    return [t for t in found if t.messages and t.messages[0].content in first_messages]


def votes_of(store: Store, *first_messages: str) -> list:
    return [v for v in iter_votes_with_turns(store, VoteFilter())
            if v.turn.messages and v.turn.messages[0].content in first_messages]


def status(outputs: tuple) -> str:
    """The vote status line among a vote endpoint's outputs (…, gold text, status, reveal line)."""
    return outputs[-2]


def panes(*backends: str) -> dict[str, str]:
    return {"Panes": len(backends), **{f"Pane {chr(65 + i)}": b for i, b in enumerate(backends)}}


def test_finished_turn_is_stored_with_its_full_context(api, store):
    api.call("/send", Message="What is DPO?", **{"System prompt": "Be terse.", "Temperature": 0.5},
             **panes("alpha", "beta"))
    api.call("/store_turn")
    api.call("/store_turn")  # a second "turn ended" event for the same turn stores nothing new
    (turn,) = turns_of(store, "What is DPO?")
    assert is_pseudonym(turn.user_id) and api.session_hash not in turn.user_id  # a session hash is a credential
    assert turn.mode == "chat" and not turn.blind
    assert turn.messages[-1].content == "What is DPO?" and turn.sampling.temperature == 0.5
    a, b = turn.panes
    assert (a.backend_id, a.model_id, a.label) == ("alpha", "test/alpha-model", "Alpha")
    assert (b.backend_id, b.model_id) == ("beta", "test/beta-model")
    assert [m.as_dict() for m in a.prompt_messages] == [{"role": "system", "content": "Be terse."},
                                                        {"role": "user", "content": "What is DPO?"}]
    assert a.output == "alpha answers: What is DPO?" and b.output == "beta answers: What is DPO?"
    assert a.status == b.status == "done" and a.metrics.tokens > 0 and a.metrics.finish_reason == "eos_token"
    assert a.finished_at is not None and a.started_at is not None


def test_a_finished_turn_asks_no_server_for_its_model_id(api, store, app):
    servers = app[1]
    api.call("/send", Message="Model ids, turn one", **panes("gamma", "alpha"))
    api.call("/store_turn")
    asked = {name: servers[name].info_requests for name in ("gamma", "alpha")}  # at most the first turn's one
    assert all(n <= 1 for n in asked.values())
    for text in ("Model ids, turn two", "Model ids, turn three"):
        api.call("/send", Message=text, **panes("gamma", "alpha"))
        api.call("/store_turn")
    assert {name: servers[name].info_requests for name in asked} == asked  # no GET /info per finished turn
    stored = turns_of(store, "Model ids, turn one", "Model ids, turn two", "Model ids, turn three")
    assert [[p.model_id for p in t.panes] for t in stored] == [["test/gamma-model", "test/alpha-model"]] * 3


def test_a_changed_mind_replaces_the_vote_and_double_clicks_count_once(api, store):
    api.call("/send", Message="Pick one", **panes("alpha", "beta"))
    api.call("/store_turn")
    assert "Vote saved: **A is better**" in status(api.call("/vote_a"))
    with ThreadPoolExecutor(4) as pool:  # the same click arriving four times at once
        results = list(pool.map(lambda _: api.call("/vote_b"), range(4)))
    assert all("Vote saved: **B is better**" in status(r) for r in results)
    (item,) = votes_of(store, "Pick one")
    assert item.vote.kind == "b" and item.vote.ranking == ((1,), (0,)) and not item.vote.blind
    # The next turn is a new vote; the earlier one can no longer change.
    api.call("/send", Message="Again", **panes("alpha", "beta"))
    api.call("/store_turn")
    api.call("/vote_tie")
    kinds = {v.turn.messages[-1].content: v.vote.kind for v in votes_of(store, "Pick one", "Again")}
    assert kinds == {"Pick one": "b", "Again": "tie"}


def test_a_failed_pane_is_stored_but_cannot_be_voted_on(api, store, app):
    app[1]["broken"].enqueue(Behavior(failure="http_429"))
    api.call("/send", Message="Will you fail?", **panes("alpha", "broken"))
    outputs = api.call("/store_turn")
    assert "Voting is off for this turn: pane B failed" in status(outputs)
    (turn,) = turns_of(store, "Will you fail?")
    assert [p.status for p in turn.panes] == ["done", "error"] and "overloaded" in (turn.panes[1].error or "").lower()
    with pytest.raises(Exception, match="Voting is off"):
        api.call("/vote_a")
    assert votes_of(store, "Will you fail?") == []


def test_ranking_of_three_panes_over_two_turns_keeps_history(api, store):
    api.call("/send", Message="First question", **panes("alpha", "beta", "gamma"))
    api.call("/store_turn")
    api.call("/send", Message="Second question", **panes("alpha", "beta", "gamma"))
    api.call("/store_turn")
    api.call("/rank_pane_1")  # B first: nothing is saved yet
    assert votes_of(store, "First question") == []
    outputs = api.call("/rank_pane_0")  # then A: C, the one left, is last and the ranking is saved
    assert "Vote saved: **B > A > C**" in status(outputs)
    (item,) = votes_of(store, "First question")
    assert item.vote.ranking == ((1,), (0,), (2,))
    gamma = item.turn.panes[2]
    assert [m.content for m in gamma.prompt_messages[1:]] == [
        "First question", "gamma answers: First question", "Second question"]
    assert [m.content for m in item.turn.messages] == ["First question", "Second question"]


def test_undo_reranks_and_two_panes_refuse_picks(api, store):
    api.call("/send", Message="Rank by clicks", **panes("alpha", "beta", "gamma"))
    api.call("/store_turn")
    api.call("/rank_pane_2")
    api.call("/rank_pane_0")
    outputs = api.call("/rank_undo")  # A loses its place; the saved C > A > B stays until a new ranking is complete
    assert "Vote saved: **C > A > B**" in status(outputs)
    assert "Vote saved: **C > B > A**" in status(api.call("/rank_pane_1"))
    (item,) = votes_of(store, "Rank by clicks")
    assert item.vote.ranking == ((2,), (1,), (0,))
    api.call("/send", Message="Two panes", **panes("alpha", "beta"))
    api.call("/store_turn")
    with pytest.raises(Exception, match="three or four panes"):
        api.call("/rank_pane_0")
    assert votes_of(store, "Two panes") == []


def test_an_edited_reply_is_kept_beside_the_original(api, store):
    api.call("/send", Message="Spell it", **panes("beta", "alpha"))
    api.call("/store_turn")
    outputs = api.call("/vote_b")
    assert "alpha answers: Spell it" in outputs, "the edit box starts from the preferred reply"
    api.call("/save_gold", **{"Corrected reply": "A corrected answer."})
    (item,) = votes_of(store, "Spell it")
    assert item.vote.kind == "b" and item.vote.gold_text == "A corrected answer."
    assert item.vote.gold_original == "alpha answers: Spell it"


def test_blind_votes_are_marked_and_reveal_the_names(api, store):
    send = {"Blind": True, "Panes": 2}
    api.call("/send", Message="Who are you?", **send)
    outputs = api.call("/store_turn")
    assert "names are hidden" in outputs[-1] and not any(n.title() in outputs[-1] for n in NAMES)
    outputs = api.call("/vote_a")
    api.call("/vote_a")  # a repeated click after the reveal is the same blind judgement
    (item,) = votes_of(store, "Who are you?")
    assert item.turn.blind and item.vote.blind
    reveal = outputs[-1]
    assert all(f"**{p.label}**" in reveal for p in item.turn.panes), reveal
    # The battle goes on with its names known: its next turn and vote are not blind.
    api.call("/send", Message="And now?", **send)
    api.call("/store_turn")
    api.call("/vote_b")
    later = next(v for v in votes_of(store, "Who are you?") if v.turn.messages[-1].content == "And now?")
    assert not later.turn.blind and not later.vote.blind
    assert [p.backend_id for p in later.turn.panes] == [p.backend_id for p in item.turn.panes]


def test_export_endpoint_writes_trl_rows_for_the_sessions_votes(api, store, tmp_path: Path):
    api.call("/send", Message="Export me", **panes("gamma", "alpha"))
    api.call("/store_turn")
    api.call("/vote_a")
    path = api.call("/export_dpo_jsonl")[0][0]  # the export, then its dataset card
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    mine = [r for r in rows if r["prompt"][-1]["content"] == "Export me"]
    assert len(mine) == 1
    assert mine[0]["chosen"] == [{"role": "assistant", "content": "gamma answers: Export me"}]
    assert mine[0]["rejected"] == [{"role": "assistant", "content": "alpha answers: Export me"}]


def test_concurrent_sessions_each_store_their_own_turn(app, store):
    clients = [GradioApi(app[0]) for _ in range(4)]
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            clients[i].call("/send", Message=f"session {i}", **panes("alpha", "beta"))
            clients[i].call("/store_turn")
            clients[i].call("/vote_a")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for i, client in enumerate(clients):
        (item,) = votes_of(store, f"session {i}")
        assert item.turn.messages[-1].content == f"session {i}"
        client.close()


def calculator_then_answer(answer: str):
    """A Hermes model that calls the calculator once, then answers ``answer`` from the tool's result."""

    def reply(prompt: str) -> str:
        if "<tool_response>" in prompt:
            return answer
        return '<tool_call>\n{"arguments": {"expression": "2 + 2"}, "name": "calculator"}\n</tool_call>'

    return reply


def test_function_calling_turn_keeps_raw_tool_calls_and_schemas(api, store, app):
    for name, answer in (("alpha", "It is four."), ("beta", "2 + 2 is 4.")):
        app[1][name].enqueue(*[Behavior(text=calculator_then_answer(answer))] * 2)
    system = "You may call these tools: <tools> {TOOLS} </tools>"
    api.call("/send", Message="What is 2 + 2?", Mode="Function calling", **{"System prompt": system},
             **panes("alpha", "beta"))
    api.call("/store_turn")
    api.call("/vote_b")
    (item,) = votes_of(store, "What is 2 + 2?")
    turn = item.turn
    assert turn.mode == "tools" and any(t["function"]["name"] == "calculator" for t in turn.tools or ())
    pane = turn.panes[1]
    assert pane.output.startswith("<tool_call>") and '"name": "calculator"' in pane.output
    assert [m.role for m in pane.followup] == ["tool", "assistant"] and pane.followup[-1].content == "2 + 2 is 4."
    path = api.call("/export_dpo_jsonl")[0][0]  # the export, then its dataset card
    (row,) = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
              if json.loads(line)["turn_id"] == turn.id]
    # The whole assistant side the voter judged: the call, the tool's result, the final answer.
    assert [m["role"] for m in row["chosen"]] == ["assistant", "tool", "assistant"] and row["mode"] == "tools"
    assert row["chosen"][0]["content"] == pane.output and row["chosen"][-1]["content"] == "2 + 2 is 4."
    assert row["rejected"][-1]["content"] == "It is four."
    assert any(t["function"]["name"] == "calculator" for t in json.loads(row["tools"]))
