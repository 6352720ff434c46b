"""Backend kinds come from one table and each kind declares what it can do: settings refuse an unknown
kind by name, the capabilities decide grammar and the inspector over real HTTP, and a new kind is one entry."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from types import MappingProxyType

import pytest

from playground.backends.openai_compat import OpenAIBackend
from playground.backends.registry import (
    BACKENDS,
    build_backends,
    capabilities_of,
    make_backend,
)
from playground.compare import run as turn
from playground.compare.prepare import TurnChoices, start_turn
from playground.compare.state import CompareSession, PaneState
from playground.hermes.builtin_tools import ToolContext
from playground.judging.prompts import JudgeCase, choose_judge_prompt
from playground.judging.runner import Judge
from playground.settings import ASSETS_DIR, Settings, SettingsError, load_settings
from playground.types import (
    BackendSpec,
    EndEvent,
    GenerationRequest,
    Message,
    SamplingParams,
)
from playground.ui.inspector import inspector_header, inspector_text
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

SCHEMA = '{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}'
KNOWN = "'tgi', 'openai'"


def test_an_unknown_kind_in_the_backends_file_names_the_kind_the_backend_and_the_known_kinds(tmp_path):
    path = tmp_path / "backends.toml"
    path.write_text('[[backends]]\nid = "local-vllm"\nurl = "http://127.0.0.1:8000"\nkind = "vllm"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(["--backends-file", str(path)], {})
    message = str(caught.value)
    assert "'vllm'" in message and "'local-vllm'" in message and KNOWN in message and str(path) in message


def test_an_unknown_kind_prefix_on_the_command_line_is_refused_by_name():
    with pytest.raises(SettingsError, match=f"kind 'vllm'; known kinds: {KNOWN}"):
        load_settings(["--backend", "Local=vllm:http://127.0.0.1:8000"], {})
    assert load_settings(["--backend", "Chat=openai:http://127.0.0.1:8000"], {}).backends[0].kind == "openai"


def test_a_backend_built_outside_settings_with_an_unknown_kind_is_refused_too():
    with pytest.raises(ValueError, match=f"backend 'x' has kind 'vllm'; known kinds: {KNOWN}"):
        make_backend(BackendSpec("x", "X", "http://127.0.0.1:9", kind="vllm"))


def choices(**kw: object) -> TurnChoices:
    return TurnChoices(**{"mode": "json", "sampling": SamplingParams(max_new_tokens=30), "system": "Schema: {SCHEMA}",
                          "schema_text": SCHEMA, "grammar": True, **kw})


async def test_grammar_reaches_the_tgi_pane_and_never_the_chat_pane(tgi_server_factory):
    tgi_server = tgi_server_factory(behavior=Behavior(text='{"name": "Ada"}'))
    chat_server = tgi_server_factory(behavior=Behavior(text='{"name": "Ada"}'), mode="openai")
    specs = (BackendSpec("h8", "Hermes 8B", tgi_server.url, kind="tgi"),
             BackendSpec("chat", "Chat", chat_server.url, kind="openai"))
    backends = build_backends(Settings(backends=specs))
    session = CompareSession(panes=[PaneState(s.id, s.label) for s in specs])
    try:
        jobs = start_turn(session, choices(), "Who?", backends, ToolContext())
        async for _ in turn.run_turn(jobs, session.panes):
            pass
    finally:
        for backend in backends.values():
            await backend.aclose()
    assert [p.status for p in session.panes] == ["done", "done"]
    assert tgi_server.requests[-1]["body"]["parameters"]["grammar"] == {"type": "json", "value": json.loads(SCHEMA)}
    chat_body = chat_server.requests[-1]["body"]
    assert "messages" in chat_body and not {"grammar", "response_format", "guided_json"} & set(chat_body)
    assert [p.grammar for p in session.panes] == [True, False]

    tgi_pane, chat_pane = session.panes
    assert inspector_text(tgi_pane, specs[0]).startswith("<|im_start|>system\nSchema: ")
    assert "`/generate_stream`" in inspector_header(tgi_pane, specs[0])
    assert json.loads(inspector_text(chat_pane, specs[1]))[-1] == {"role": "user", "content": "Who?"}
    assert "`/v1/chat/completions`" in inspector_header(chat_pane, specs[1])


@pytest.mark.parametrize(("kind", "mode"), [("tgi", "tgi"), ("openai", "openai")])
async def test_the_judge_asks_for_a_grammar_only_where_the_kind_has_one(tgi_server_factory, kind, mode):
    server = tgi_server_factory(behavior=Behavior(text='{"rationale": "Same.", "winner": "tie"}'), mode=mode)
    judge = Judge(make_backend(BackendSpec("judge", "Judge", server.url, kind=kind), 10.0),
                  choose_judge_prompt("pairwise", None, ASSETS_DIR / "judge"), 1)
    try:
        await judge.ask(JudgeCase((Message("user", "Hi"),), None, ("Hello",), ("Hey",)))
    finally:
        await judge.backend.aclose()
    body = server.requests[-1]["body"]
    if kind == "tgi":
        assert body["parameters"]["grammar"]["type"] == "json"
    else:
        assert "messages" in body and not {"grammar", "response_format", "guided_json"} & set(body)


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_each_kind_counts_tokens_exactly_when_it_declares_a_tokenizer(tgi_server_factory, kind):
    server = tgi_server_factory()
    backend = make_backend(BackendSpec("a", "A", server.url, kind=kind), 10.0)
    request = GenerationRequest("<|im_start|>user\nHi<|im_end|>\n", (Message("user", "Hi"),), SamplingParams())
    try:
        counted = await backend.count_tokens(request)
    finally:
        await backend.aclose()
    assert (counted is not None) is backend.capabilities.tokenize


class TGIChatBackend(OpenAIBackend):
    """A test kind: TGI's own chat route, which keeps TGI's stop limit."""

    capabilities = replace(OpenAIBackend.capabilities, max_stop_sequences=4)


async def test_a_new_kind_is_one_table_entry(tgi_server_factory):
    table = MappingProxyType({**BACKENDS, "tgi-chat": TGIChatBackend})
    server = tgi_server_factory(behavior=Behavior(text="Hello from the new kind."))
    spec = BackendSpec("new", "New kind", server.url, kind="tgi-chat")
    backends = build_backends(Settings(backends=(spec,)), table)
    try:
        events = [ev async for ev in backends["new"].stream(
            GenerationRequest("", (Message("user", "Hi"),), SamplingParams(max_new_tokens=20)))]
    finally:
        await backends["new"].aclose()
    assert isinstance(backends["new"], TGIChatBackend) and isinstance(events[-1], EndEvent)
    assert "".join(getattr(ev, "text", "") for ev in events) == "Hello from the new kind."
    assert server.requests[-1]["path"] == "/v1/chat/completions"
    assert capabilities_of(spec, table).max_stop_sequences == 4
    assert "tgi-chat" not in BACKENDS, "the app's own table is read-only and unchanged"
    with pytest.raises(TypeError):
        BACKENDS["tgi-chat"] = TGIChatBackend  # type: ignore[index]


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_closing_a_stream_of_any_kind_closes_its_connection(tgi_server_factory, kind):
    server = tgi_server_factory(behavior=Behavior(tokens=500, rate=50))
    backend = make_backend(BackendSpec("a", "A", server.url, kind=kind), 10.0)
    request = GenerationRequest("<|im_start|>user\nHi<|im_end|>\n", (Message("user", "Hi"),), SamplingParams())
    events = backend.stream(request)
    try:
        assert [await anext(events), await anext(events)]
        await events.aclose()  # what Stop does
        closed = await asyncio.to_thread(server.wait_for_disconnects, 1, 10.0)
        assert closed, "the server kept generating after the close"
    finally:
        await backend.aclose()
    assert server.completed == 0
