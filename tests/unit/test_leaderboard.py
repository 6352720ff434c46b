"""Leaderboard pieces: style features and control, categories, configurations, battles, position bias,
Hermes conformance, and the tab's handler (inputs checked, outputs from a real SQLite store)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest

from playground.hermes.presets import load_presets
from playground.hermes.system_prompt import compose_system_prompt
from playground.store.arena import battle_frame, position_bias, preset_name
from playground.store.categories import categorise
from playground.store.conformance import (
    check_pane,
    conformance_table,
    stored_pane_checks,
)
from playground.store.db import VotedTurn, open_store, record_vote, save_turn
from playground.store.ratings import fit_bradley_terry
from playground.store.style_control import style_controlled_leaderboard, style_features
from playground.store.synthetic import HERMES_SYSTEM, WEATHER_TOOL, make_turn
from playground.types import Vote
from playground.ui.leaderboard import (
    SLICES,
    board_table,
    check_inputs,
    compute,
    rated_sides,
    summary_line,
)

PRESETS = load_presets(Path(__file__).resolve().parents[2] / "assets" / "presets")
ONE_TOOL_CALL = '<tool_call>\n{"arguments": {"city": "Paris"}, "name": "get_weather"}\n</tool_call>'


def battles_with_style(rows: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """Battles from (model_a, model_b, winner, length_a, length_b); markdown counts zero."""
    df = pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "length_a", "length_b"])
    for f in ("headers", "lists", "bold"):
        df[f"{f}_a"] = df[f"{f}_b"] = 0
    return df


def test_style_features_count_markdown_outside_code_blocks():
    text = "## Title\n1. first\n* second\n__strong__ and **bold**\n```md\n# code\n- code\n**code**\n```"
    assert style_features(text) == {"length": len(text), "headers": 1, "lists": 2, "bold": 2}


def test_style_control_without_style_differences_is_plain_bradley_terry():
    rng = np.random.default_rng(0)
    rows = [(a, b, rng.choice(["model_a", "model_b", "tie"]), 100, 100)
            for a, b in [("x", "y"), ("y", "z"), ("x", "z")] for _ in range(40)]
    rows += [("x", "y", "model_a", 100, 100)] * 20
    df = battles_with_style(rows)
    styled = style_controlled_leaderboard(df, rounds=100)
    plain = fit_bradley_terry(df)
    assert styled.board["rating"].sub(plain).abs().max() < 0.5
    assert (styled.style["coef"] == 0).all()


def test_style_control_credits_length_not_the_model_when_longer_answers_win():
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(600):
        la, lb = (int(v) for v in rng.integers(50, 2000, 2))
        a_wins = rng.random() < 1 / (1 + np.exp(-3 * (la - lb) / (la + lb + 1)))
        rows.append(("x", "y", "model_a" if a_wins else "model_b", la, lb))
    styled = style_controlled_leaderboard(battles_with_style(rows), rounds=100)
    assert styled.style.loc["length", "lower"] > 0.5
    assert styled.board.loc["x", "lower"] < 1000 < styled.board.loc["x", "upper"]


def test_too_few_bootstrap_rounds_and_empty_battles():
    with pytest.raises(ValueError, match="at least 100"):
        style_controlled_leaderboard(battles_with_style([("x", "y", "tie", 1, 1)]), rounds=10)
    assert style_controlled_leaderboard(battles_with_style([("x", "x", "tie", 1, 1)])).board.empty


@pytest.mark.parametrize(("text", "mode", "category"), [
    ("What is the weather in Paris?", "tools", "function calling"),
    ("Please call the function get_time for Tokyo", "chat", "function calling"),
    ("```python\nprint(1)\n```\nwhy does this fail?", "chat", "coding"),
    ("Write a SQL query for the top customers", "chat", "coding"),
    ("Solve x^2 - 4 = 0", "chat", "math"),
    ("What is 17 * 23?", "chat", "math"),
    ("A riddle: what has keys but no locks?", "chat", "reasoning"),
    ("Roleplay as a pirate captain", "chat", "creative/roleplay"),
    ("Write me a short story about a lighthouse", "chat", "creative/roleplay"),
    ("Hello! How are you today?", "chat", "other"),
])
def test_categories_from_the_first_user_message(text, mode, category):
    assert categorise(text, mode) == category


def test_configurations_name_presets_even_when_their_template_is_filled():
    hermes = next(p for p in PRESETS if p.id == "hermes3")
    tools_template = next(p for p in PRESETS if p.template == "tools").system
    json_template = next(p for p in PRESETS if p.template == "json").system
    assert preset_name(hermes.system, PRESETS) == hermes.title
    assert preset_name(None, PRESETS) == "No system turn" and preset_name("", PRESETS).startswith("Empty system turn")
    filled = compose_system_prompt(tools_template, "tools", tools=[WEATHER_TOOL])
    assert preset_name(filled, PRESETS) == "Function calling (template)"
    filled_json = compose_system_prompt(json_template, "json", schema_text='{"type": "object"}')
    assert preset_name(filled_json, PRESETS).startswith("JSON")
    custom = preset_name("Answer like a pirate.", PRESETS)
    assert custom.startswith("custom #") and custom == preset_name("Answer like a pirate.", PRESETS)
    assert custom != preset_name("Answer like a parrot.", PRESETS)


def test_battles_name_sides_three_ways_and_keep_display_slots():
    turn = make_turn(seed=5, n_panes=3, mode="tools", blind=True, system_prompts=(None, "Be terse.", None))
    turn = replace(turn, id="t5", pane_order=(2, 0, 1))
    vote = Vote("t5", "rater", "ranking", ranking=((2,), (0, 1)))
    df = battle_frame([VotedTurn(vote, turn)], labels={"hermes-3b": "Hermes 3B"}, presets=PRESETS)
    assert len(df) == 3
    first = df.iloc[0]  # positions 0 and 1: a tie
    assert (first["backend_a"], first["backend_b"], first["winner"]) == ("Hermes 3B", "hermes-8b", "tie")
    assert first["model_a"] == "NousResearch/Hermes-3-Llama-3.2-3B"
    assert first["config_a"] == "Hermes 3B · No system turn · function calling"
    assert first["config_b"].startswith("hermes-8b · custom #") and first["mode"] == "function calling"
    assert (first["slot_a"], first["slot_b"]) == (1, 2)  # position 2 was shown leftmost
    assert first["category"] == "function calling"
    # the tool loop's final answer counts towards the answer's length
    pane = turn.panes[0]
    assert first["length_a"] == len(pane.output) + 1 + len(pane.followup[-1].content)


def test_position_bias_counts_only_decisive_outcomes_between_the_two_leftmost_slots():
    df = pd.DataFrame({"slot_a": [0, 1, 1, 0, 0, 2], "slot_b": [1, 0, 0, 1, 2, 1],
                       "winner": ["model_a", "model_a", "model_b", "tie", "model_a", "model_a"]})
    bias = position_bias(df)
    assert (bias.left_wins, bias.decisive) == (2, 3) and bias.low < 2 / 3 < bias.high
    empty = position_bias(df.iloc[:0])
    assert empty.rate is None and empty.decisive == 0


def test_tool_conformance_needs_every_call_closed_parsed_and_valid():
    tools = [WEATHER_TOOL]
    assert check_pane("tools", ONE_TOOL_CALL, [], tools, None).tool_valid == 1
    wrong_args = ONE_TOOL_CALL.replace('"city"', '"town"')
    unknown = ONE_TOOL_CALL.replace("get_weather", "get_time")
    unclosed = ONE_TOOL_CALL.removesuffix("\n</tool_call>")
    broken = "<tool_call>\n{not json}\n</tool_call>"
    for reply in (wrong_args, unknown, unclosed, broken):
        assert (check_pane("tools", reply, [], tools, None).tool_replies,
                check_pane("tools", reply, [], tools, None).tool_valid) == (1, 0), reply
    # a direct answer is no tool-call reply; a second round's call counts too
    both = check_pane("tools", "It is sunny.", [ONE_TOOL_CALL, "Done."], tools, None)
    assert (both.tool_replies, both.tool_valid) == (1, 1)


def test_json_and_reasoning_conformance():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert check_pane("json", '{"n": 3}', [], None, schema).json_valid == 1
    assert check_pane("json", '{"n": "3"}', [], None, schema).json_valid == 0
    assert check_pane("json", "no json here", [], None, schema).json_replies == 1
    assert check_pane("chat", "<SCRATCHPAD>plan</SCRATCHPAD>Answer", [], None, None).reasoning
    assert not check_pane("chat", "List<T> is generic", [], None, None).reasoning


def test_conformance_reads_every_finished_stored_turn_voted_or_not():
    store = open_store("sqlite://")
    save_turn(store, make_turn(seed=1, mode="tools"))  # both panes call get_weather correctly
    save_turn(store, make_turn(seed=2, mode="json"))  # '{"answer": "hermes-3b", ...}' matches the schema
    save_turn(store, make_turn(seed=3, mode="json", statuses=("done", "error")))
    table = conformance_table(stored_pane_checks(store))
    small, eight = "NousResearch/Hermes-3-Llama-3.2-3B", "NousResearch/Hermes-3-Llama-3.1-8B"
    counts = ["tool_replies", "tool_valid", "json_replies", "json_valid", "answers"]
    assert table.loc[small, counts].tolist() == [1, 1, 2, 2, 3]
    assert table.loc[eight, "answers"] == 2 and table.loc[eight, "json_rate"] == 1.0  # the failed pane is left out
    assert table.loc[small, "reasoning_rate"] == 0
    assert conformance_table(stored_pane_checks(open_store("sqlite://"))).empty


def test_sides_are_named_by_backend_label_model_id_or_configuration():
    df = pd.DataFrame({"backend_a": ["One"], "backend_b": ["b2"], "model_a": ["m"], "model_b": ["m"],
                       "config_a": ["One · P · chat"], "config_b": ["b2 · Q · chat"], "winner": ["model_a"]})
    assert rated_sides(df, "backend")[["model_a", "model_b"]].values.tolist() == [["One", "b2"]]
    assert rated_sides(df, "model")[["model_a", "model_b"]].values.tolist() == [["m", "m"]]
    assert rated_sides(df, "config")[["model_a", "model_b"]].values.tolist() == [["One · P · chat", "b2 · Q · chat"]]


def test_board_rows_mark_ratings_on_few_battles_provisional():
    plain = pd.DataFrame({"rating": [1000.0, 990.0], "lower": [990.0, 980.0], "upper": [1012.0, 1000.0],
                          "rank": [1, 1], "battles": [40, 4]}, index=["One", "Two"])
    styled = plain.assign(rating=[1001.0, 1003.0]).iloc[::-1]
    rows = board_table(plain, styled)
    assert [r[1] for r in rows] == ["One", "Two"]  # ranked first, the provisional one apart
    assert rows[0] == [1, "One", 1000, "−10 / +12", 1, 1001, "−11 / +11", 40, ""]
    assert rows[1][-1].startswith("provisional") and rows[1][:8] == ["—", "Two", "—", "—", "—", "—", "—", 4]


def test_provisional_models_neither_rank_nor_push_the_ranked_ones_down():
    plain = pd.DataFrame({"rating": [2828.0, 1100.0, 1000.0, -828.0], "lower": [2000.0, 1050.0, 950.0, -1500.0],
                          "upper": [3500.0, 1150.0, 1040.0, 0.0], "rank": [1, 2, 3, 1],
                          "battles": [3, 30, 30, 3]}, index=["lucky", "A", "B", "unlucky"])
    rows = board_table(plain, plain)
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "A", 1100), (2, "B", 1000), ("—", "lucky", "—"),
                                                   ("—", "unlucky", "—")]
    assert "2828" not in str(rows) and "-828" not in str(rows)


def test_summary_warns_when_ratings_rest_on_few_battles():
    few = pd.DataFrame({"battles": [1, 1]}, index=["x", "y"])
    line = summary_line(few, "backend")
    assert line.startswith("1 battle between 2 backends") and "only 1 battle;" in line
    many = pd.DataFrame({"battles": [40, 30, 30]}, index=["x", "y", "z"])
    line = summary_line(many, "config")
    assert "⚠️" not in line and line.startswith("50 battles between 3 configurations")


@pytest.mark.parametrize(("rate_by", "slice_name", "blind", "message"), [
    ("models", "all", True, "Rate must be one of"),
    (None, "all", True, "Rate must be one of"),
    ("backend", "mode: poetry", True, "Slice must be one of"),
    ("backend", ["all"], True, "Slice must be one of"),
    ("backend", "all", "yes", "Blind votes only must be true or false"),
    ("backend", "all", None, "Blind votes only must be true or false"),
])
def test_handler_refuses_values_outside_the_choices(rate_by, slice_name, blind, message):
    with pytest.raises(gr.Error, match=message):
        check_inputs(rate_by, slice_name, blind)
    assert check_inputs("config", SLICES[-1], False) == ("config", SLICES[-1], False)


def test_tab_outputs_from_a_stored_store():
    store = open_store("sqlite://")
    for seed in range(6):
        turn_id = save_turn(store, make_turn(seed=seed, blind=True))
        record_vote(store, Vote(turn_id, f"u{seed}", "a" if seed % 3 else "b", blind=True))
    table, style, _, _, summary, position, conformance, _ = compute(store, "config", "all", True, {}, PRESETS)
    custom = preset_name(HERMES_SYSTEM, PRESETS)  # the synthetic turns' shortened persona is no preset
    assert {row[1] for row in table} == {f"hermes-3b · {custom} · chat", f"hermes-8b · {custom} · chat"}
    assert len(table) == 2 and all(row[-1].startswith("provisional") for row in table)
    assert [row[0] for row in style] == ["length", "headers", "lists", "bold"]
    assert "6 battles between 2 configurations" in summary and "Provisional" in summary
    assert "won" in position and len(conformance) == 2
    empty = compute(store, "backend", "mode: JSON", True, {}, PRESETS)
    assert empty[0] == [] and empty[4] == "No votes in this selection yet." and len(empty[6]) == 2
    assert compute(store, "backend", "all", False, {}, PRESETS)[0]  # named votes count when asked
