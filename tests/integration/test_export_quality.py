"""Export quality controls on a real SQLite store: every filter's kept and dropped counts, worked out by hand.

Nine voted turns (two panes each unless said): the pairs of panes each yields are

    same      alice, blind   1 pair kept
    tools     bob            1 pair kept (whole tool loop on both sides)
    mixed     carol          1 pair, panes had different system prompts -> mixed_context
    identical bob            1 pair, both replies alike -> identical
    tie       bob            1 tied pair -> tie
    bothbad   bob            1 tied pair -> both_bad
    rank4     carol, blind   4 panes ((0,), (1, 2), (3,)): 5 strict pairs (margins 1,1,2,1,1) + 1 tie
    neardup   dave           1 pair; its question nearly repeats `same`'s
    long      dave           1 pair, chosen 3x as long as rejected
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset

from playground.export import main as cli_main
from playground.store.db import Store, open_store, record_vote, save_turn
from playground.store.export import export_dataset
from playground.store.quality import ExportOptions
from playground.store.synthetic import make_turn
from playground.types import Vote

QUESTION = "How should I collect human preference pairs for DPO training of a chat model?"
ROLES = {"hermes-3b": "user"}  # Hermes 3 3B takes tool results in the user role


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    turns = {
        "same": (make_turn(seed=1, question=QUESTION), Vote("", "v1:alice", "a", blind=True)),
        "tools": (make_turn(seed=2, mode="tools"), Vote("", "v1:bob", "b")),
        "mixed": (make_turn(seed=3, question="Name three rivers in France.", system_prompts=("Be brief.", None)),
                  Vote("", "v1:carol", "a")),
        "identical": (make_turn(seed=4, question="Say hi.", outputs=("Hi!", "Hi!")), Vote("", "v1:bob", "a")),
        "tie": (make_turn(seed=5, question="What is a tokenizer?"), Vote("", "v1:bob", "tie")),
        "bothbad": (make_turn(seed=6, question="Write a limerick about SQLite."), Vote("", "v1:bob", "bothbad")),
        "rank4": (make_turn(seed=7, n_panes=4, question="Explain beam search to a child."),
                  Vote("", "v1:carol", "ranking", ranking=((0,), (1, 2), (3,)), blind=True)),
        "neardup": (make_turn(seed=8, question=QUESTION.replace("?", "!")), Vote("", "v1:dave", "a")),
        "long": (make_turn(seed=9, question="Summarise the plot of Hamlet.", outputs=("x" * 300, "y" * 100)),
                 Vote("", "v1:dave", "a")),
    }
    for turn, vote in turns.values():  # votes are read oldest first: `same` is kept before `neardup`
        turn_id = save_turn(s, turn)
        record_vote(s, Vote(turn_id, vote.user_id, vote.kind, vote.ranking, vote.blind))
    yield s
    s.close()


def run(store: Store, tmp_path: Path, kind: str = "dpo", fmt: str = "jsonl", **options) -> tuple[list[dict], dict]:
    path = tmp_path / f"{kind}.{fmt}"
    report = export_dataset(store, path, kind=kind, fmt=fmt, options=ExportOptions(**options), tool_roles=ROLES)
    rows = load_dataset("json" if fmt == "jsonl" else "parquet", data_files=str(path), split="train",
                        cache_dir=str(tmp_path / "hf-cache")).to_list()
    assert len(rows) == report.rows
    return rows, {"votes": report.votes, **report.dropped}


@pytest.mark.parametrize(
    ("options", "kept", "dropped"),
    [
        ({}, 9, {"mixed_context": 1, "identical": 1, "tie": 2, "both_bad": 1}),
        ({"blind_only": True}, 6, {"not_blind": 7, "tie": 1}),
        ({"exclude_raters": ("v1:carol",)}, 4, {"excluded_rater": 7, "identical": 1, "tie": 1, "both_bad": 1}),
        ({"min_rank_margin": 2}, 1, {"mixed_context": 1, "identical": 1, "tie": 2, "both_bad": 1, "rank_margin": 8}),
        ({"max_length_ratio": 2.0}, 8,
         {"mixed_context": 1, "identical": 1, "tie": 2, "both_bad": 1, "length_ratio": 1}),
        ({"dedup_threshold": 0.8}, 8,
         {"mixed_context": 1, "identical": 1, "tie": 2, "both_bad": 1, "near_duplicate": 1}),
        ({"same_context_only": False}, 10, {"identical": 1, "tie": 2, "both_bad": 1}),
        # the store reads only turns with a pane on the backend (rank4), then pairs without it are left out
        ({"backends": ("hermes-405b",)}, 3, {"votes": 1, "tie": 1, "backend": 2}),
    ],
)
def test_each_control_keeps_and_drops_the_hand_counted_pairs(store, tmp_path, options, kept, dropped):
    rows, counts = run(store, tmp_path, **options)
    assert len(rows) == kept
    assert counts == {"votes": 9, **dropped}


def test_near_duplicate_keeps_the_earlier_vote(store, tmp_path):
    rows, _ = run(store, tmp_path, dedup_threshold=0.8)
    asked = [r["prompt"][-1]["content"] for r in rows]
    assert QUESTION in asked and QUESTION.replace("?", "!") not in asked
    rows, _ = run(store, tmp_path, dedup_threshold=0.98)  # a stricter threshold keeps both
    assert len(rows) == 9


def test_mixed_context_pairs_are_their_own_export(store, tmp_path):
    rows, counts = run(store, tmp_path, kind="dpo-mixed-context", fmt="parquet")
    (row,) = rows
    assert "prompt" not in row and row["prompt_chosen"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in row["prompt_rejected"]] == ["user"] and row["rater"] == "v1:carol"
    assert counts == {"votes": 9, "same_context": 10, "tie": 2, "both_bad": 1}


def test_tool_rows_hold_the_whole_turn_in_each_backends_role(store, tmp_path):
    rows, _ = run(store, tmp_path, fmt="parquet", modes=("tools",))
    (row,) = rows
    assert (row["chosen_backend"], row["rejected_backend"]) == ("hermes-8b", "hermes-3b")
    assert [m["role"] for m in row["chosen"]] == ["assistant", "tool", "assistant"]
    assert [m["role"] for m in row["rejected"]] == ["assistant", "user", "assistant"]
    assert row["rejected"][1]["content"].startswith("<tool_response>\n{")
    assert row["chosen"][-1]["content"].startswith("It is 12")
    assert row["chosen_config"].startswith("hermes-8b · custom-") and row["chosen_config"].endswith(" · tools")
    assert json.loads(row["sampling"])["seed"] == 2 and row["chosen_tokens"] > 0
    assert row["timestamp"] > row["turn_timestamp"]


def is_conversational(example: dict) -> bool:
    """TRL's ``data_utils.is_conversational`` (trl 1.x), restated: trl itself needs torch and transformers."""
    keys = ["prompt", "chosen", "rejected", "completion", "messages"]
    present = [k for k in example if k in keys]
    if present:
        value = example[present[0]]
        if isinstance(value, list) and value and isinstance(value[0], dict) and {"role", "content"} <= set(value[0]):
            return True
    return False


