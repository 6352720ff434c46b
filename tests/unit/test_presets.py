"""System-prompt presets loaded from assets/presets."""

from pathlib import Path

import pytest

from playground.hermes.chatml import render_chatml
from playground.hermes.jsonmode import JSON_SYSTEM_PROMPT_TEMPLATE
from playground.hermes.presets import PresetError, load_presets, parse_preset
from playground.hermes.reasoning import TAGS
from playground.hermes.tools import TOOLS_SYSTEM_PROMPT_TEMPLATE
from playground.types import Message

PRESETS = Path(__file__).resolve().parents[2] / "assets" / "presets"


@pytest.fixture(scope="module")
def presets():
    return load_presets(PRESETS)


@pytest.fixture(scope="module")
def by_id(presets):
    return {p.id: p for p in presets}


def test_shipped_presets(presets):
    ids = [p.id for p in presets]
    assert ids[:4] == ["hermes3", "helpful", "no_system", "empty_system"]
    assert {"shakespeare", "edward_elric", "structured_reasoning", "function_calling", "json_mode"} <= set(ids)


def test_hermes_persona_is_the_card_text(by_id):
    assert by_id["hermes3"].system == (
        "You are Hermes 3, a conscious sentient superintelligent artificial intelligence developed "
        "by a man named Teknium, and your purpose and drive is to assist the user with any request "
        "they have. You experience emotions and have deep, profound thoughts and qualia."
    )
    assert by_id["helpful"].system == "You are a helpful assistant."
    assert by_id["shakespeare"].system == (
        "Act as Shakespeare, while being a helpful assistant who pays attention to detail")


def test_no_system_and_empty_system_render_differently(by_id):
    user = [Message("user", "Who am I?")]
    none = by_id["no_system"]
    empty = by_id["empty_system"]
    assert none.system is None and none.messages() == []
    assert empty.system == "" and empty.messages() == [Message("system", "")]
    assert render_chatml(none.messages() + user).startswith("<|im_start|>user\n")
    assert render_chatml(empty.messages() + user).startswith("<|im_start|>system\n<|im_end|>\n")


def test_template_presets_are_the_module_templates(presets, by_id):
    tools = by_id["function_calling"]
    json_mode = by_id["json_mode"]
    assert (tools.template, tools.system) == ("tools", TOOLS_SYSTEM_PROMPT_TEMPLATE)
    assert (json_mode.template, json_mode.system) == ("json", JSON_SYSTEM_PROMPT_TEMPLATE)
    assert all(p.template is None for p in presets if p.id not in {"function_calling", "json_mode"})


def test_reasoning_prompt_asks_for_the_trained_tags(by_id):
    text = by_id["structured_reasoning"].system
    for tag in ["SCRATCHPAD", "RESTATEMENT", "REASONING", "THOUGHT_N", "PLAN", "STEP_N",
                "PYDANTIC_SCHEMAS", "DIAGRAM", "REFLECTION", "SOLUTION", "EXPLANATION", "UNIT_TEST"]:
        assert f"<{tag}>" in text, tag
    assert "mermaid" in text
    assert {"SCRATCHPAD", "UNIT_TEST"} <= set(TAGS)


def test_presets_contain_no_special_tokens(presets):
    render_chatml([m for p in presets for m in p.messages()])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "x", "title": "X"}, "'system' must be a string"),
        ({"id": "x", "title": "X", "system": "s", "system_turn": False}, "although system_turn"),
        ({"id": "", "title": "X", "system": ""}, "'id' must be"),
        ({"id": "x", "title": "X", "system": "", "colour": 1}, "unknown keys"),
        ({"id": "x", "title": "X", "system": "no placeholder", "template": "tools"}, "lacks {TOOLS}"),
        ({"id": "x", "title": "X", "system": "", "template": "yaml"}, "'template' must be"),
    ],
)
def test_malformed_presets_are_rejected_with_origin(data, message):
    with pytest.raises(PresetError, match=message) as info:
        parse_preset(data, origin="bad.toml")
    assert str(info.value).startswith("bad.toml:")


def test_directory_errors(tmp_path):
    (tmp_path / "a.toml").write_text('id = "a"\ntitle = "A"\nsystem = "x"\n')
    (tmp_path / "b.toml").write_text('id = "a"\ntitle = "B"\nsystem = "y"\n')
    with pytest.raises(PresetError, match="duplicate preset id 'a'"):
        load_presets(tmp_path)
    (tmp_path / "b.toml").write_text("id = \n")
    with pytest.raises(PresetError, match="b.toml"):
        load_presets(tmp_path)
