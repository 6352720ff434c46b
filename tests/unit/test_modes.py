"""The mode registry (``hermes/modes.py``) and every consumer that must read it, not its own list.

Each test fails if a consumer goes back to writing the modes out by hand: a mode of the table
missing from a CLI, a filter, a chart, the conformance table, the exports or the Compare tab.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gradio as gr
import pandas as pd
import pytest

from playground.export import build_parser as export_parser
from playground.hermes.modes import MODES, editor_spec, editors, find_mode, mode_ids, mode_name, mode_spec
from playground.hermes.presets import load_presets
from playground.hermes.system_prompt import SystemPromptError, compose_system_prompt
from playground.judging.batch import build_parser as batch_parser
from playground.settings import ASSETS_DIR
from playground.store.arena import SLICES
from playground.store.categories import categorise
from playground.store.conformance import CONFORMANCE_COLUMNS, PaneCheck, check_pane, conformance_table
from playground.store.export import DPO_SCHEMA
from playground.store.pairs import dpo_candidates
from playground.store.synthetic import make_turn
from playground.types import Vote
from playground.ui.data_charts import turns_per_model_figure, votes_per_day_figure
from playground.ui.modes import MODE_LABELS, load_mode_assets

TOOL = {"type": "function", "function": {"name": "f", "description": "F.",
                                         "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}
GOOD_REPLY = {"tools": '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>', "json": '{"x": 1}'}
EDITOR_TEXT = {"tools": '[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]',
               "schema": '{"type": "object"}'}


def _mode_choices(parser: Any) -> list[str]:
    (action,) = [a for a in parser._actions if "--mode" in a.option_strings]
    return list(action.choices)


def test_the_table_is_immutable_and_ids_are_unique():
    assert isinstance(MODES, tuple) and len(set(mode_ids())) == len(MODES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        MODES[0].label = "x"  # type: ignore[misc]
    with pytest.raises(KeyError, match="the modes are chat, tools, json"):
        mode_spec("nope")
    assert find_mode("nope") is None and mode_name("legacy") == "legacy"


def test_both_clis_offer_every_mode():
    assert _mode_choices(export_parser()) == list(mode_ids())
    assert _mode_choices(batch_parser()) == list(mode_ids())


def test_every_mode_has_a_preset_and_template_presets_name_a_placeholder_mode():
    presets = {p.id: p for p in load_presets(ASSETS_DIR / "presets")}
    for m in MODES:
        assert m.preset in presets, m.id
        preset = presets[m.preset]
        if m.placeholder:  # the mode's preset is its template, holding its placeholder
            assert preset.template == m.id and m.placeholder in (preset.system or "")
    for p in presets.values():
        if p.template:
            assert mode_spec(p.template).placeholder


@pytest.mark.parametrize("mode", mode_ids())
def test_system_prompt_needs_and_fills_the_modes_placeholder(mode):
    spec = mode_spec(mode)
    if spec.placeholder is None:
        assert compose_system_prompt("Be brief.", mode) == "Be brief."
        return
    with pytest.raises(SystemPromptError, match=f"{spec.label} needs .{spec.placeholder[1:-1]}"):
        compose_system_prompt("Be brief.", mode)
    filled = compose_system_prompt(f"Use {spec.placeholder} now.", mode, tools=[TOOL], schema_text='{"type": "object"}')
    assert filled is not None and spec.placeholder not in filled and filled.startswith("Use ")


@pytest.mark.parametrize("editor", editors(), ids=lambda e: e.id)
def test_each_editor_checks_its_text_and_its_default_asset_exists(editor):
    value, errors = editor.check(EDITOR_TEXT[editor.id])
    assert value and not errors
    assert editor.check("not json")[1]
    assets = load_mode_assets(ASSETS_DIR)
    assert editor.default_asset in assets.examples(editor)
    assert editor_spec(editor.id) is editor


@pytest.mark.parametrize("mode", [m.id for m in MODES if m.post_check is not None])
def test_the_conformance_table_runs_every_modes_post_check(mode):
    spec = mode_spec(mode)
    assert {f"{spec.check}_replies", f"{spec.check}_valid"} <= {f.name for f in dataclasses.fields(PaneCheck)}
    good = check_pane(mode, GOOD_REPLY[mode], [], [TOOL], {"type": "object", "properties": {"x": {"type": "integer"}}})
    assert (getattr(good, f"{spec.check}_replies"), getattr(good, f"{spec.check}_valid")) == (1, 1)
    bad = check_pane(mode, '<tool_call>\n{"name": "g", "arguments": {}}\n</tool_call>' if mode == "tools" else "no",
                     [], [TOOL], {"type": "object"})
    assert (getattr(bad, f"{spec.check}_replies"), getattr(bad, f"{spec.check}_valid")) == (1, 0)
    table = conformance_table([("m", good), ("m", bad)])
    assert f"{spec.check}_replies" in CONFORMANCE_COLUMNS and table.loc["m", f"{spec.check}_rate"] == 0.5


def test_a_mode_without_post_check_counts_no_replies():
    chat = check_pane("chat", GOOD_REPLY["tools"], [], [TOOL], None)
    assert chat == PaneCheck()


def test_leaderboard_slices_and_categories_come_from_the_table():
    assert [s for s in SLICES if s.startswith("mode: ")] == [f"mode: {m.name}" for m in MODES]
    for m in MODES:
        if m.category:
            assert categorise("Hello there", m.id) == m.category


def test_exports_carry_every_editors_field():
    assert {e.field for e in editors()} <= set(DPO_SCHEMA.names)
    for mode in mode_ids():
        turn = make_turn(seed=3, mode=mode)
        (row,) = dpo_candidates(Vote(turn.id, "v1:x", "a", ranking=((0,), (1,))), turn)
        spec = mode_spec(mode)
        for e in editors():
            assert e.field in row
            assert (row[e.field] is not None) == (spec.editor is e), (mode, e.field)


def test_the_charts_stack_modes_in_table_order():
    reversed_ids = list(reversed(mode_ids()))
    by_day = pd.DataFrame({"day": ["2025-01-01"] * len(MODES), "mode": reversed_ids, "votes": [1] * len(MODES)})
    by_model = pd.DataFrame({"model": ["x"] * len(MODES), "mode": reversed_ids, "turns": [1] * len(MODES)})
    assert [t.name for t in votes_per_day_figure(by_day).data] == list(mode_ids())
    assert [t.name for t in turns_per_model_figure(by_model).data] == list(mode_ids())


@pytest.fixture(scope="module")
def app_blocks() -> gr.Blocks:
    from app import build_app
    from playground.settings import load_settings
    from playground.store.db import open_store

    settings = load_settings(["--backend", "Alpha=http://127.0.0.1:9"], env={"HERMES_SECRET": "s" * 32})
    demo, _gate = build_app(settings, open_store("sqlite://"))
    return demo


def _by_elem_id(demo: gr.Blocks, elem_id: str) -> Any:
    (block,) = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id]
    return block


def test_the_data_and_judge_filters_offer_every_mode(app_blocks):
    for elem_id in ("data-modes", "judge-modes"):
        assert [value for _label, value in _by_elem_id(app_blocks, elem_id).choices] == list(mode_ids())


def test_the_compare_tab_offers_every_mode_and_builds_each_editor(app_blocks):
    radio = _by_elem_id(app_blocks, "mode")
    assert [label for label, _ in radio.choices] == [m.label for m in MODES] == list(MODE_LABELS)
    for editor in editors():
        code = _by_elem_id(app_blocks, editor.id)
        assert code.label == editor.label and code.language == editor.language
        assert _by_elem_id(app_blocks, editor.asset_elem_id).value == editor.default_asset


@pytest.mark.parametrize("mode", mode_ids())
def test_switching_mode_shows_its_editor_and_its_preset(app_blocks, mode):
    radio = _by_elem_id(app_blocks, "mode")
    (switch,) = [f for f in app_blocks.fns.values()
                 if any(t[0] == radio._id and t[1] == "input" for t in f.targets)]
    boxes = {e.id: _by_elem_id(app_blocks, "tools-box" if e.id == "tools" else "json-box") for e in editors()}
    spec = mode_spec(mode)
    out = switch.fn(spec.label, "Hello {TOOLS} {SCHEMA}" if spec.placeholder is None else "Hello")
    shown = {o._id: v for o, v in zip(switch.outputs, out, strict=True)}
    for editor_id, box in boxes.items():
        assert shown[box._id].visible == (spec.editor is not None and spec.editor.id == editor_id)
    assert shown[_by_elem_id(app_blocks, "system-prompt-preset")._id] == spec.preset  # the prompt lacked what it needs

