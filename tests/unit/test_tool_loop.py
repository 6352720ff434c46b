"""One round of the tool loop, the mode's system prompt and the context budget (pure)."""

import json

import pytest

from playground.compare.budget import TokenBudget, byte_bound
from playground.hermes.builtin_tools import builtin_tool_schemas
from playground.hermes.chatml import GENERATION_PROMPT, merge_tool_turns, render_chatml, render_turn
from playground.hermes.jsonmode import render_json_system_prompt
from playground.hermes.presets import load_presets
from playground.hermes.system_prompt import SystemPromptError, compose_system_prompt
from playground.hermes.tool_loop import answer_tool_calls, fill_tool_result, tool_messages, tool_report
from playground.hermes.tools import render_tools_system_prompt
from playground.settings import ASSETS_DIR
from playground.types import Message

TOOLS = builtin_tool_schemas()
LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}


def block(name: str, arguments: dict) -> str:
    return f'<tool_call>\n{json.dumps({"arguments": arguments, "name": name})}\n</tool_call>\n'


def test_builtins_run_in_order_and_time_is_measured():
    reply = "<scratch_pad>two calls</scratch_pad>\n" + block("calculator", {"expression": "2**10"}) + \
        block("convert_units", {"value": 1, "from_unit": "mi", "to_unit": "km"})
    ticks = iter([0.0, 0.5, 1.0, 1.25])
    steps = answer_tool_calls(reply, TOOLS, 1, clock=lambda: next(ticks))
    assert [s.name for s in steps] == ["calculator", "convert_units"]
    assert json.loads(steps[0].result) == {"name": "calculator", "content": 1024}
    assert [s.duration_s for s in steps] == [0.5, 0.25] and all(s.builtin and s.valid for s in steps)


def test_invalid_and_unknown_calls_get_error_results_and_count_as_invalid():
    reply = block("calculator", {"expression": 3}) + block("teleport", {}) + "<tool_call>{'name': broken"
    steps = answer_tool_calls(reply, TOOLS, 2)
    assert [s.valid for s in steps] == [False, False, False]
    assert all(json.loads(s.result)["content"]["error"].startswith("invalid tool call") for s in steps)
    assert "unknown tool 'teleport'" in steps[1].error
    report = tool_report(steps)
    assert (report.calls, report.valid, report.invalid, report.depth) == (3, 0, 3, 2)


def test_a_builtin_that_fails_answers_with_its_error():
    (step,) = answer_tool_calls(block("calculator", {"expression": "1/0"}), TOOLS, 1)
    assert step.valid and step.error and json.loads(step.result)["content"] == {"error": step.error}


def test_user_defined_tools_wait_and_are_filled_one_by_one():
    steps = answer_tool_calls(block("lookup", {"q": "a"}) + block("lookup", {"q": "b"}), [LOOKUP], 1)
    assert [s.pending for s in steps] == [True, True]
    with pytest.raises(ValueError):
        tool_messages(steps)
    steps = fill_tool_result(steps, "plain text answer")
    steps = fill_tool_result(steps, '{"hits": 2}')
    assert [json.loads(m.content)["content"] for m in tool_messages(steps)] == ["plain text answer", {"hits": 2}]
    with pytest.raises(ValueError):
        fill_tool_result(steps, "one too many")


def test_a_reply_without_calls_ends_the_loop():
    assert answer_tool_calls("Just an answer: 42 < 43 & done.", TOOLS, 1) == []


def test_chat_backends_get_the_same_tool_turn_bytes_as_tgi():
    messages = [Message("user", "q"), Message("assistant", "<tool_call>…</tool_call>"),
                Message("tool", '{"name": "f", "content": 1}'), Message("tool", '{"name": "g", "content": 2}')]
    for role in ("tool", "user"):
        merged = merge_tool_turns(messages, tool_response_role=role)
        assert [m.role for m in merged] == ["user", "assistant", role]
        plain_template = "".join(render_turn(m.role, m.content) for m in merged) + GENERATION_PROMPT
        assert plain_template == render_chatml(messages, tool_response_role=role)


def test_modes_need_their_placeholder_and_fill_it_exactly():
    presets = {p.id: p for p in load_presets(ASSETS_DIR / "presets")}
    card = compose_system_prompt(presets["function_calling"].system, "tools", tools=TOOLS)
    assert card == render_tools_system_prompt(TOOLS), "the preset is the card's exact prompt"
    schema = '{"type": "object"}'
    assert compose_system_prompt(presets["json_mode"].system, "json", schema_text=schema) == \
        render_json_system_prompt(schema)
    assert compose_system_prompt("", "chat") == "" and compose_system_prompt(None, "chat") is None
    with pytest.raises(SystemPromptError, match=r"needs \{TOOLS\}.*'Function calling \(template\)' preset"):
        compose_system_prompt("You are Hermes.", "tools")
    with pytest.raises(SystemPromptError, match=r"\{SCHEMA\}"):
        compose_system_prompt(None, "json")


def test_budget_bound_is_never_below_the_bytes_and_reports_overflow():
    assert byte_bound("<|im_start|>user\nüü<|im_end|>\n") == len("<|im_start|>user\nüü<|im_end|>\n".encode()) + 1
    over = TokenBudget(8000, "tokenize", 750, 8192)
    assert not over.fits and over.over == 558 and "558 over" in over.refusal("Hermes 3 8B")
    assert TokenBudget(10, "estimate", 5, None).fits
