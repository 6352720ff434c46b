"""JSON mode: exact system prompt, extraction, validation with failing path, grammar."""

import json
from pathlib import Path

from playground.hermes.jsonmode import (
    check_json_reply,
    extract_json,
    grammar_for,
    json_path,
    render_json_system_prompt,
    validate_json_schema_text,
)
from playground.hermes.presets import load_schema_presets

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                   "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "age"],
}


def test_system_prompt_is_exact_with_real_newlines():
    schema_text = json.dumps(SCHEMA)
    assert render_json_system_prompt(schema_text + "\n") == (
        "You are a helpful assistant that answers in JSON. Here's the json schema you must adhere to:\n"
        "<schema>\n" + schema_text + "\n</schema>"
    )


def test_valid_reply():
    check = check_json_reply('{"name": "Ed", "age": 15}', SCHEMA)
    assert check.valid and check.value == {"name": "Ed", "age": 15} and check.path is None


def test_invalid_reply_reports_path_and_reason():
    check = check_json_reply('{"name": "Ed", "age": "fifteen"}', SCHEMA)
    assert not check.valid and check.parsed
    assert check.path == "$.age"
    assert check.reason == "'fifteen' is not of type 'integer'"


def test_nested_path_and_missing_required():
    check = check_json_reply('{"name": "Ed", "age": 1, "tags": ["a", 2]}', SCHEMA)
    assert check.path == "$.tags[1]"
    missing = check_json_reply('{"name": "Ed"}', SCHEMA)
    assert missing.path == "$" and "'age' is a required property" in missing.reason


def test_fenced_block_is_extracted():
    reply = 'Sure! Here it is:\n```json\n{"name": "Al", "age": 14}\n```\nAnything else?'
    assert check_json_reply(reply, SCHEMA).valid
    assert extract_json("```\n[1, 2]\n```") == ([1, 2], None)


def test_first_balanced_object_in_prose():
    assert extract_json('The result: {"a": {"b": "}"}} and more {"c": 1}') == ({"a": {"b": "}"}}, None)


def test_trailing_im_end_is_ignored():
    assert extract_json('{"a": 1}<|im_end|>') == ({"a": 1}, None)


def test_unparseable_reply_is_reported_not_raised():
    value, error = extract_json("I cannot do that.")
    assert value is None and error == "no JSON value found in the reply"
    check = check_json_reply('{"name": "Ed", "age": ', SCHEMA)
    assert not check.valid and not check.parsed and "not valid JSON" in check.reason


def test_broken_fence_is_explained():
    value, error = extract_json('```json\n{"a": }\n```')
    assert value is None and error.startswith("fenced block is not valid JSON: line 1")


def test_invalid_schema_is_reported():
    check = check_json_reply('{"a": 1}', {"type": "objekt"})
    assert not check.valid and check.reason.startswith("schema is invalid")


def test_schema_editor_locates_errors():
    assert validate_json_schema_text('{"type": "object",}')[1] == [
        "line 1, column 19: Expecting property name enclosed in double quotes"]
    schema, errors = validate_json_schema_text('{"properties": {"age": {"minimum": "zero"}}}')
    assert schema is None and errors[0].startswith("schema.properties.age.minimum:")
    assert validate_json_schema_text("[]")[1] == ["schema: expected a JSON object, got list"]
    assert validate_json_schema_text(json.dumps(SCHEMA)) == (SCHEMA, [])


def test_grammar_parameter():
    assert grammar_for(SCHEMA) == {"type": "json", "value": SCHEMA}
    assert grammar_for(json.dumps(SCHEMA)) == {"type": "json", "value": SCHEMA}


def test_json_path_quotes_odd_keys():
    assert json_path(["a", 0, "b c"]) == "$.a[0]['b c']"


def test_shipped_schema_presets_are_valid_and_include_character():
    schemas = load_schema_presets(ASSETS / "schemas")
    for name, schema in schemas.items():
        assert validate_json_schema_text(json.dumps(schema))[1] == [], name
    character = schemas["character"]
    assert {"name", "species", "role", "personality_traits", "special_attacks"} <= set(character["properties"])
    reply = ('{"name": "Goku", "species": "Saiyan", "role": "hero", '
             '"personality_traits": ["brave"], "special_attacks": ["Kamehameha"]}')
    assert check_json_reply(reply, character).valid
