"""Bradley-Terry ratings, bootstrap intervals, ranks and win-rate matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playground.store.ratings import fit_bradley_terry, leaderboard, win_rate_matrix

TRUTH = {"m405b": 1200.0, "m70b": 1100.0, "m8b": 1000.0, "m3b": 850.0, "mtiny": 850.0}


def synthetic_battles(n: int, seed: int) -> pd.DataFrame:
    """Battles drawn from known arena-scale ratings (P(a wins) = 1 / (1 + 10^((Rb - Ra) / 400)))."""
    rng = np.random.default_rng(seed)
    models = list(TRUTH)
    a = rng.integers(0, len(models), n)
    b = (a + rng.integers(1, len(models), n)) % len(models)
    ra, rb = np.array([TRUTH[models[i]] for i in a]), np.array([TRUTH[models[i]] for i in b])
    a_wins = rng.random(n) < 1 / (1 + 10 ** ((rb - ra) / 400))
    return pd.DataFrame(
        {
            "model_a": [models[i] for i in a],
            "model_b": [models[i] for i in b],
            "winner": np.where(a_wins, "model_a", "model_b"),
        }
    )


def centred_truth() -> pd.Series:
    t = pd.Series(TRUTH)
    return t - t.mean() + 1000  # BT is identified up to a shift; the fit centres at 1000


def test_ratings_recover_the_ordering_and_intervals_contain_the_truth():
    board = leaderboard(synthetic_battles(6000, seed=1), rounds=100, seed=0)
    truth = centred_truth()
    assert list(board.index[:3]) == ["m405b", "m70b", "m8b"]
    assert set(board.index[3:]) == {"m3b", "mtiny"}
    assert ((board["rating"] - truth[board.index]).abs() < 40).all()
    assert ((board["lower"] <= truth[board.index]) & (truth[board.index] <= board["upper"])).all()
    assert (board["lower"] < board["rating"]).all() and (board["rating"] < board["upper"]).all()


def test_rank_counts_models_whose_lower_bound_is_above_the_upper_bound():
    board = leaderboard(synthetic_battles(6000, seed=2), rounds=100, seed=0)
    assert board.loc["m405b", "rank"] == 1
    # the two equal models overlap, so they share a rank
    assert board.loc["m3b", "rank"] == board.loc["mtiny", "rank"]
    for model in board.index:
        assert board.loc[model, "rank"] == 1 + (board["lower"] > board.loc[model, "upper"]).sum()


def test_bootstrap_is_seeded():
    battles = synthetic_battles(500, seed=3)
    pd.testing.assert_frame_equal(leaderboard(battles, seed=7), leaderboard(battles, seed=7))


def test_ties_count_half_a_win():
    win_loss = [{"model_a": "x", "model_b": "y", "winner": "model_a"},
                {"model_a": "x", "model_b": "y", "winner": "model_b"}]
    ties = [{"model_a": "x", "model_b": "y", "winner": "tie"},
            {"model_a": "y", "model_b": "x", "winner": "tie (bothbad)"}]
    extra = [{"model_a": "x", "model_b": "y", "winner": "model_a"}] * 2
    assert fit_bradley_terry(win_loss + extra).round(6).equals(fit_bradley_terry(ties + extra).round(6))


def test_three_to_one_record_is_a_191_point_gap():
    rows = [{"model_a": "x", "model_b": "y", "winner": "model_a"}] * 3 + [
        {"model_a": "y", "model_b": "x", "winner": "model_a"}]
    r = fit_bradley_terry(rows)
    assert r["x"] - r["y"] == pytest.approx(400 * np.log10(3), abs=0.5)
    assert r.mean() == pytest.approx(1000)


def test_self_battles_are_ignored_and_empty_input_is_empty():
    assert fit_bradley_terry([{"model_a": "x", "model_b": "x", "winner": "model_a"}]).empty
    assert leaderboard([]).empty and win_rate_matrix([]).empty


def test_too_few_bootstrap_rounds_is_refused():
    with pytest.raises(ValueError, match="at least 100"):
        leaderboard(synthetic_battles(10, seed=0), rounds=50)


def test_win_rate_matrix_is_complementary_and_ordered_by_rating():
    m = win_rate_matrix(synthetic_battles(3000, seed=4))
    assert list(m.index) == list(m.columns) and m.index[0] == "m405b"
    assert np.isnan(m.loc["m8b", "m8b"])
    assert m.loc["m405b", "m3b"] + m.loc["m3b", "m405b"] == pytest.approx(1)
    assert m.loc["m405b", "m3b"] > 0.8
