"""Exports from a real store: files load with `datasets`, Hub uploads are checked up to the network call."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from datasets import load_dataset

from playground.export import main as cli_main
from playground.store.db import Store, VoteFilter, iter_votes_with_turns, open_store, record_vote, save_turn
from playground.store.export import export
from playground.store.hub import make_commit_scheduler, push_to_hub
from playground.store.synthetic import MODELS, WEATHER_TOOL, make_turn
from playground.types import Vote
from tests.integration.test_store import BACKENDS, store_url

TRL_KEYS = {"prompt", "chosen", "rejected"}
MESSAGE_KEYS = {"role", "content"}


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Iterator[Store]:
    s = open_store(store_url(request.param, tmp_path))
    yield s
    s.close()


@pytest.fixture
def voted(store) -> dict[str, str]:
    """Six voted turns covering every vote kind and mode; returns turn ids by name."""
    specs = {
        "multi": (make_turn(seed=1, history=2, blind=True, models=(MODELS[0], MODELS[0])),  # one context
                  Vote("", "alice", "a", blind=True, gold_text="Gold answer.")),
        "tools": (make_turn(seed=2, mode="tools"), Vote("", "bob", "b")),
        "tie": (make_turn(seed=3), Vote("", "bob", "tie")),
        "bothbad": (make_turn(seed=4, mode="json"), Vote("", "bob", "bothbad")),
        "rank": (make_turn(seed=5, n_panes=4), Vote("", "carol", "ranking", ranking=((0,), (2, 1), (3,)))),
        "nosys": (make_turn(seed=6, system_prompts=(None, "")), Vote("", "carol", "a")),
    }
    ids = {}
    for name, (turn, vote) in specs.items():
        ids[name] = save_turn(store, turn)
        record_vote(store, Vote(ids[name], vote.user_id, vote.kind, vote.ranking, vote.blind, vote.gold_text))
    return ids


def load(path: Path, tmp_path: Path) -> list[dict]:
    builder = "json" if path.suffix == ".jsonl" else "parquet"
    ds = load_dataset(builder, data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache"))
    return ds.to_list()


def by_turn(rows: list[dict], turn_id: str) -> list[dict]:
    return [r for r in rows if r["turn_id"] == turn_id]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_dpo_export_loads_with_datasets_in_trl_shape(store, voted, tmp_path, fmt):
    path = tmp_path / f"dpo.{fmt}"
    assert export(store, path, kind="dpo", fmt=fmt) == 7  # 1 + 1 + 0 (tie) + 0 (both bad) + 5 (ranking) + 0 (mixed)
    rows = load(path, tmp_path)
    assert len(rows) == 7
    for row in rows:
        assert TRL_KEYS <= set(row) and "prompt_text" not in row
        for key in TRL_KEYS:
            assert isinstance(row[key], list) and row[key]
            assert all(set(m) == MESSAGE_KEYS and isinstance(m["content"], str) for m in row[key])
        assert row["prompt"][-1]["role"] in ("user", "tool")
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == row["chosen"][-1]["role"] == "assistant"

    multi = by_turn(rows, voted["multi"])[0]
    assert [m["role"] for m in multi["prompt"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert multi["prompt"][-1]["content"] == "Question #1: explain DPO."
    assert multi["chosen"][0]["content"] == "Gold answer." and multi["edited"] is True
    assert multi["chosen_original"].startswith("hermes-3b answers #1") and multi["blind"] is True
    assert (multi["chosen_backend"], multi["rejected_backend"]) == ("hermes-3b", "hermes-3b")
    assert multi["chosen_model"] == "NousResearch/Hermes-3-Llama-3.2-3B"

    tools = by_turn(rows, voted["tools"])[0]
    assert tools["mode"] == "tools" and tools["chosen_backend"] == "hermes-8b"
    assert tools["chosen"][0]["content"].startswith("<tool_call>\n{")
    assert [m["role"] for m in tools["chosen"]] == ["assistant", "tool", "assistant"]
    assert json.loads(tools["tools"]) == [WEATHER_TOOL]
    assert multi["tools"] is None

    assert by_turn(rows, voted["nosys"]) == []  # no system turn vs an empty one: different contexts
    mixed_path = tmp_path / f"mixed.{fmt}"
    assert export(store, mixed_path, kind="dpo-mixed-context", fmt=fmt) == 1
    (nosys,) = load(mixed_path, tmp_path)
    assert nosys["turn_id"] == voted["nosys"] and "prompt" not in nosys
    assert [m["role"] for m in nosys["prompt_chosen"]] == ["user"]  # pane 0 had no system turn
    assert nosys["prompt_rejected"][0] == {"role": "system", "content": ""}
    assert nosys["rejected_system"] == "" and nosys["chosen_system"] is None and nosys["same_context"] is False


def test_ranking_yields_every_strict_pair(store, voted, tmp_path):
    path = tmp_path / "dpo.jsonl"
    export(store, path)
    rows = by_turn([json.loads(line) for line in path.read_text().splitlines()], voted["rank"])
    pairs = [(r["chosen_backend"], r["rejected_backend"]) for r in rows]
    assert pairs == [
        ("hermes-3b", "hermes-8b"),
        ("hermes-3b", "hermes-70b"),
        ("hermes-3b", "hermes-405b"),
        ("hermes-8b", "hermes-405b"),
        ("hermes-70b", "hermes-405b"),
    ]
    assert {r["vote"] for r in rows} == {"ranking"} and json.loads(rows[0]["ranking"]) == [[0], [1, 2], [3]]


def test_battles_include_ties_and_load_with_datasets(store, voted, tmp_path):
    path = tmp_path / "battles.parquet"
    assert export(store, path, kind="battles", fmt="parquet") == 11
    rows = load(path, tmp_path)
    arena = {"model_a", "model_b", "winner", "conversation_a", "conversation_b", "judge", "turn", "anony", "tstamp"}
    assert all(arena <= set(r) for r in rows)
    assert by_turn(rows, voted["tie"])[0]["winner"] == "tie"
    assert by_turn(rows, voted["bothbad"])[0]["winner"] == "tie (bothbad)"
    assert by_turn(rows, voted["tools"])[0]["winner"] == "model_b"
    rank = by_turn(rows, voted["rank"])
    assert sorted((r["backend_a"], r["backend_b"], r["winner"]) for r in rank) == sorted(
        [
            ("hermes-3b", "hermes-8b", "model_a"),
            ("hermes-3b", "hermes-70b", "model_a"),
            ("hermes-3b", "hermes-405b", "model_a"),
            ("hermes-8b", "hermes-70b", "tie"),
            ("hermes-8b", "hermes-405b", "model_a"),
            ("hermes-70b", "hermes-405b", "model_a"),
        ]
    )
    multi = by_turn(rows, voted["multi"])[0]
    assert multi["turn"] == 3 and multi["anony"] is True and multi["judge"] == "alice"
    assert multi["conversation_a"][-1] == {"role": "assistant", "content": multi["conversation_a"][-1]["content"]}
    tools_conv = by_turn(rows, voted["tools"])[0]["conversation_b"]
    assert [m["role"] for m in tools_conv[-3:]] == ["assistant", "tool", "assistant"]  # the in-turn tool loop


def test_export_filters(store, voted, tmp_path):
    def count(**kw) -> int:
        return export(store, tmp_path / "f.jsonl", kind="battles", flt=VoteFilter(**kw))

    assert count(modes=["tools", "json"]) == 2
    assert count(blind_only=True) == 1
    assert count(backends=["hermes-405b"]) == 3  # only the ranking's pairs that involve it
    assert export(store, tmp_path / "f.jsonl", kind="dpo", flt=VoteFilter(modes=["json"])) == 0  # both bad


def test_cli_exports_with_filters(store, voted, tmp_path):
    url = store.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "cli.parquet"
    argv = ["--db", url, "--format", "parquet", "--kind", "dpo", "--out", str(out), "--mode", "chat",
            "--backend", "hermes-70b"]
    assert cli_main(argv) == 0
    rows = load(out, tmp_path)
    assert len(rows) == 2 and all("hermes-70b" in (r["chosen_backend"], r["rejected_backend"]) for r in rows)
    assert cli_main(["--db", url, "--out", str(tmp_path / "none.jsonl"), "--since", "2999-01-01"]) == 0
    assert (tmp_path / "none.jsonl").read_text() == ""
    out2 = tmp_path / "all.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "playground.export", "--db", url, "--kind", "battles", "--out", str(out2),
         "--until", "2999-12-31"],
        capture_output=True, text=True, check=True,
    )
    assert "wrote 11 battles rows" in done.stderr and len(out2.read_text().splitlines()) == 11


class FakeHub:
    """Stands in for ``HfApi``: records the repo creation and the bytes of every committed file."""

    def __init__(self) -> None:
        self.repos: list[tuple[str, dict]] = []
        self.commits: list[dict[str, bytes]] = []

    def create_repo(self, repo_id: str, **kwargs):
        self.repos.append((repo_id, kwargs))
        return SimpleNamespace(repo_id=repo_id)

    def create_commit(self, repo_id: str, operations, **kwargs):
        files = {}
        for op in operations:
            with op.as_file() as f:
                files[op.path_in_repo] = f.read()
        self.commits.append(files)
        return SimpleNamespace(oid="0" * 40, repo_id=repo_id, kwargs=kwargs)

    def run_as_future(self, fn, *args, **kwargs) -> Future:
        """The scheduler's background trigger: run at once, synchronously."""
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def sent(self) -> dict[str, bytes]:
        """Every file as last committed."""
        return {path: data for files in self.commits for path, data in files.items()}


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_push_to_hub_sends_card_declaring_configs_and_parquet(store, voted, tmp_path):
    hub = FakeHub()
    info = push_to_hub(store, "someone/hermes-prefs", "hf_secret", api=hub)
    assert info.kwargs["repo_type"] == "dataset" and hub.repos[0][1]["repo_type"] == "dataset"
    (files,) = hub.commits
    meta = _front_matter(files["README.md"].decode())
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in meta["configs"]}
    assert configs == {"dpo": "data/dpo.parquet", "dpo-mixed-context": "data/dpo-mixed-context.parquet",
                       "battles": "data/battles.parquet"}
    # tie: 1 + ranking's 1
    assert meta["hermes_playground"]["dpo"]["dropped"] == {"tie": 2, "both_bad": 1, "mixed_context": 1}
    assert set(files) == {"README.md", *configs.values()}
    for config, repo_path in configs.items():
        local = tmp_path / "sent" / repo_path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(files[repo_path])
        assert len(load(local, tmp_path)) == {"dpo": 7, "dpo-mixed-context": 1, "battles": 11}[config]


def test_commit_scheduler_pushes_appended_jsonl(store, voted, tmp_path):
    hub = FakeHub()
    log = make_commit_scheduler("someone/hermes-votes", "hf_secret", tmp_path / "outbox", hf_api=hub)
    assert hub.repos == []  # nothing on the network before the first vote
    for item in iter_votes_with_turns(store):
        log.append(item)
    log.scheduler.push_to_hub()  # what the background thread does every few minutes
    log.stop()
    files = hub.sent()
    meta = _front_matter(files["README.md"].decode())
    assert {c["config_name"] for c in meta["configs"]} == {"dpo", "battles"}
    dpo_path = next(p for p in files if p.startswith("log/dpo-"))
    battles_path = next(p for p in files if p.startswith("log/battles-"))
    assert len(files[dpo_path].decode().splitlines()) == 7
    assert len(files[battles_path].decode().splitlines()) == 11
    local = tmp_path / "sent.jsonl"
    local.write_bytes(files[dpo_path])
    rows = load(local, tmp_path)
    assert all(TRL_KEYS <= set(r) for r in rows)
