"""Judge calibration and the judge's exports on a real SQLite store, every figure worked out by hand.

Seven turns, judged by ``big`` with prompt ``pw@1`` (one turn per line: human votes, the judge's
two orders, the replies' lengths in characters)::

    T1 chat   alice a, bob b   judge a,a -> a            20 vs 5
    T2 chat   alice b          judge a,a -> a            4 vs 10      (question: maths)
    T3 chat   alice tie        judge b,b -> b            3 vs 8
    T4 json   bob a            judge a,b -> inconsistent (a tie for agreement)
    T5 json   bob b            judge b,b -> b            5 vs 12
    T6 chat, 3 panes, carol ranks C > A = B:
              (A,B) tie        judge error (left out)
              (A,C) b          judge b,b -> b            6 vs 9
              (B,C) b          judged as (C,B): a,a -> C won   6 vs 9
    T7 chat   no vote          judge tie,tie -> tie

Calibration items (human, judge): T1 (a,a) (b,a); T2 (b,a); T3 (tie,b); T4 (a,tie); T5 (b,b);
T6 (b,b) (b,b). With ties: 4 of 8 agree. Kappa: human a 2/8, b 5/8, tie 1/8; judge a 3/8, b 4/8,
tie 1/8; chance 27/64, so (32/64 − 27/64) / (37/64) = 5/37. Without ties (both decisive): T1×2,
T2, T5, T6×2: 4 of 6; chance ½ (judge a 3, b 3), kappa (2/3 − ½)/½ = 1/3. Consistency: 9
judgements, 1 error, 7 of 8 consistent. Judge's length bias over T1 T2 T3 T5 T6×2: longer won
5 of 6 (Wilson 95%: 43.6%–97.0%). By mode: chat 3 of 6 (decisive 3 of 5), JSON 1 of 2 (1 of 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from playground.export import main as cli_main
from playground.store.calibration import calibrate, judge_choices
from playground.store.db import Store, open_store, record_vote, save_turn
from playground.store.export import export_dataset
from playground.store.judgements import Judgement, save_judgement
from playground.store.quality import ExportOptions
from playground.store.synthetic import make_turn
from playground.types import Vote

JUDGE, VERSION = "big", "pw@1"


@dataclass
class Fixture:
    store: Store
    ids: dict[str, str]


def judge(store: Store, turn_id: str, pos_a: int, pos_b: int, ab: str | None, ba: str | None,
          backend: str = JUDGE, version: str = VERSION) -> None:
    save_judgement(store, Judgement(turn_id, pos_a, pos_b, backend, "org/Hermes-3-405B", version, "pairwise", ab, ba,
                                    f"raw {ab}", f"raw {ba}", rationale=f"because {ab}/{ba} on {pos_a}-{pos_b}",
                                    error=None if ab and ba else "unparseable"))


def fill(store: Store) -> dict[str, str]:
    """The seven turns, their votes and judgements of the module docstring; returns turn ids by name."""
    turns = {
        "T1": make_turn(seed=1, outputs=("L" * 20, "s" * 5)),
        "T2": make_turn(seed=2, question="Solve 2 + 2 for me.", outputs=("x" * 4, "y" * 10)),
        "T3": make_turn(seed=3, outputs=("x" * 3, "y" * 8)),
        "T4": make_turn(seed=4, mode="json", outputs=('{"a": 1}', '{"b": 22}')),
        "T5": make_turn(seed=5, mode="json", outputs=("x" * 5, "y" * 12)),
        "T6": make_turn(seed=6, n_panes=3, outputs=("x" * 6, "y" * 6, "z" * 9)),
        "T7": make_turn(seed=7),
    }
    ids = {name: save_turn(store, turn) for name, turn in turns.items()}
    for name, rater, kind, ranking in [("T1", "v1:alice", "a", None), ("T1", "v1:bob", "b", None),
                                       ("T2", "v1:alice", "b", None), ("T3", "v1:alice", "tie", None),
                                       ("T4", "v1:bob", "a", None), ("T5", "v1:bob", "b", None),
                                       ("T6", "v1:carol", "ranking", ((2,), (0, 1)))]:
        record_vote(store, Vote(ids[name], rater, kind, ranking=ranking))
    for name, a, b, ab, ba in [("T1", 0, 1, "a", "a"), ("T2", 0, 1, "a", "a"), ("T3", 0, 1, "b", "b"),
                               ("T4", 0, 1, "a", "b"), ("T5", 0, 1, "b", "b"), ("T6", 0, 1, None, None),
                               ("T6", 0, 2, "b", "b"), ("T6", 2, 1, "a", "a"), ("T7", 0, 1, "tie", "tie")]:
        judge(store, ids[name], a, b, ab, ba)
    judge(store, ids["T1"], 0, 1, "b", "b", version="pw@2")  # another prompt version: never mixed in
    return ids


@pytest.fixture
def world(tmp_path) -> Iterator[Fixture]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield Fixture(store, fill(store))
    store.close()


def test_agreement_kappa_consistency_and_length_bias_match_the_hand_counts(world):
    cal = calibrate(world.store, JUDGE, VERSION, rounds=100)
    a = cal.agreement
    assert (a.items, a.agree, a.rate) == (8, 4, 0.5)
    assert a.kappa == pytest.approx(5 / 37)
    assert (a.decisive, a.decisive_agree) == (6, 4) and a.decisive_rate == pytest.approx(2 / 3)
    assert a.decisive_kappa == pytest.approx(1 / 3)
    c = cal.consistency
    assert (c.judged, c.consistent, c.errors, c.rate) == (8, 7, 1, 0.875)
    b = cal.judge_length
    assert (b.longer_wins, b.decisive) == (5, 6)
    assert b.low == pytest.approx(0.4365, abs=1e-3) and b.high == pytest.approx(0.9700, abs=1e-3)
    h = cal.human_length  # decisive human outcomes of the items: T1 a (longer) b, T2 b (longer), T4 a, T5 b, T6 ×2
    assert (h.longer_wins, h.decisive) == (5, 7)


def test_agreement_by_mode_and_category(world):
    cal = calibrate(world.store, JUDGE, VERSION, rounds=100)
    by_mode = cal.by_mode.set_index("mode")
    assert by_mode.loc["chat", ["items", "agree", "decisive", "decisive_agree"]].tolist() == [6, 3, 5, 3]
    assert by_mode.loc["JSON", ["items", "agree", "decisive", "decisive_agree"]].tolist() == [2, 1, 1, 1]
    by_category = cal.by_category.set_index("category")
    assert by_category.loc["math", ["items", "agree"]].tolist() == [1, 0]
    assert by_category.loc["other", ["items", "agree"]].tolist() == [7, 4]


def test_leaderboards_and_disagreements(world):
    cal = calibrate(world.store, JUDGE, VERSION, rounds=100)
    boards = cal.boards
    assert boards["judge_battles"].sum() == 2 * 7, "consistent verdicts only: T1 T2 T3 T5 T6×2 T7"
    assert boards["human_battles"].sum() == 2 * 9, "every pair of every vote"
    assert set(boards.index) == {"NousResearch/Hermes-3-Llama-3.2-3B", "NousResearch/Hermes-3-Llama-3.1-8B",
                                 "NousResearch/Hermes-3-Llama-3.1-70B"}
    d = cal.disagreements
    ids = world.ids
    assert sorted(zip(d["turn_id"], d["rater"], strict=True)) == sorted([(ids["T1"], "v1:bob"), (ids["T2"], "v1:alice"),
                                                            (ids["T3"], "v1:alice"), (ids["T4"], "v1:bob")])
    t4 = d[d["turn_id"] == ids["T4"]].iloc[0]
    assert (t4["pair"], t4["human"], t4["judge"], t4["final"]) == ("A vs B", "A", "tie", "inconsistent")
    assert t4["rationale"] == "because a/b on 0-1"
    assert [(j.judge_backend, j.prompt_version, j.judgements) for j in judge_choices(world.store)] == [
        (JUDGE, VERSION, 9), (JUDGE, "pw@2", 1)]


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_battles_export_carries_every_judges_verdicts_in_battle_order(world, tmp_path):
    report = export_dataset(world.store, tmp_path / "battles.jsonl", kind="battles")
    rows = {(r["turn_id"], r["model_a"][-3:], r["model_b"][-3:]): r for r in read_jsonl(tmp_path / "battles.jsonl")}
    assert report.rows == 9
    ids = world.ids
    t6_bc = rows[(ids["T6"], "-8B", "70B")]["judge_verdicts"]
    assert t6_bc == [{"judge_backend": JUDGE, "judge_model": "org/Hermes-3-405B", "prompt_version": VERSION,
                      "verdict_ab": "b", "verdict_ba": "b", "final": "b"}], "judged as (C,B): flipped to B vs C"
    assert rows[(ids["T6"], "-3B", "-8B")]["judge_verdicts"][0]["final"] == "error"
    assert [v["prompt_version"] for v in rows[(ids["T1"], "-3B", "-8B")]["judge_verdicts"]] == [VERSION, "pw@2"]
    parquet = export_dataset(world.store, tmp_path / "battles.parquet", kind="battles", fmt="parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "battles.parquet")
    assert parquet.rows == 9 and sum(len(v) for v in table.column("judge_verdicts").to_pylist()) == 11


def test_ai_dpo_holds_only_consistent_decisive_verdicts_marked_as_ai(world, tmp_path):
    report = export_dataset(world.store, tmp_path / "ai.jsonl", kind="ai-dpo",
                            options=ExportOptions(judge=JUDGE, prompt_version=VERSION))
    rows = read_jsonl(tmp_path / "ai.jsonl")
    assert report.rows == 6 and report.judgements == 9 and report.votes == 0
    assert report.dropped == {"judge_error": 1, "inconsistent": 1, "tie": 1}
    assert {r["source"] for r in rows} == {"ai-judge"} and {r["rater"] for r in rows} == {"judge:big"}
    assert {r["judge_model"] for r in rows} == {"org/Hermes-3-405B"} and all(r["judge_rationale"] for r in rows)
    t6_bc = next(r for r in rows if r["turn_id"] == world.ids["T6"] and r["rejected_backend"] == "hermes-8b")
    assert t6_bc["chosen"] == [{"role": "assistant", "content": "z" * 9}]
    t2 = next(r for r in rows if r["turn_id"] == world.ids["T2"])
    assert t2["chosen"][0]["content"] == "x" * 4 and t2["prompt"][-1]["content"] == "Solve 2 + 2 for me."
    card = (tmp_path / "ai.README.md").read_text()
    assert "AI feedback" in card and "not by people" in card and "- judgements read: 9" in card
    meta = yaml.safe_load(card.split("---")[1])
    assert "ai-feedback" in meta["tags"] and meta["hermes_playground"]["ai-dpo"]["judgements"] == 9


def test_ai_dpo_applies_the_human_quality_controls(world, tmp_path):
    report = export_dataset(world.store, tmp_path / "ai.jsonl", kind="ai-dpo",
                            options=ExportOptions(judge=JUDGE, prompt_version=VERSION, max_length_ratio=2))
    assert report.rows == 2 and report.dropped["length_ratio"] == 4, "only T6's 9-vs-6 pairs are within 2×"
    every = export_dataset(world.store, tmp_path / "all.jsonl", kind="ai-dpo", card=False)
    assert every.rows == 7 and every.judgements == 10, "no judge chosen: both prompt versions"


def test_human_dpo_never_holds_ai_pairs_unless_asked(world, tmp_path):
    human = export_dataset(world.store, tmp_path / "dpo.jsonl", kind="dpo")
    rows = read_jsonl(tmp_path / "dpo.jsonl")
    assert human.rows == len(rows) == 7 and {r["source"] for r in rows} == {"human"}
    assert all(not r["rater"].startswith("judge:") for r in rows)
    assert "AI feedback" not in (tmp_path / "dpo.README.md").read_text()
    mixed = export_dataset(world.store, tmp_path / "mixed.jsonl", kind="ai-dpo",
                           options=ExportOptions(judge=JUDGE, prompt_version=VERSION, with_human=True))
    sources = [r["source"] for r in read_jsonl(tmp_path / "mixed.jsonl")]
    assert mixed.rows == 13 and sources.count("human") == 7 and sources.count("ai-judge") == 6
    assert mixed.votes == 7 and mixed.options.with_human


def test_cli_exports_ai_dpo_apart(world, tmp_path, capsys):
    url = str(world.store.engine.url)
    out = tmp_path / "cli.jsonl"
    assert cli_main(["--db", url, "--kind", "ai-dpo", "--judge", JUDGE, "--prompt-version", VERSION,
                     "--out", str(out)]) == 0
    assert len(read_jsonl(out)) == 6 and "from 0 votes and 9 judgements" in capsys.readouterr().err
