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


def test_processes_from_cli_or_env_and_refused_where_they_cannot_run(tmp_path) -> None:
    from playground.replicas import find_nginx, shared_secret_env

    assert load_settings([], {}).processes == 1
    assert load_settings([], {"HERMES_PROCESSES": "3"}).processes == 3
    assert load_settings(["--processes", "2"], {"HERMES_PROCESSES": "3"}).processes == 2
    with pytest.raises(SettingsError, match="--processes must be at least 1"):
        load_settings(["--processes", "0"], {})
    with pytest.raises(SettingsError, match="a Space runs one process"):
        load_settings(["--processes", "2"], {"SPACE_ID": "nous/playground"})
    # Every process names a voter with the same key: a SQLite store's key file exists before they start,
    # any other store without $HERMES_SECRET gets one random key for the launch.
    sqlite = load_settings(["--database-url", f"sqlite:///{tmp_path}/votes.db"], {})
    assert shared_secret_env(sqlite, {}) == {} and (tmp_path / "pseudonym.key").is_file()
    postgres = load_settings(["--database-url", "postgresql+psycopg://u@h/db"], {})
    assert len(shared_secret_env(postgres, {})["HERMES_SECRET"]) == 64
    assert shared_secret_env(postgres, {"HERMES_SECRET": "s" * 20}) == {}
    with pytest.raises(SettingsError, match="apt-get install nginx"):
        find_nginx(path=str(tmp_path))
