"""Hermes function calling: system prompt, <tool_call> parsing (every PROTOCOLS §2 case), checks."""

import json

from playground.hermes.tools import (
    TOOLS_SYSTEM_PROMPT_TEMPLATE,
    ToolCall,
    describe_tool,
    format_tool_error,
    format_tool_response,
    parse_tool_calls,
    parse_tool_calls_streaming,
    render_tools_system_prompt,
    validate_tool_arguments,
)

STOCK_TOOL = {
    "type": "function",
    "function": {
        "name": "get_stock_fundamentals",
        "description": "get_stock_fundamentals(symbol: str) -> dict - Get fundamental data.",
        "parameters": {"type": "object", "properties": {"symbol": {"type": "string"}}, "required": ["symbol"]},
    },
}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get weather.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "days": {"type": "integer", "description": " Forecast days "},
        },
        "required": ["city"],
    },
    "return": {"type": "object"},
}


# --- system prompt -------------------------------------------------------------------------

def test_tools_prompt_is_exact_card_form():
    prompt = render_tools_system_prompt([STOCK_TOOL])
    line = (
        '{"type": "function", "function": {"name": "get_stock_fundamentals", "description": '
        '"get_stock_fundamentals(symbol: str) -> dict - Get fundamental data.", "parameters": '
        '{"type": "object", "properties": {"symbol": {"type": "string"}}, "required": ["symbol"]}}}'
    )
    assert prompt == (
        "You are a function calling AI model. You are provided with function signatures within "
        "<tools></tools> XML tags. You may call one or more functions to assist with the user query. "
        "Don't make assumptions about what values to plug into functions. Here are the available "
        "tools: <tools> " + line + " </tools> Use the following pydantic model json schema for each "
        'tool call you will make: {"properties": {"arguments": {"title": "Arguments", "type": '
        '"object"}, "name": {"title": "Name", "type": "string"}}, "required": ["arguments", "name"], '
        '"title": "FunctionCall", "type": "object"} For each function call return a json object with '
        "function name and arguments within <tool_call></tool_call> XML tags as follows:\n"
        "<tool_call>\n"
        '{"arguments": <args-dict>, "name": <function-name>}\n'
        "</tool_call>"
    )
    assert prompt.split("\n")[0].endswith("as follows:")  # one line until the example


def test_tools_prompt_puts_one_tool_per_line_and_each_line_is_json():
    prompt = render_tools_system_prompt([STOCK_TOOL, WEATHER_TOOL])
    inside = prompt.split("<tools> ", 1)[1].split(" </tools>", 1)[0]
    lines = inside.split("\n")
    assert len(lines) == 2
    parsed = [json.loads(x) for x in lines]
    assert [p["function"]["name"] for p in parsed] == ["get_stock_fundamentals", "get_weather"]
    assert all(p["type"] == "function" for p in parsed)
    assert "{TOOLS}" not in prompt and "{TOOLS}" in TOOLS_SYSTEM_PROMPT_TEMPLATE


def test_description_is_signature_plus_docstring():
    assert describe_tool(WEATHER_TOOL) == (
        "get_weather(city: str, days: int) -> dict - Get weather.\n\n"
        "    Args:\n        city(str): City name\n        days(int): Forecast days"
    )
    # a description already in signature form (the card's example) is kept as is
    assert describe_tool(STOCK_TOOL["function"]) == STOCK_TOOL["function"]["description"]


def test_tool_without_properties_renders_empty_parameters():
    prompt = render_tools_system_prompt([{"name": "now", "description": "Time."}])
    assert '"description": "now() - Time.\\n\\n", "parameters": {}}}' in prompt


# --- parsing -------------------------------------------------------------------------------

def test_single_call_from_model_card():
    reply = '<tool_call>\n{"arguments": {"symbol": "TSLA"}, "name": "get_stock_fundamentals"}\n</tool_call>'
    result = parse_tool_calls(reply)
    assert len(result.calls) == 1
    call = result.calls[0]
    assert (call.name, call.arguments, call.error, call.closed) == (
        "get_stock_fundamentals", {"symbol": "TSLA"}, None, True)
    assert result.text == ""


def test_several_blocks():
    reply = (
        '<tool_call>\n{"arguments": {"symbol": "TSLA"}, "name": "a"}\n</tool_call>\n'
        '<tool_call>\n{"name": "b", "arguments": {"x": 1}}\n</tool_call>'
    )
    calls = parse_tool_calls(reply).calls
    assert [(c.name, c.arguments) for c in calls] == [("a", {"symbol": "TSLA"}), ("b", {"x": 1})]


def test_last_block_never_closed_is_still_read():
    reply = ('<tool_call>\n{"arguments": {"x": 1}, "name": "a"}\n</tool_call>\n'
             '<tool_call>\n{"arguments": {"y": 2}, "name": "b"}\n<|im_end|>')
    calls = parse_tool_calls(reply).calls
    assert [c.name for c in calls] == ["a", "b"]
    assert calls[1].closed is False and calls[1].error is None and calls[1].arguments == {"y": 2}


def test_truncated_last_block_is_an_error_not_a_crash():
    calls = parse_tool_calls('<tool_call>\n{"arguments": {"y": ').calls
    assert len(calls) == 1 and calls[0].error and not calls[0].closed


