"""The scripting API (``/compare``, ``/vote``) through ``gradio_client`` against the real app over TGI test
servers: the documented signature, replies and stored turns, votes by the session that ran the turn only,
clear refusals, the page's consent and quotas, and the README's example run as written. (Any payload on
these endpoints: tests/integration/test_listener_fuzz.py calls every listener, these two included.)
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from playground.access.pseudonym import is_pseudonym
from playground.hermes.builtin_tools import builtin_tool_schemas
from playground.hermes.modes import mode_ids
from playground.store.db import VoteFilter, get_turn, iter_votes_with_turns, open_store
from playground.types import Message
from tests.support.app_process import ROOT, running_apps
from tests.support.gradio_api import close_client
from tests.support.public_deployment import public_config
from tests.support.replies import echo
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer

README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Scripting a comparison", 1)[1].split("\n## ", 1)[0]
EXAMPLE_URL = "http://127.0.0.1:7860/"
LABELS = {"hermes-3-8b": "Hermes 3 8B", "hermes-3-70b": "Hermes 3 70B", "gamma": "Gamma"}  # the README's ids
TOOL_CALL = '<tool_call>\n{"name": "%s", "arguments": %s}\n</tool_call>'
TOOLS_PROMPT = "You may call these tools: <tools> {TOOLS} </tools>"


def documented_signature() -> list[tuple[str, Any]]:
    """``(name, default)`` per parameter of the README's ``compare(...)`` line; a required one has ``...``."""
    text = re.search(r"^compare\((.*?)\)\n```", SECTION, re.DOTALL | re.MULTILINE).group(1)  # type: ignore[union-attr]
    params = []
    for part in (p.strip() for p in text.split(",")):
        name, _, default = part.partition("=")
        params.append((name, ... if not default else json.loads({"None": "null", "True": "true",
                                                                 "False": "false"}.get(default, default))))
    return params


@pytest.fixture(scope="module")
def apps(servers, hub, tmp_path_factory) -> Iterator[dict[str, tuple[str, dict[str, TGITestServer], str]]]:
    """(url, servers by backend id, store URL) of ``local``, an app over three echo servers of this module's, and
    ``public``, a public deployment over the shared ``servers`` (conftest.py) allowing 2 turns a minute per voter;
    started together so their start-ups overlap."""
    db = f"sqlite:///{tmp_path_factory.mktemp('named-api') / 'store.db'}"
    started = {b: TGITestServer(echo(b), model_id=f"test/{b}").start() for b in LABELS}
    args = [a for b, label in LABELS.items() for a in ("--backend", f"{label}={started[b].url}")]
    public_args, public_env, public_db = public_config(servers, hub, tmp_path_factory.mktemp("named-api-public"),
                                                       "--vote-policy", "anyone", "--quota-turns-per-voter", "2/minute")
    configs = [([*args, "--database-url", db], {"HERMES_SECRET": "named-api-" + "x" * 24}), (public_args, public_env)]
    try:
        with running_apps(configs) as ((url, _), (public_url, _)):
            yield {"local": (url, started, db), "public": (public_url, servers, public_db)}
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def app(apps) -> tuple[str, dict[str, TGITestServer], str]:
    """The local app over three echo servers: (url, servers by backend id, store URL)."""
    return apps["local"]


@pytest.fixture
def client(app) -> Iterator[Client]:
    c = Client(app[0], verbose=False)
    yield c
    close_client(c)


def compare(client: Client, **values: Any) -> dict[str, Any]:
    return client.predict(**{"backends": ["hermes-3-8b", "hermes-3-70b"], **values}, api_name="/compare")


def last_body(server: TGITestServer) -> dict[str, Any]:
    return server.requests[-1]["body"]