def test_dpo_rows_are_trl_explicit_prompt_conversational(store, tmp_path):
    rows, _ = run(store, tmp_path, fmt="parquet")
    for row in rows:
        assert is_conversational(row) and is_conversational({"chosen": row["chosen"]})
        for key in ("prompt", "chosen", "rejected"):
            assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in row[key])
        assert row["prompt"][-1]["role"] in ("user", "tool") and row["chosen"][0]["role"] == "assistant"
        assert row["chosen"] != row["rejected"]


def test_card_states_format_filters_and_counts(store, tmp_path):
    path = tmp_path / "dpo.jsonl"
    report = export_dataset(store, path, options=ExportOptions(min_rank_margin=2, dedup_threshold=0.8))
    card = report.card_path.read_text(encoding="utf-8")
    assert report.card_path == tmp_path / "dpo.README.md"
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["configs"] == [{"config_name": "dpo", "data_files": [{"split": "train", "path": "dpo.jsonl"}],
                                "default": True}]
    stats = meta["hermes_playground"]["dpo"]
    assert stats["rows"] == 1 and stats["votes"] == 9
    assert stats["dropped"] == {"mixed_context": 1, "identical": 1, "tie": 2, "both_bad": 1, "rank_margin": 8}
    assert stats["options"]["min_rank_margin"] == 2 and stats["options"]["dedup_threshold"] == 0.8
    assert "- rows kept: 1" in card and "`rank_margin`: 8" in card and "TRL conversational preference format" in card


def test_cli_flags_end_to_end(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(hide_password=False)
    raters = tmp_path / "flagged.txt"
    raters.write_text("v1:carol\n", encoding="utf-8")
    backends = tmp_path / "backends.toml"
    backends.write_text('[[backends]]\nid = "hermes-3b"\ntool_response_role = "user"\n', encoding="utf-8")
    out = tmp_path / "cli" / "dpo.parquet"
    argv = ["--db", url, "--format", "parquet", "--out", str(out), "--exclude-raters-file", str(raters),
            "--max-length-ratio", "2", "--dedup-threshold", "0.8", "--backends-file", str(backends)]
    assert cli_main(argv) == 0
    rows = load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c")).to_list()
    assert len(rows) == 2  # same, tools (neardup and long dropped; carol excluded)
    tools = next(r for r in rows if r["mode"] == "tools")
    assert [m["role"] for m in tools["rejected"]] == ["assistant", "user", "assistant"]
    err = capsys.readouterr().err
    assert all(part in err for part in ("wrote 2 dpo rows", "excluded_rater 7", "near_duplicate 1", "length_ratio 1"))
    assert (tmp_path / "cli" / "dpo.README.md").exists()

    mixed = tmp_path / "mixed.jsonl"
    assert cli_main(["--db", url, "--kind", "dpo-mixed-context", "--out", str(mixed)]) == 0
    assert len(mixed.read_text().splitlines()) == 1
    assert cli_main(["--db", url, "--out", str(mixed), "--all-contexts", "--min-rank-margin", "2"]) == 0
    assert len(mixed.read_text().splitlines()) == 1  # rank4's first-to-last pair
    battles = tmp_path / "battles.jsonl"
    assert cli_main(["--db", url, "--kind", "battles", "--drop-ties", "--blind-only", "--out", str(battles)]) == 0
    assert len(battles.read_text().splitlines()) == 6  # same 1 + rank4's 5 strict
    with pytest.raises(SystemExit):
        cli_main(["--db", url, "--out", str(mixed), "--max-length-ratio", "0.5"])
    assert "length ratio 0.5 must be ≥ 1" in capsys.readouterr().err
