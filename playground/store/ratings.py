"""Leaderboard maths: Bradley-Terry ratings with bootstrap intervals, win-rate matrices.

Input is a battles table (``model_a``, ``model_b``, ``winner`` as exported, see
PROTOCOLS.md §6). Ties — ``tie`` and ``tie (bothbad)`` — count half a win to each side.
Ratings are on the arena scale ``400·r + 1000`` where ``r`` is a base-10 log strength,
so a 400-point gap means 10:1 odds. Battles of a model against itself are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

SCALE = 400.0
BASE = 1000.0
_LN10 = np.log(10.0)


def battles_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Keep ``model_a``, ``model_b``, ``winner`` and drop self-battles.

    Example:
        >>> battles_frame([{"model_a": "x", "model_b": "x", "winner": "tie"}]).shape
        (0, 3)
    """
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=["model_a", "model_b", "winner"])
    df = df.loc[df["model_a"] != df["model_b"], ["model_a", "model_b", "winner"]]
    return df.reset_index(drop=True)


def _encode(df: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    models = sorted(set(df["model_a"]) | set(df["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    a = df["model_a"].map(index).to_numpy(dtype=np.int64)
    b = df["model_b"].map(index).to_numpy(dtype=np.int64)
    return models, a, b, outcome_scores(df["winner"])


def outcome_scores(winner: pd.Series) -> np.ndarray:
    """1 when side a won, 0 when side b won, ½ for any tie.

    Example:
        >>> outcome_scores(pd.Series(["model_a", "model_b", "tie (bothbad)"])).tolist()
        [1.0, 0.0, 0.5]
    """
    w = winner.to_numpy()
    return np.where(w == "model_a", 1.0, np.where(w == "model_b", 0.0, 0.5))


def _fit(n: int, a: np.ndarray, b: np.ndarray, score: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    """Natural-log strengths maximising the tie-as-half Bradley-Terry likelihood.

    Battles are first collapsed to one weighted row per ordered pair. A tiny ridge
    (1e-6) keeps the optimum finite when a model never lost; strengths are centred.
    """
    # imported here: scipy adds ~38 MB to every app process and only the Leaderboard tab fits ratings
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    pair = a * n + b
    wins = np.bincount(pair, weights=score, minlength=n * n)
    games = np.bincount(pair, minlength=n * n).astype(float)
    keep = games > 0
    idx = np.flatnonzero(keep)
    pa_, pb_, w, g = idx // n, idx % n, wins[keep], games[keep]
    ridge = 1e-6

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[pa_] - theta[pb_]
        nll = -(w * log_expit(d) + (g - w) * log_expit(-d)).sum() + ridge * theta @ theta
        resid = g * expit(d) - w  # d(nll)/dd
        grad = np.bincount(pa_, weights=resid, minlength=n) - np.bincount(pb_, weights=resid, minlength=n)
        return float(nll), grad + 2 * ridge * theta

    def hessian(theta: np.ndarray) -> np.ndarray:
        d = theta[pa_] - theta[pb_]
        w = g * expit(d) * expit(-d)
        pairs = np.bincount(pa_ * n + pb_, weights=w, minlength=n * n).reshape(n, n)
        return np.diag(pairs.sum(axis=0) + pairs.sum(axis=1)) - pairs - pairs.T + 2 * ridge * np.eye(n)

    # Newton steps (exact trust region): n is small, and this is several times faster than L-BFGS-B per fit
    res = minimize(loss, np.zeros(n) if x0 is None else x0, jac=True, hess=hessian, method="trust-exact")
    theta = res.x
    return theta - theta.mean()


def fit_bradley_terry(battles: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.Series:
    """Maximum-likelihood Bradley-Terry ratings on the arena scale, best first.

    Example:
        >>> rows = [{"model_a": "x", "model_b": "y", "winner": "model_a"}] * 3
        >>> rows += [{"model_a": "x", "model_b": "y", "winner": "model_b"}]
        >>> r = fit_bradley_terry(rows)
        >>> round(r["x"] - r["y"])  # 3:1 odds
        191
    """
    df = battles_frame(battles)
    if df.empty:
        return pd.Series(dtype=float, name="rating")
    models, a, b, score = _encode(df)
    theta = _fit(len(models), a, b, score)
    return pd.Series(SCALE * theta / _LN10 + BASE, index=models, name="rating").sort_values(ascending=False)


def leaderboard(
    battles: Iterable[Mapping[str, Any]] | pd.DataFrame, *, rounds: int = 200, seed: int = 0, alpha: float = 0.05
) -> pd.DataFrame:
    """Ratings with bootstrap confidence intervals and arena ranks.

    Args:
        battles: rows with ``model_a``, ``model_b``, ``winner``.
        rounds: bootstrap resamples of the battles (at least 100).
        seed: seed for the resampling, so a leaderboard is reproducible.
        alpha: 0.05 gives 95% intervals.

    Returns:
        A frame indexed by model with ``rating``, ``lower``, ``upper``, ``rank`` (1 + the
        number of models whose lower bound is above this model's upper bound) and
        ``battles``, sorted by rating.

    Raises:
        ValueError: fewer than 100 rounds.
    """
    if rounds < 100:
        raise ValueError(f"rounds={rounds}: use at least 100 bootstrap resamples for a 95% interval")
    df = battles_frame(battles)
    columns = ["rating", "lower", "upper", "rank", "battles"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    models, a, b, score = _encode(df)
    n = len(models)
    theta = _fit(n, a, b, score)
    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, n))
    for k in range(rounds):
        pick = rng.integers(0, len(df), len(df))
        samples[k] = _fit(n, a[pick], b[pick], score[pick], x0=theta)
    return rating_table(models, theta, samples, np.bincount(a, minlength=n) + np.bincount(b, minlength=n), alpha)


def rating_table(models: list[str], theta: np.ndarray, samples: np.ndarray, battles: np.ndarray,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Arena-scale ``rating``, percentile ``lower``/``upper``, ``rank`` and ``battles`` per model, best first.

    ``theta`` are natural-log strengths, ``samples`` their bootstrap refits (one row per round).

    Example:
        >>> t = rating_table(["x", "y"], np.array([0.5, -0.5]), np.array([[0.4, -0.4], [0.6, -0.6]]), np.array([9, 9]))
        >>> t["rank"].tolist(), round(t.loc["x", "rating"])
        ([1, 2], 1087)
    """
    to_scale = SCALE / _LN10
    lower, upper = np.quantile(samples, [alpha / 2, 1 - alpha / 2], axis=0) * to_scale + BASE
    rank = 1 + (lower[None, :] > upper[:, None]).sum(axis=1)
    out = pd.DataFrame(
        {"rating": theta * to_scale + BASE, "lower": lower, "upper": upper, "rank": rank, "battles": battles},
        index=pd.Index(models, name="model"),
    )
    return out.sort_values("rating", ascending=False)


def win_rate_matrix(battles: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Share of battles the row model won against the column model (ties as ½; NaN if none).

    Example:
        >>> rows = [{"model_a": "x", "model_b": "y", "winner": "model_a"},
        ...         {"model_a": "y", "model_b": "x", "winner": "tie"}]
        >>> win_rate_matrix(rows).loc["x", "y"]
        np.float64(0.75)
    """
    df = battles_frame(battles)
    if df.empty:
        return pd.DataFrame(dtype=float)
    score = outcome_scores(df["winner"])
    both = pd.DataFrame(
        {
            "row": np.concatenate([df["model_a"], df["model_b"]]),
            "col": np.concatenate([df["model_b"], df["model_a"]]),
            "score": np.concatenate([score, 1 - score]),
        }
    )
    matrix = both.pivot_table(index="row", columns="col", values="score", aggfunc="mean")
    order = list(fit_bradley_terry(df).index)
    matrix = matrix.reindex(index=order, columns=order)
    matrix.index.name, matrix.columns.name = "model", "opponent"
    return matrix
