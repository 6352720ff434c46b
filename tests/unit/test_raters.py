"""Rater quality: Cohen's kappa against hand-computed values, the consensus, and the outlier test on
simulated careful raters and random clickers (known answers, fixed seeds)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from playground.store.db import open_store, record_vote, save_turn
from playground.store.raters import (
    BATTLE_COLUMNS,
    canonical,
    cohen_kappa,
    consensus_outcomes,
    flagged_raters,
    kappa_by_rater,
    outlier_test,
    rater_battles,
    rater_quality,
)
from playground.store.rechecks import PendingRecheck, record_recheck
from playground.store.synthetic import make_turn
from playground.types import Vote

STRENGTH = {"m405b": 1200.0, "m70b": 1100.0, "m8b": 1000.0, "m3b": 850.0, "m1b": 750.0}


def simulate(seed: int, careful: int = 30, random_clickers: int = 6, votes_each: int = 60,
             tie_rate: float = 0.1) -> tuple[pd.DataFrame, set[str]]:
    """Pairwise outcomes of careful raters (Bradley-Terry on STRENGTH, some ties) and random clickers
    (a, b, tie, both bad with equal chance) on random pairs in random order. Returns (battles, the clickers)."""
    rng = np.random.default_rng(seed)
    models = list(STRENGTH)
    rows, clickers = [], set()
    for r in range(careful + random_clickers):
        rater = f"v1:rater{r}"
        is_random = r >= careful
        if is_random:
            clickers.add(rater)
        for _ in range(votes_each):
            i, j = rng.choice(len(models), 2, replace=False)
            a, b = models[i], models[j]
            if is_random:
                outcome = ("a", "b", "tie", "tie")[rng.integers(4)]
            elif rng.random() < tie_rate:
                outcome = "tie"
            else:
                p_a = 1 / (1 + 10 ** ((STRENGTH[b] - STRENGTH[a]) / 400))
                outcome = "a" if rng.random() < p_a else "b"
            rows.append((rater, a, b, outcome))  # a: the pane shown first
    return pd.DataFrame(rows, columns=BATTLE_COLUMNS), clickers


def test_kappa_matches_hand_computed_values():
    # p_o = 3/4; p_e = .5*.75 + .5*.25 = .5  ->  (0.75 - 0.5) / 0.5
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "a", "b", "a"]) == pytest.approx(0.5)
    # p_o = 3/4; p_e = .5*.75 + .25*.25 + .25*0 = .4375  ->  0.3125 / 0.5625
    assert cohen_kappa(["a", "b", "tie", "a"], ["a", "b", "a", "a"]) == pytest.approx(0.3125 / 0.5625)
    # complete disagreement on a balanced pair: p_o = 0, p_e = .5  ->  -1
    assert cohen_kappa(["a", "b", "a", "b"], ["b", "a", "b", "a"]) == pytest.approx(-1.0)
    assert cohen_kappa(["tie", "a", "b"], ["tie", "a", "b"]) == pytest.approx(1.0)


def test_kappa_is_undefined_when_chance_agreement_is_certain_or_there_is_nothing():
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))
    assert math.isnan(cohen_kappa([], []))


def test_outcomes_are_put_in_sorted_model_order():
    assert canonical("zeta", "alpha", "a") == ("alpha", "zeta", "b")
    assert canonical("zeta", "alpha", "tie") == ("alpha", "zeta", "tie")
    assert canonical("alpha", "zeta", "b") == ("alpha", "zeta", "b")


def test_consensus_is_given_in_each_rows_own_pane_order():
    frame = pd.DataFrame([("r1", "y", "x", "a"), ("r2", "x", "y", "b"), ("r3", "x", "y", "b")], columns=BATTLE_COLUMNS)
    # everyone prefers y; r1 saw y first, so for r1 the consensus is "a"
    assert list(consensus_outcomes(frame)) == ["a", "b", "b"]


def test_consensus_is_the_majority_of_the_other_raters_only():
    frame = pd.DataFrame([
        ("r1", "x", "y", "a"), ("r1", "x", "y", "a"), ("r1", "x", "y", "a"),  # r1 alone would outvote the others
        ("r2", "x", "y", "b"), ("r3", "x", "y", "b"),
        ("r2", "x", "z", "a"), ("r3", "x", "z", "b"),  # a 1:1 split: no consensus for r1 there
        ("r1", "x", "z", "a"),
    ], columns=BATTLE_COLUMNS)
    consensus = consensus_outcomes(frame)
    assert list(consensus[:3]) == ["b", "b", "b"]
    assert consensus[3] == "a", "for r2 the others on x-y are r1 (a, a, a) and r3 (b): majority a"
    assert consensus[7] is None
    kappas = kappa_by_rater(frame)
    # r1 = a a a, consensus = b b b: p_o = 0, p_e = 1*0 + 0*1 = 0  ->  0
    assert kappas.loc["r1", "compared"] == 3 and kappas.loc["r1", "kappa"] == pytest.approx(0.0)


def test_kappa_per_rater_on_a_small_panel():
    frame = pd.DataFrame([
        ("r1", "x", "y", "a"), ("r1", "y", "z", "b"), ("r1", "x", "z", "a"), ("r1", "w", "x", "b"),
        ("r2", "x", "y", "a"), ("r2", "y", "z", "b"), ("r2", "x", "z", "b"), ("r2", "w", "x", "b"),
    ], columns=BATTLE_COLUMNS)
    # For r1 the consensus is r2's outcomes: r1 = a b a b, r2 = a b b b -> p_o = .75, p_e = .5*.25 + .5*.75 = .5
    kappas = kappa_by_rater(frame)
    assert kappas.loc["r1", "kappa"] == pytest.approx(0.5) and kappas.loc["r2", "kappa"] == pytest.approx(0.5)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_outlier_test_flags_random_clickers_and_not_careful_raters(seed):
    frame, clickers = simulate(seed)
    result = outlier_test(frame, alpha=0.05, min_votes=10)
    flagged = set(result.index[result["flagged"]])
    careful = set(result.index) - clickers
    assert len(flagged & clickers) >= len(clickers) - 1, result.loc[sorted(clickers)]
    assert len(flagged & careful) <= 1, result.loc[sorted(flagged & careful)]
    assert (result.loc[sorted(careful), "agree"] / result.loc[sorted(careful), "decisive"]).mean() > 0.65
    kappas = kappa_by_rater(frame)["kappa"]
    assert kappas[sorted(careful)].mean() > kappas[sorted(clickers)].mean() + 0.15
    assert abs(kappas[sorted(clickers)].mean()) < 0.1, "a random clicker agrees with the consensus by chance only"


def test_too_few_votes_are_never_flagged():
    frame, clickers = simulate(seed=4, careful=10, random_clickers=2, votes_each=8)
    result = outlier_test(frame, min_votes=10)
    assert (result["decisive"] < 10).all() and not result["flagged"].any()


def test_rater_quality_from_a_store_with_rechecks():
    store = open_store("sqlite://")
    rng = np.random.default_rng(7)
    pairs = [(("hermes-405b", "big"), ("hermes-3b", "small")), (("hermes-3b", "small"), ("hermes-405b", "big"))]
    votes: dict[str, list[Vote]] = {}
    for k in range(120):
        rater = f"v1:r{k % 4}"  # r0..r2 prefer the big model 90% of the time; r3 clicks at random
        models = pairs[(k // 4) % 2]  # each rater sees the big model first half the time
        turn_id = save_turn(store, make_turn(seed=k, models=models))
        big_is_a = models[0][1] == "big"
        prefers_big = rng.random() < 0.9 if rater != "v1:r3" else rng.random() < 0.5
        kind = "a" if prefers_big == big_is_a else "b"
        votes.setdefault(rater, []).append(record_vote(store, Vote(turn_id, rater, kind)))
    for vote in votes["v1:r0"][:4]:
        pending = PendingRecheck(vote.id, vote.turn_id, "v1:r0", vote.kind, (1, 0), vote.updated_at)
        record_recheck(store, pending, "a" if vote.kind == "b" else "b")  # the same judgement, swapped
    assert len(rater_battles(store)) == 120
    quality = rater_quality(store, min_votes=10)
    assert flagged_raters(store, min_votes=10) == {"v1:r3"} and quality.index[0] == "v1:r3"
    assert quality.loc["v1:r0", "rechecks"] == 4 and quality.loc["v1:r0", "self_consistency"] == 1.0
    assert quality.loc["v1:r1", "rechecks"] == 0 and quality.loc["v1:r0", "kappa"] > 0.5
