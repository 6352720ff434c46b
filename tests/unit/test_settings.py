"""Settings from the shipped backends file, the environment and the command line."""

from __future__ import annotations

import re

import pytest

from playground.settings import SettingsError, load_settings


def test_shipped_file_lists_backends_whose_url_variable_is_set_plus_cli_ones() -> None:
    env = {"HERMES_8B_URL": "http://10.0.0.8:8080/", "HERMES_BACKENDS": "Extra=openai:http://h:1/v1"}
    settings = load_settings(["--backend", "Local=http://127.0.0.1:9000"], env)
    assert [(b.id, b.kind, b.base_url) for b in settings.backends] == [
        ("hermes-3-8b", "tgi", "http://10.0.0.8:8080"), ("extra", "openai", "http://h:1/v1"),
        ("local", "tgi", "http://127.0.0.1:9000")]
    assert settings.backends[0].token_env == "HERMES_8B_TOKEN"


def test_turns_at_once_come_from_the_cli_then_the_environment() -> None:
    assert load_settings([], {}).max_turns == 40
    assert load_settings([], {"HERMES_MAX_TURNS": "12"}).max_turns == 12
    assert load_settings(["--max-turns", "3"], {"HERMES_MAX_TURNS": "12"}).max_turns == 3


@pytest.mark.parametrize(("argv", "env", "words"), [
    (["--max-turns", "0"], {}, "--max-turns must be at least 1"),
    ([], {"HERMES_MAX_TURNS": "many"}, "$HERMES_MAX_TURNS must be a whole number, got 'many'"),
    (["--backend", "nolabel"], {}, "expected LABEL=URL"),
    (["--backend", "x=ftp://h"], {}, "is not an http(s) URL"),
])
def test_bad_settings_are_refused_with_the_place_to_fix(argv: list[str], env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(words)):
        load_settings(argv, env)
