"""The tool-definitions editor: located errors for malformed JSON and invalid schemas."""

import json
from pathlib import Path

import pytest

from playground.hermes.presets import load_tool_sets
from playground.hermes.tools import validate_tool_schemas

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def test_malformed_json_is_located_by_line_and_column():
    tools, errors = validate_tool_schemas('[\n  {"name": "f",\n   "parameters": {]\n')
    assert tools is None
    assert errors == ["line 3, column 19: Expecting property name enclosed in double quotes"]


def test_not_a_list():
    tools, errors = validate_tool_schemas('{"name": "f"}')
    assert tools is None and errors == ["tools: expected a JSON list of function schemas, got dict"]


def test_invalid_parameters_schema_is_located():
    text = json.dumps([
        {"type": "function", "function": {"name": "ok", "description": "", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "bad", "description": "",
                                          "parameters": {"type": "object",
                                                         "properties": {"city": {"type": "strin"}}}}},
    ])
    tools, errors = validate_tool_schemas(text)
    assert tools is None
    assert len(errors) == 1
    assert errors[0].startswith("tools[1].function.parameters.properties.city.type: ")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"type": "function", "function": {"name": "has space"}}, "tools[0].function.name:"),
        ({"name": "f", "description": 3}, "tools[0].description: must be a string"),
        ({"name": "f", "parameters": {"type": "array"}}, "tools[0].parameters.type: must be 'object'"),
        ({"name": "f", "parameters": []}, "tools[0].parameters: must be a JSON Schema object"),
        ({"type": "tool", "function": {"name": "f"}}, "tools[0].type: must be 'function'"),
        ({"description": "no name"}, "tools[0]: expected"),
        ("just a string", "tools[0]: expected"),
    ],
)
def test_each_item_error_is_located(item, expected):
    tools, errors = validate_tool_schemas(json.dumps([item]))
    assert tools is None
    assert any(e.startswith(expected) for e in errors), errors


def test_duplicate_names_are_rejected():
    _, errors = validate_tool_schemas('[{"name": "f"}, {"name": "f"}]')
    assert errors == ["tools[1]: duplicate tool name 'f'"]


def test_bare_schemas_are_normalised_to_openai_form():
    tools, errors = validate_tool_schemas('[{"name": "f", "description": "d"}]')
    assert errors == []
    assert tools == [{"type": "function", "function": {
        "name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}}]


def test_shipped_tool_sets_are_valid():
    sets = load_tool_sets(ASSETS / "tools")
    assert {"stock_fundamentals", "builtins", "weather"} <= set(sets)
    for name, tools in sets.items():
        normalised, errors = validate_tool_schemas(json.dumps(tools))
        assert errors == [], name
        assert normalised
    assert sets["stock_fundamentals"][0]["function"]["name"] == "get_stock_fundamentals"
    assert sets["weather"][0]["function"]["name"] == "get_current_weather"
