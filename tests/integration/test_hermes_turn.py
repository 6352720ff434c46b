"""Hermes modes through the turn logic against real TGI-protocol servers: the tool loop, JSON
mode, grammar requests and the context-window check."""

from __future__ import annotations

import json

from playground.backends.registry import make_backend
from playground.compare import run as turn
from playground.compare.served import ServedModels
from playground.compare.state import PaneState
from playground.hermes.builtin_tools import builtin_tool_schemas
from playground.hermes.jsonmode import grammar_for
from playground.hermes.tool_loop import fill_tool_result
from playground.hermes.tools import render_tools_system_prompt
from playground.types import BackendSpec, Message, SamplingParams
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

TOOLS = tuple(builtin_tool_schemas())
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
CALC = '<tool_call>\n{"arguments": {"expression": "6*7"}, "name": "calculator"}\n</tool_call>'
CONVERT = ('<tool_call>\n{"arguments": {"value": 42, "from_unit": "km", "to_unit": "m"}, "name": "convert_units"}\n'
           '</tool_call>')
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}


def spec_for(url: str, backend_id: str = "a", **kw: object) -> BackendSpec:
    return BackendSpec(id=backend_id, label=f"Backend {backend_id}", base_url=url, **kw)  # type: ignore[arg-type]


def prompts_sent(server) -> list[str]:
    """Every raw prompt the server was asked to generate from (the hub client posts to the root URL)."""
    return [r["body"]["inputs"] for r in server.requests if r["path"] in ("/", "/generate_stream")]


def two_step_script(prompt: str) -> str:
    """Call the calculator, then convert its result, then answer (by tool rounds seen so far)."""
    rounds = prompt.count("<tool_response>")
    return [CALC, CONVERT, "6 times 7 is 42, and 42 km is 42000 m."][min(rounds, 2)]


async def run_jobs(specs: list[BackendSpec], make_job, panes: list[PaneState] | None = None,
                   windows: bool = False) -> list[PaneState]:
    backends = [make_backend(s, 10.0) for s in specs]
    panes = panes or [PaneState(s.id, s.label) for s in specs]
    jobs = [make_job(pane, backend) for pane, backend in zip(panes, backends, strict=True)]
    try:
        async for _ in turn.run_turn(jobs, panes, ServedModels({b.spec.id: b for b in backends}) if windows else None):
            pass
    finally:
        for backend in backends:
            await backend.aclose()
    return panes


def tools_job(text: str = "What is 6*7 in metres if it were km?", tools=TOOLS, max_depth: int = 5):
    def make(pane: PaneState, backend) -> turn.PaneJob:
        messages = turn.conversation(pane, render_tools_system_prompt(tools), text)
        turn.begin(pane, text, messages[0].content, messages)
        return turn.PaneJob(backend, tuple(messages), SamplingParams(), tools=turn.ToolSetup(tuple(tools), max_depth))
    return make


async def test_two_step_tool_loop_runs_builtins_and_feeds_results_back(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(text=two_step_script))
    (pane,) = await run_jobs([spec_for(server.url)], tools_job())
    assert pane.status == "done", pane.error
    assert pane.reply == CALC
    assert [s.name for s in pane.tool_steps] == ["calculator", "convert_units"]
    assert [s.depth for s in pane.tool_steps] == [1, 2] and all(s.valid and s.builtin for s in pane.tool_steps)
    assert json.loads(pane.tool_steps[0].result) == {"name": "calculator", "content": 42}
    assert json.loads(pane.tool_steps[1].result)["content"]["result"] == 42000
    assert [m.role for m in pane.followup] == ["tool", "assistant", "tool", "assistant"]
    assert pane.followup[-1].content == "6 times 7 is 42, and 42 km is 42000 m."
    prompts = prompts_sent(server)
    assert len(prompts) == 3
    assert prompts[1].endswith(
        f"<|im_start|>assistant\n{CALC}<|im_end|>\n<|im_start|>tool\n<tool_response>\n"
        '{"name": "calculator", "content": 42}\n</tool_response>\n<|im_end|>\n<|im_start|>assistant\n')
    assert prompts[2].startswith(prompts[1]) and prompts[2].count("<tool_response>") == 2
    assert pane.metrics.generations == 3 and pane.history[-1] == pane.followup[-1]


async def test_3b_backend_gets_tool_results_in_the_user_role(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(text=two_step_script))
    (pane,) = await run_jobs([spec_for(server.url, tool_response_role="user")], tools_job(max_depth=1))
    second = prompts_sent(server)[1]
    assert f"{CALC}<|im_end|>\n<|im_start|>user\n<tool_response>\n" in second
    assert "<|im_start|>tool" not in second
    assert pane.note == "tool depth limit (1) reached: the last reply's calls were not run"