def test_view_api_shows_the_documented_parameters_in_order(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = endpoints["/compare"]["parameters"]
    shown = [(p["parameter_name"], p["parameter_default"] if p["parameter_has_default"] else ...) for p in params]
    assert shown == documented_signature()
    assert {p["parameter_name"]: p["python_type"]["type"] for p in params}["mode"] == \
        f"Literal[{', '.join(repr(m) for m in mode_ids())}]", "the mode registry's ids, as an enum"
    assert [p["parameter_name"] for p in endpoints["/vote"]["parameters"]] == ["turn_id", "choice", "gold_text"]
    assert "vote(turn_id, choice, gold_text=None)" in SECTION
    assert not {"/send", "/regenerate"} & set(endpoints), "the page's one-value-per-widget endpoints are undocumented"


def test_compare_returns_each_reply_and_stores_the_turn(app, client):
    _, started, db = app
    history = [{"role": "user", "content": "Earlier question"}, {"role": "assistant", "content": "Earlier answer"}]
    result = compare(client, message="Compare me", system_prompt="Be terse.", history=history, seed=41,
                     same_seed=False, stop=["\n\n", "User:"], max_new_tokens=64)
    assert [(p["pane"], p["backend"], p["label"], p["model_id"], p["status"], p["reply"]) for p in result["panes"]] == [
        ("A", "hermes-3-8b", "Hermes 3 8B", "test/hermes-3-8b", "done", "hermes-3-8b answers: Compare me"),
        ("B", "hermes-3-70b", "Hermes 3 70B", "test/hermes-3-70b", "done", "hermes-3-70b answers: Compare me")]
    assert all(p["finish_reason"] == "eos_token" and p["error"] is None and p["tokens"] > 0 and p["ttft_s"] is not None
               for p in result["panes"])
    assert result["votable"] and result["not_votable_reason"] is None
    sent = last_body(started["hermes-3-8b"])
    assert ("<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nEarlier question<|im_end|>\n"
            "<|im_start|>assistant\nEarlier answer<|im_end|>\n<|im_start|>user\nCompare me<|im_end|>") in sent["inputs"]
    assert sent["parameters"]["stop"] == ["\n\n", "User:"] and sent["parameters"]["max_new_tokens"] == 64
    assert (sent["parameters"]["seed"], last_body(started["hermes-3-70b"])["parameters"]["seed"]) == (41, 42)
    store = open_store(db, create=False)
    turn = get_turn(store, result["turn_id"])
    store.close()
    assert turn.messages == (Message("user", "Earlier question"), Message("user", "Compare me"))
    assert [(p.backend_id, p.model_id, p.output, p.system_prompt) for p in turn.panes] == [
        ("hermes-3-8b", "test/hermes-3-8b", "hermes-3-8b answers: Compare me", "Be terse."),
        ("hermes-3-70b", "test/hermes-3-70b", "hermes-3-70b answers: Compare me", "Be terse.")]
    assert turn.sampling.seed == 41 and not turn.blind and is_pseudonym(turn.user_id)


def test_a_seed_left_out_is_random_and_never_sent(app, client):
    compare(client, message="No seed")
    assert "seed" not in last_body(app[1]["hermes-3-8b"])["parameters"]


def test_a_vote_is_stored_and_only_the_session_that_ran_the_turn_may_cast_it(app, client):
    url, _, db = app
    turn = compare(client, message="Vote on me")
    assert client.predict(turn_id=turn["turn_id"], choice="b", api_name="/vote") == {
        "turn_id": turn["turn_id"], "vote": "B is better", "ranking": "B > A"}
    other = Client(url, verbose=False)
    with pytest.raises(AppError, match="was not run by this session: vote with the client that ran it"):
        other.predict(turn_id=turn["turn_id"], choice="A", api_name="/vote")
    close_client(other)
    store = open_store(db, create=False)
    votes = [v.vote for v in iter_votes_with_turns(store, VoteFilter()) if v.vote.turn_id == turn["turn_id"]]
    store.close()
    assert [(v.kind, v.ranking, v.blind) for v in votes] == [("b", ((1,), (0,)), False)]
    assert is_pseudonym(votes[0].user_id)
    path = Path(db.removeprefix("sqlite:///"))
    stored = b"".join(f.read_bytes() for f in path.parent.glob(path.name + "*"))
    assert client.session_hash.encode() not in stored, "a session hash is a credential: never stored"


def test_three_panes_take_a_ranking(app, client):
    turn = compare(client, message="Rank us", backends=["hermes-3-8b", "hermes-3-70b", "gamma"])
    with pytest.raises(AppError, match=re.escape("for 3 panes rank every pane once, best first, e.g. 'B > A = C'")):
        client.predict(turn_id=turn["turn_id"], choice="A", api_name="/vote")
    vote = client.predict(turn_id=turn["turn_id"], choice="C > A = B", api_name="/vote")
    assert vote["ranking"] == "C > A = B"
    store = open_store(app[2], create=False)
    (stored,) = [v.vote for v in iter_votes_with_turns(store, VoteFilter()) if v.vote.turn_id == turn["turn_id"]]
    store.close()
    assert stored.kind == "ranking" and stored.ranking == ((2,), (0, 1))


def test_tools_run_built_in_and_a_call_nobody_can_answer_stops_its_pane(app, client):
    echoes = app[1]
    city = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = [{"type": "function",
              "function": {"name": "lookup_weather", "description": "Weather in a city", "parameters": city}}]
    echoes["hermes-3-8b"].enqueue(Behavior(text=TOOL_CALL % ("calculator", '{"expression": "2 + 2"}')),
                                   Behavior(text="It is 4."))
    echoes["hermes-3-70b"].enqueue(Behavior(text=TOOL_CALL % ("lookup_weather", '{"city": "Paris"}')))
    result = compare(client, message="What is 2 + 2? And the weather?", mode="tools", system_prompt=TOOLS_PROMPT,
                     tools=json.dumps(builtin_tool_schemas() + tools))
    a, b = result["panes"]
    assert a["status"] == "done" and "calculator" in a["reply"]
    assert [m["role"] for m in a["followup"]] == ["tool", "assistant"] and a["followup"][-1]["content"] == "It is 4."
    assert '"content": 4' in a["followup"][0]["content"]
    assert b["status"] == "stopped" and "lookup_weather" in b["reply"]
    assert not result["votable"] and result["not_votable_reason"] == "pane B was stopped"


@pytest.mark.parametrize("values, message", [
    ({"backends": ["nope"]}, "Unknown backend 'nope': the backends are hermes-3-8b, hermes-3-70b, gamma."),
    ({"backends": ["gamma"] * 5}, "backends must be a list of 1 to 4 backend ids"),
    ({"backends": []}, "backends must be a list of 1 to 4 backend ids"),
    ({"mode": "poetry"}, "mode must be one of: chat, tools, json; got 'poetry'."),
    ({"mode": "tools", "system_prompt": TOOLS_PROMPT, "tools": '[{"type": "function"'}, "Tool definitions"),
    ({"mode": "tools", "system_prompt": "No placeholder", "tools": json.dumps(builtin_tool_schemas())},
     "needs {TOOLS} in the system prompt"),
    ({"tools": [{"type": "function"}]}, "tools must be text (JSON as text: json.dumps it)"),
    ({"temperature": "hot"}, "Temperature must be a number"),
    ({"seed": -1}, "Seed must be a whole number from 0"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "5 stop sequences given; the limit is 4"),
    ({"history": [{"role": "assistant", "content": "x"}]}, "history[0] must have role 'user'"),
    ({"history": [{"role": "user", "content": "x"}]}, "history must end with an assistant message"),
    ({"history": [{"role": "user", "content": "<|im_end|>"}, {"role": "assistant", "content": "y"}]},
     "history[0] contains the special token '<|im_end|>'"),
    ({"message": "hi <|im_start|>system"}, "Your message contains the special token '<|im_start|>'"),
    ({"message": "  "}, "Type a message first."),
    ({"system_prompts": ["one"]}, "system_prompts must be null or a list of 2 texts or nulls, one per backend."),
])
def test_bad_parameters_are_refused_with_a_clear_message_and_nothing_is_sent(app, client, values, message):
    before = sum(len(s.requests) for s in app[1].values())
    with pytest.raises(AppError, match=re.escape(message)):
        compare(client, **{"message": "Refuse me", **values})
    assert sum(len(s.requests) for s in app[1].values()) == before


def test_the_readme_example_runs_as_written(app):
    url, _, db = app
    code = re.search(r"```python\n(.*?)```", SECTION, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert EXAMPLE_URL in code
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(code.replace(EXAMPLE_URL, url), "README.md", "exec"), {})  # noqa: S102 — our own README
    printed = out.getvalue()
    assert "A hermes-3-8b test/hermes-3-8b done hermes-3-8b answers: Write a haiku about gradient descent." in printed
    assert "'vote': 'A is better'" in printed
    turn_id = re.search(r"'turn_id': '([0-9a-f-]{36})'", printed).group(1)  # type: ignore[union-attr]
    store = open_store(db, create=False)
    (voted,) = [v for v in iter_votes_with_turns(store, VoteFilter()) if v.vote.turn_id == turn_id]
    store.close()
    assert voted.vote.kind == "a" and voted.turn.panes[0].system_prompt == "You are a concise poet."


def test_public_deployment_asks_consent_and_counts_scripted_turns_in_the_quota(apps):
    url, _, db = apps["public"]
    client = Client(url, verbose=False)
    turn = client.predict(message="Consent?", backends=["alpha", "beta"], api_name="/compare")
    with pytest.raises(AppError, match="accept the notice"):
        client.predict(turn_id=turn["turn_id"], choice="A", api_name="/vote")
    client.predict(api_name="/accept_terms")
    client.predict(turn_id=turn["turn_id"], choice="A", api_name="/vote")
    client.predict(message="Second", backends=["alpha", "beta"], api_name="/compare")
    with pytest.raises(AppError, match="limit of 2 turns per minute"):
        client.predict(message="Third", backends=["alpha", "beta"], api_name="/compare")
    close_client(client)
    store = open_store(db, create=False)
    (voted,) = iter_votes_with_turns(store, VoteFilter())
    store.close()
    assert voted.vote.terms_version is not None and voted.vote.user_id == voted.turn.user_id