def test_python_literal_single_quotes_fall_back_to_literal_eval():
    reply = "<tool_call>\n{'arguments': {'symbol': 'TSLA', 'strict': True, 'x': None}, 'name': 'f'}\n</tool_call>"
    call = parse_tool_calls(reply).calls[0]
    assert call.error is None
    assert call.arguments == {"symbol": "TSLA", "strict": True, "x": None}


def test_code_in_block_is_never_executed():
    reply = "<tool_call>\n__import__('os').system('echo pwned')\n</tool_call>"
    call = parse_tool_calls(reply).calls[0]
    assert call.error and call.name == "" and call.arguments == {}


def test_text_and_scratch_pad_before_calls_are_kept_as_text():
    reply = (
        "<scratch_pad>\nI need the fundamentals.\n</scratch_pad>\nLet me look that up.\n"
        '<tool_call>\n{"arguments": {"symbol": "TSLA"}, "name": "get_stock_fundamentals"}\n</tool_call>'
    )
    result = parse_tool_calls(reply)
    assert result.calls[0].arguments == {"symbol": "TSLA"}
    assert result.text == "<scratch_pad>\nI need the fundamentals.\n</scratch_pad>\nLet me look that up.\n"


def test_angle_brackets_and_ampersands_in_arguments():
    args = {"query": "a < b && c > d </tool_call> <b>&amp;</b>"}
    reply = "<tool_call>\n" + json.dumps({"arguments": args, "name": "search"}) + "\n</tool_call>after"
    result = parse_tool_calls(reply)
    assert result.calls[0].arguments == args
    assert result.text == "after"


def test_openai_shaped_call_and_string_arguments():
    reply = '<tool_call>{"function": {"name": "f", "arguments": "{\\"x\\": 2}"}}</tool_call>'
    call = parse_tool_calls(reply).calls[0]
    assert (call.name, call.arguments, call.error) == ("f", {"x": 2}, None)


def test_missing_name_and_non_object_arguments_are_errors():
    assert parse_tool_calls('<tool_call>{"arguments": {}}</tool_call>').calls[0].error
    assert parse_tool_calls('<tool_call>{"name": "f", "arguments": [1]}</tool_call>').calls[0].error
    assert parse_tool_calls("<tool_call>[1, 2]</tool_call>").calls[0].error


def test_reopened_block_without_close_splits_calls():
    reply = '<tool_call>{"name": "a", "arguments": {}}\n<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    calls = parse_tool_calls(reply).calls
    assert [c.name for c in calls] == ["a", "b"] and calls[0].closed is False


def test_no_calls_and_stray_close_tag():
    result = parse_tool_calls("Just text </tool_call> here")
    assert result.calls == () and result.text == "Just text </tool_call> here"


# --- streaming -----------------------------------------------------------------------------

def test_streaming_reports_completed_calls_and_open_one():
    text = '<tool_call>\n{"arguments": {}, "name": "a"}\n</tool_call>\n<tool_call>\n{"name": "get_w'
    result = parse_tool_calls_streaming(text)
    assert [c.name for c in result.calls] == ["a"]
    assert result.in_progress is not None and result.in_progress.name == "get_w"
    assert result.text == "\n"


def test_streaming_holds_back_partial_open_tag():
    result = parse_tool_calls_streaming("Let me check.\n<tool_c")
    assert result.text == "Let me check.\n" and result.in_progress is None and result.calls == ()
    assert parse_tool_calls_streaming("a < b").text == "a < b"


def test_streaming_every_prefix_never_crashes_and_converges():
    reply = 'ok\n<tool_call>\n{"arguments": {"symbol": "TSLA"}, "name": "get_stock_fundamentals"}\n</tool_call>'
    for n in range(len(reply) + 1):
        parse_tool_calls_streaming(reply[:n])
    final = parse_tool_calls_streaming(reply)
    assert final.in_progress is None and final.calls[0].name == "get_stock_fundamentals"


# --- argument validation and responses -----------------------------------------------------

def test_validate_arguments_against_schema():
    tools = [WEATHER_TOOL]
    assert validate_tool_arguments(ToolCall("get_weather", {"city": "Paris"}, ""), tools) == []
    errors = validate_tool_arguments(ToolCall("get_weather", {"days": "3"}, ""), tools)
    assert errors == ["arguments: 'city' is a required property", "arguments.days: '3' is not of type 'integer'"]


def test_unknown_tool_and_unparsed_call_are_errors():
    assert "unknown tool 'nope'" in validate_tool_arguments(ToolCall("nope", {}, ""), [STOCK_TOOL])[0]
    assert validate_tool_arguments(ToolCall("", {}, "x", error="not JSON"), [STOCK_TOOL]) == ["not JSON"]


def test_tool_response_and_error_formats():
    assert format_tool_response("f", {"a": "ü"}) == '{"name": "f", "content": {"a": "ü"}}'
    err = json.loads(format_tool_error(ToolCall("f", {}, ""), ["bad x", "bad y"]))
    assert err == {"name": "f", "content": {"error": "invalid tool call: bad x; bad y"}}