async def test_invalid_call_is_answered_with_an_error_the_model_can_read(tgi_server_factory):
    bad = '<tool_call>\n{"arguments": {"expr": "1+1"}, "name": "calculator"}\n</tool_call>'
    server = tgi_server_factory(behavior=Behavior(text=lambda p: bad if "<tool_response>" not in p else "Sorry."))
    (pane,) = await run_jobs([spec_for(server.url)], tools_job())
    step = pane.tool_steps[0]
    assert not step.valid and "expression" in step.error
    second = prompts_sent(server)[1]
    assert '"content": {"error": "invalid tool call: ' in second
    assert pane.status == "done" and pane.followup[-1].content == "Sorry."


async def test_a_tool_that_is_not_built_in_waits_for_the_typed_result(tgi_server_factory):
    call = '<tool_call>\n{"arguments": {"city": "Paris"}, "name": "get_weather"}\n</tool_call>'
    server = tgi_server_factory(behavior=Behavior(text=lambda p: call if "<tool_response>" not in p else "It is 21 C."))
    (pane,) = await run_jobs([spec_for(server.url)], tools_job("Weather in Paris?", tools=(WEATHER,)))
    assert pane.status == "tool_input" and turn.awaiting_tool(pane).arguments == {"city": "Paris"}
    pane.tool_steps = fill_tool_result(pane.tool_steps, '{"temp_c": 21}')
    messages = turn.resume(pane)
    await run_jobs([spec_for(server.url)], lambda p, b: turn.PaneJob(
        b, tuple(messages), SamplingParams(), tools=turn.ToolSetup((WEATHER,)), depth=1, elapsed_s=1.0), [pane])
    assert pane.status == "done" and pane.followup[-1].content == "It is 21 C."
    second = prompts_sent(server)[1]
    assert '<tool_response>\n{"name": "get_weather", "content": {"temp_c": 21}}\n</tool_response>' in second
    assert pane.metrics.total_s >= 1.0, "a continued turn keeps counting from where it paused"


def json_job(text: str, grammar: bool = False):
    def make(pane: PaneState, backend) -> turn.PaneJob:
        messages = [Message("user", text)]
        turn.begin(pane, text, None, messages, grammar=grammar)
        return turn.PaneJob(backend, tuple(messages), SamplingParams(), json_schema=SCHEMA,
                            grammar=grammar_for(SCHEMA) if grammar else None)
    return make


async def test_json_mode_checks_every_reply(tgi_server_factory):
    valid = tgi_server_factory(behavior=Behavior(text='```json\n{"name": "Ed", "age": 15}\n```'))
    invalid = tgi_server_factory(behavior=Behavior(text='{"name": "Al", "age": "fourteen"}'))
    ok, bad = await run_jobs([spec_for(valid.url, "v"), spec_for(invalid.url, "i")], json_job("Who?"))
    assert ok.json_check.valid and ok.json_check.value == {"name": "Ed", "age": 15}
    assert not bad.json_check.valid and bad.json_check.path == "$.age"
    assert "is not of type 'integer'" in bad.json_check.reason
    assert bad.status == "done", "an invalid reply is a finding, not a failure"


async def test_grammar_reaches_tgi_as_the_json_grammar_parameter(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(text='{"name": "Ed", "age": 15}'))
    (pane,) = await run_jobs([spec_for(server.url)], json_job("Who?", grammar=True))
    assert server.requests[-1]["body"]["parameters"]["grammar"] == {"type": "json", "value": SCHEMA}
    assert pane.grammar and pane.json_check.valid


async def test_a_prompt_over_the_window_is_refused_before_sending(tgi_server_factory):
    small = tgi_server_factory(behavior=Behavior(text="never"), max_total_tokens=40)
    big = tgi_server_factory(behavior=Behavior(text="fine"), max_total_tokens=8192)
    text = " ".join(["word"] * 60)

    def make(pane: PaneState, backend) -> turn.PaneJob:
        turn.begin(pane, text)
        return turn.PaneJob(backend, (Message("user", text),), SamplingParams(max_new_tokens=10))

    refused, ok = await run_jobs([spec_for(small.url, "s"), spec_for(big.url, "b")], make, windows=True)
    assert refused.status == "error" and refused.error.startswith("Prompt too long")
    over = refused.budget.over
    assert refused.budget.source == "tokenize" and over > 0 and f"{over:,} over" in refused.error
    assert not prompts_sent(small), "nothing may be sent"
    assert ok.status == "done" and ok.budget.source == "bound" and ok.budget.window == 8192


async def test_near_the_window_the_server_count_decides(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(text="fits"), max_total_tokens=200)
    text = "supercalifragilistic " * 20  # 420 bytes, but 20 whitespace tokens on the test server

    def make(pane: PaneState, backend) -> turn.PaneJob:
        turn.begin(pane, text)
        return turn.PaneJob(backend, (Message("user", text),), SamplingParams(max_new_tokens=50))

    (pane,) = await run_jobs([spec_for(server.url)], make, windows=True)
    assert pane.status == "done" and pane.budget.source == "tokenize" and pane.budget.fits
