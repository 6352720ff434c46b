"""Property-based tests: no input crashes the parsers, checker or splitter; invariants hold."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from playground.hermes.builtin_tools import ToolArgumentError, calculator
from playground.hermes.chatml import FORBIDDEN_TOKENS, ForgedTurnError, render_chatml
from playground.hermes.jsonmode import check_json_reply, extract_json
from playground.hermes.reasoning import render_reasoning_markdown, split_reasoning
from playground.hermes.tools import (
    ToolCall,
    format_tool_response,
    parse_tool_calls,
    parse_tool_calls_streaming,
)
from playground.types import Message

SETTINGS = settings(max_examples=150, deadline=None)

# text built from the fragments that matter, so the interesting cases are actually reached
FRAGMENTS = st.sampled_from([
    "<tool_call>", "</tool_call>", "<tool_c", "{", "}", "[", "]", '"', "'", ":", ",", "\n", " ",
    '"name"', '"arguments"', "'name'", "null", "1", "<", ">", "&", "\\", "<|im_end|>",
    "<PLAN>", "</PLAN>", "<THOUGHT_1>", "</THOUGHT_1>", "<scratch_pad>", "</scratch_pad>",
    "<REAS", "</details>", "```", "```json\n", "<SCRATCHPAD>", "</SCRATCHPAD>", "x",
])
TEXT = st.one_of(st.text(max_size=200), st.lists(FRAGMENTS, max_size=40).map("".join))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(TEXT)
def test_parse_tool_calls_never_crashes_and_calls_are_well_formed(text):
    result = parse_tool_calls(text)
    assert isinstance(result.text, str)
    for call in result.calls:
        assert isinstance(call.arguments, dict)
        if call.error is None:
            assert call.name
    # removing the blocks never invents text
    assert len(result.text) <= len(text)


@SETTINGS
@given(TEXT)
def test_streaming_parser_never_crashes(text):
    result = parse_tool_calls_streaming(text)
    assert len(result.text) <= len(text)
    final = parse_tool_calls(text)
    assert len(result.calls) + (result.in_progress is not None) == len(final.calls)


@SETTINGS
@given(st.text(min_size=1, max_size=20), st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4),
       st.text(max_size=40), st.booleans())
def test_well_formed_calls_round_trip(name, arguments, before, close):
    body = json.dumps({"arguments": arguments, "name": name})
    text = before.replace("<tool_call>", "") + "<tool_call>\n" + body + ("\n</tool_call>" if close else "\n")
    calls = parse_tool_calls(text).calls
    assert calls[-1] == ToolCall(name, arguments, calls[-1].raw, None, close)


@SETTINGS
@given(TEXT, st.sampled_from([{}, {"type": "object", "properties": {"a": {"type": "integer"}},
                                    "required": ["a"]}, {"type": "objekt"}]))
def test_json_checker_never_crashes(text, schema):
    value, error = extract_json(text)
    assert error is None or value is None
    check = check_json_reply(text, schema)
    assert check.valid == (check.reason is None)


@SETTINGS
@given(JSON_VALUES, st.sampled_from(["{}", "Here:\n```json\n{}\n```\nbye", "x {} y"]))
def test_json_values_are_found_where_placed(value, wrapper):
    if not isinstance(value, (dict, list)) and wrapper.startswith("x"):
        value = {"v": value}  # only objects/arrays are searched for inside prose
    assert extract_json(wrapper.replace("{}", json.dumps(value))) == (value, None)


@SETTINGS
@given(TEXT)
def test_split_reasoning_is_faithful_and_render_never_crashes(text):
    sections = split_reasoning(text)
    assert "".join(s.raw for s in sections) == text
    assert all(s.closed for s in sections[:-1])
    for streaming in (False, True):
        render_reasoning_markdown(sections, streaming=streaming)
        for section in sections:
            if section.kind != "tag":
                continue
            html = render_reasoning_markdown([section], streaming=streaming)
            # the block's own two tags are its only HTML: no fence swallows </details>, no text adds tags
            tags = [t.content.strip() for t in MarkdownIt("commonmark").parse(html) if t.type.startswith("html")]
            assert len(tags) == 2 and tags[0].startswith("<details") and tags[1] == "</details>"


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant", "tool"]), TEXT), max_size=6))
def test_render_chatml_either_refuses_or_keeps_every_content(pairs):
    messages = [Message(r, c) for r, c in pairs]
    forged = any(tok in c for _, c in pairs for tok in FORBIDDEN_TOKENS)
    try:
        prompt = render_chatml(messages)
    except ForgedTurnError:
        assert forged
        return
    assert not forged
    assert prompt.endswith("<|im_start|>assistant\n")
    assert prompt.count("<|im_start|>") == prompt.count("<|im_end|>") + 1
    for _, content in pairs:
        assert content in prompt


@SETTINGS
@given(st.text(max_size=60))
def test_calculator_only_returns_numbers_or_raises_tool_errors(expression):
    try:
        result = calculator(expression)
    except ToolArgumentError:
        return
    assert isinstance(result, (int, float)) and not isinstance(result, bool)


@SETTINGS
@given(st.text(max_size=10), JSON_VALUES)
def test_tool_response_is_json_with_name_and_content(name, content):
    assert json.loads(format_tool_response(name, content)) == {"name": name, "content": content}
