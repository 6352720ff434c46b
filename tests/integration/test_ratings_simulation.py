"""Known-answer simulation: raters with known model strengths, a length bias and random clickers.

The votes go through a real SQLite store (in memory: the fit, not fsync, is under test here)
and out again as battles; the style-controlled fit must recover the true order that the plain
fit gets wrong, and over repeated simulations its 95% intervals must cover the truth about
95% of the time. Seeds are fixed, so every run draws the same votes.
"""

from __future__ import annotations

import pandas as pd
import pytest

from playground.store.arena import battle_frame, position_bias, slice_battles, stored_battles
from playground.store.db import VotedTurn, VoteFilter, open_store, record_vote, save_turn
from playground.store.ratings import leaderboard
from playground.store.style_control import style_controlled_leaderboard
from tests.support.arena_sim import TRUTH, SimulatedArena, simulate_arena

COVERAGE_RUNS = 20


def centred(truth: dict[str, float]) -> pd.Series:
    t = pd.Series(truth)
    return t - t.mean() + 1000  # ratings are identified up to a shift; fits centre at 1000


@pytest.fixture(scope="module")
def stored() -> tuple[SimulatedArena, pd.DataFrame]:
    sim = simulate_arena(1200, seed=11)
    store = open_store("sqlite://")
    for turn, vote in zip(sim.turns, sim.votes, strict=True):
        save_turn(store, turn)
        record_vote(store, vote)
    return sim, stored_battles(store, VoteFilter(blind_only=True))


def test_style_control_recovers_the_true_order_that_length_bias_distorts(stored):
    sim, battles = stored
    assert len(battles) == len(sim.votes)
    plain = leaderboard(battles, rounds=100)
    styled = style_controlled_leaderboard(battles, rounds=100)
    # the weak, verbose 8B tops the plain board; with style control every model is back in its place
    assert plain.index[0] == "hermes-8b" and list(plain.index) != list(TRUTH)
    assert list(styled.board.index) == list(TRUTH)
    assert plain.loc["hermes-8b", "rating"] - styled.board.loc["hermes-8b", "rating"] > 80
    # the length effect is found and positive; the markdown no rater cared about is near zero
    length = styled.style.loc["length"]
    assert length["lower"] > 0
    for feature in ("lists", "bold"):
        assert abs(styled.style.loc[feature, "coef"]) < 0.25 * length["coef"]


def test_no_position_bias_is_reported_when_raters_have_none_and_a_left_bias_is_found(stored):
    _, battles = stored
    fair = position_bias(battles)
    assert fair.decisive == len(battles) and fair.low < 0.5 < fair.high
    sim = simulate_arena(800, seed=12, left_bias=0.5, random_share=0.0)
    biased = position_bias(battle_frame(VotedTurn(v, t) for v, t in zip(sim.votes, sim.turns, strict=True)))
    assert biased.low > 0.55  # true left win rate with this bias is about 0.62


def test_each_simulated_prompt_lands_in_its_category_slice(stored):
    _, battles = stored
    counts = battles["category"].value_counts()
    assert set(counts.index) == {"other", "coding", "math", "creative/roleplay", "reasoning"}
    assert len(slice_battles(battles, "category: math")) == counts["math"] == len(battles) // 5
    assert len(slice_battles(battles, "mode: chat")) == len(battles)


def test_style_controlled_intervals_cover_the_truth_at_their_stated_rate():
    """Over repeated simulations, with the random clickers' votes left out as the outlier test would."""
    covered = total = recovered = 0
    for run in range(COVERAGE_RUNS):
        sim = simulate_arena(600, seed=1000 + run)
        battles = battle_frame(VotedTurn(v, t) for v, t in zip(sim.votes, sim.turns, strict=True))
        careful = battles[~battles["judge"].isin(sim.random_raters)]
        board = style_controlled_leaderboard(careful, rounds=100, seed=run).board
        truth = centred(sim.truth)[board.index]
        covered += int(((board["lower"] <= truth) & (truth <= board["upper"])).sum())
        total += len(board)
        recovered += list(board.index) == list(TRUTH)
    coverage = covered / total
    print(f"95% intervals covered the truth {covered}/{total} = {coverage:.1%}; "
          f"order recovered {recovered}/{COVERAGE_RUNS}")
    assert 0.85 <= coverage <= 1.0
    assert recovered >= COVERAGE_RUNS * 0.7
