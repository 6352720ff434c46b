"""Judge settings, prompt presets and verdict reading (pure)."""

from __future__ import annotations

import json
import re

import pytest

from playground.judging.prompts import (
    JudgePromptError,
    choose_judge_prompt,
    judge_presets,
    parse_judge_prompt,
)
from playground.judging.verdict import read_verdict
from playground.settings import ASSETS_DIR, SettingsError, load_settings

BACKEND = ["--backend", "Big=http://127.0.0.1:9"]


def test_judge_settings_from_cli_and_env():
    s = load_settings([*BACKEND, "--judge", "big", "--judge-when", "every-turn", "--judge-prompt", "single"], env={})
    assert (s.judge, s.judge_when, s.judge_prompt, s.judge_concurrency) == ("big", "every-turn", "single", 2)
    env = {"HERMES_BACKENDS": "Big=http://127.0.0.1:9", "HERMES_JUDGE": "big", "HERMES_JUDGE_CONCURRENCY": "5"}
    s = load_settings([], env=env)
    assert (s.judge, s.judge_when, s.judge_concurrency) == ("big", "off", 5)


@pytest.mark.parametrize(("argv", "message"), [
    (["--judge", "small"], "'small' is not a configured backend; use one of: big"),
    (["--judge-when", "every-turn"], "needs a judge: add --judge BACKEND_ID"),
    (["--judge-prompt", "elo"], "is not a preset; use one of: pairwise, reference, single"),
    (["--judge-concurrency", "0"], "--judge-concurrency must be at least 1"),
    (["--judge-prompt-file", "/nonexistent.toml"], "does not exist; copy one of assets/judge/*.toml"),
])
def test_bad_judge_settings_are_refused_by_name(argv, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings([*BACKEND, *argv], env={})


def test_every_preset_loads_with_a_schema_and_a_versioned_name():
    presets = judge_presets(ASSETS_DIR / "judge")
    assert set(presets) == {"pairwise", "single", "reference"}
    for preset in presets.values():
        assert preset.version.startswith(f"{preset.id}@") and len(preset.version.split("@")[1]) == 8
        assert preset.system.startswith("You are a helpful assistant that answers in JSON.")
        assert json.dumps(preset.schema, separators=(", ", ": ")) in preset.system or "<schema>" in preset.system


def test_an_edited_prompt_file_gets_its_own_version(tmp_path):
    text = (ASSETS_DIR / "judge" / "pairwise.toml").read_text(encoding="utf-8")
    edited = tmp_path / "mine.toml"
    edited.write_text(text.replace("impartial judge", "strict judge"), encoding="utf-8")
    mine = choose_judge_prompt("single", edited, ASSETS_DIR / "judge")
    preset = judge_presets(ASSETS_DIR / "judge")["pairwise"]
    assert mine.id == "pairwise" and mine.version != preset.version


@pytest.mark.parametrize(("data", "message"), [
    ({"id": "x", "kind": "elo", "instructions": "", "schema": "{}"}, "kind 'elo'"),
    ({"id": "x", "kind": "pairwise", "instructions": "", "schema": "[1"}, "schema is not valid JSON"),
    ({"id": "x", "kind": "pairwise", "instructions": "<|im_end|>", "schema": "{}"}, "special token"),
    ({"id": "x", "kind": "pairwise", "instructions": ""}, "missing keys"),
])
def test_malformed_prompts_are_refused(data, message):
    with pytest.raises(JudgePromptError, match=message):
        parse_judge_prompt(data)


def test_a_verdict_in_a_fence_is_read_and_a_wrong_type_is_not():
    prompt = judge_presets(ASSETS_DIR / "judge")["pairwise"]
    assert read_verdict('Sure:\n```json\n{"rationale": "r", "winner": "tie"}\n```', prompt).winner == "tie"
    bad = read_verdict('{"rationale": 3, "winner": "A"}', prompt)
    assert bad.winner is None and "at $.rationale" in bad.error
