"""What a pane shows: reasoning sections, tool steps forming live, JSON badges, summaries."""

from hypothesis import given, settings
from hypothesis import strategies as st

from playground.compare.state import Exchange, PaneState
from playground.hermes.jsonmode import check_json_reply
from playground.types import Message, PaneMetrics, ToolStep
from playground.ui.panes import chat_messages, exchange_messages, pane_summary

FRAGMENTS = st.sampled_from(["<tool_call>", "</tool_call>", "<tool_c", "{", "}", '"name": "f"', "<PLAN>",
                             "</PLAN>", "<scratch_pad>", "```", "`", "<", "&", "x", "\n", "<REAS"])


def streaming_pane(reply: str, **kw) -> PaneState:
    pane = PaneState("a", "A", user="Q", reply=reply, status="streaming", **kw)
    pane.metrics = PaneMetrics(ttft_s=0.1, tokens=3)
    return pane


def test_a_call_forming_mid_stream_shows_as_a_pending_step_with_its_name():
    shown = chat_messages(streaming_pane('Let me check.\n<tool_call>\n{"name": "get_weather", "argu'))
    assert shown[1]["content"].strip() == "Let me check."
    assert shown[2]["metadata"]["title"] == "🛠 get_weather" and shown[2]["metadata"]["status"] == "pending"
    assert shown[2]["metadata"]["log"] == "forming…"


def test_answered_steps_replace_the_raw_calls_and_later_replies_follow():
    step = ToolStep(1, "calculator", {"expression": "6*7"}, "", True, result='{"name": "calculator", "content": 42}',
                    duration_s=0.002, builtin=True)
    pane = streaming_pane('<tool_call>{"name": "calculator", "arguments": {"expression": "6*7"}}</tool_call>',
                          tool_steps=[step], followup=[Message("tool", step.result), Message("assistant", "It is 42")])
    shown = chat_messages(pane)
    assert [m["role"] for m in shown] == ["user", "assistant", "assistant"]
    assert shown[1]["metadata"]["title"] == "✅ calculator" and shown[1]["metadata"]["duration"] == 0.002
    assert '"content": 42' in shown[1]["content"] and shown[2]["content"] == "It is 42"


def test_reasoning_is_collapsible_with_the_raw_text_one_click_away():
    shown = exchange_messages(Exchange(user="Q", reply="<PLAN>step one</PLAN>Done.", status="done"))
    content = shown[1]["content"]
    assert "<details><summary>Plan</summary>" in content and "Done." in content
    assert "<details><summary>Raw text</summary>" in content and "<PLAN>step one</PLAN>Done." in content


def test_summary_reports_tools_json_grammar_and_errors():
    pane = PaneState("a", "A", status="done", grammar=True,
                     tool_steps=[ToolStep(1, "f", {}, "", True), ToolStep(2, "g", {}, "", False, error="bad")])
    pane.metrics = PaneMetrics(ttft_s=0.2, total_s=1.2, tokens=21, finish_reason="eos_token", generations=3)
    pane.json_check = check_json_reply('{"age": "x"}', {"properties": {"age": {"type": "integer"}}})
    lines = pane_summary(pane).split("  \n")
    assert lines[0] == "TTFT 0.20 s · 20.0 tok/s · 21 tokens · 3 generations · finish: eos_token"
    assert lines[1] == "🛠 2 tool calls (1 valid, 1 invalid) · depth 2"
    assert lines[2] == "JSON ❌ invalid at `$.age`: 'x' is not of type 'integer' (grammar-constrained)"
    failed = exchange_messages(Exchange(user="Q", reply="partial", status="error", error="Stream cut off: dropped"))
    assert failed[-1]["content"] == "⚠️ **Stream cut off: dropped**"


@settings(max_examples=200, deadline=None)
@given(st.lists(FRAGMENTS, max_size=30).map("".join), st.sampled_from(["waiting", "streaming", "tool_input"]))
def test_any_reply_renders_without_crashing(reply, status):
    pane = streaming_pane(reply)
    pane.status = status
    shown = chat_messages(pane)
    assert shown and all(isinstance(m["content"], str) for m in shown)
    assert pane_summary(pane) is not None
