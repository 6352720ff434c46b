"""Style-controlled Bradley–Terry ratings, as FastChat's ``compute_style_control``.

A logistic regression on the model-indicator difference (``+1`` for side a, ``−1`` for
side b) plus the *normalised* difference of each style feature: for a feature with values
``fa``, ``fb`` the column is ``(fa − fb) / (fa + fb + 1)``, then z-scored over the battles.
The model coefficients are ratings with the style effects removed; each style coefficient
is the log-odds a side gains per standard deviation of that feature. Ties count ½.

The likelihood is hand-written and minimised by scipy (as ``ratings._fit``): ties need
fractional targets, and scikit-learn or statsmodels would add a heavy dependency for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from playground.store.ratings import SCALE, outcome_scores, rating_table

STYLE_FEATURES: tuple[str, ...] = ("length", "headers", "lists", "bold")
"""Characters of the assistant's answer, then counts of markdown headers, list items, bold spans."""

_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
_RIDGE = 1e-6


def style_features(answer: str) -> dict[str, int]:
    """Length in characters and markdown counts of one answer (code blocks ignored for markdown).

    Characters, not tokens: the panes run models with different tokenizers, and characters
    compare the same everywhere.

    Example:
        >>> style_features("# Plan\\n- **one**\\n- two\\n```\\n# not a header\\n```")
        {'length': 45, 'headers': 1, 'lists': 2, 'bold': 1}
    """
    prose = _CODE_BLOCK.sub("", answer)
    return {
        "length": len(answer),
        "headers": len(_HEADER.findall(prose)),
        "lists": len(_LIST_ITEM.findall(prose)),
        "bold": len(_BOLD.findall(prose)),
    }


def style_matrix(battles: pd.DataFrame) -> np.ndarray:
    """One row per battle: ``(fa − fb) / (fa + fb + 1)`` per feature, z-scored (a constant column stays 0).

    ``battles`` holds ``<feature>_a`` and ``<feature>_b`` columns for every ``STYLE_FEATURES`` name.
    """
    fa = battles[[f"{f}_a" for f in STYLE_FEATURES]].to_numpy(dtype=float)
    fb = battles[[f"{f}_b" for f in STYLE_FEATURES]].to_numpy(dtype=float)
    diff = (fa - fb) / (fa + fb + 1.0)
    std = diff.std(axis=0)
    return (diff - diff.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _fit(n: int, a: np.ndarray, b: np.ndarray, x: np.ndarray, score: np.ndarray,
         start: np.ndarray | None = None) -> np.ndarray:
    """Model strengths (natural log, centred) followed by style coefficients, maximising the likelihood.

    Newton steps in scipy's exact trust-region solver: the Hessian has only models + features
    rows, and this converges in a few steps where L-BFGS-B took ten times longer per bootstrap fit.
    """
    from scipy.optimize import minimize  # imported here like ratings._fit: only the Leaderboard tab fits
    from scipy.special import expit, log_expit

    k = x.shape[1]
    pair = a * n + b

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, beta = params[:n], params[n:]
        logit = theta[a] - theta[b] + x @ beta
        nll = -(score * log_expit(logit) + (1 - score) * log_expit(-logit)).sum() + _RIDGE * params @ params
        resid = expit(logit) - score
        grad_theta = np.bincount(a, weights=resid, minlength=n) - np.bincount(b, weights=resid, minlength=n)
        return float(nll), np.concatenate([grad_theta, x.T @ resid]) + 2 * _RIDGE * params

    def hessian(params: np.ndarray) -> np.ndarray:
        p = expit(params[:n][a] - params[:n][b] + x @ params[n:])
        w = p * (1 - p)
        pairs = np.bincount(pair, weights=w, minlength=n * n).reshape(n, n)
        wx = w[:, None] * x
        cross = np.stack([np.bincount(a, wx[:, j], n) - np.bincount(b, wx[:, j], n) for j in range(k)], axis=1)
        h = np.empty((n + k, n + k))
        h[:n, :n] = np.diag(pairs.sum(axis=0) + pairs.sum(axis=1)) - pairs - pairs.T
        h[:n, n:], h[n:, :n], h[n:, n:] = cross, cross.T, x.T @ wx
        return h + 2 * _RIDGE * np.eye(n + k)

    x0 = np.zeros(n + k) if start is None else start
    params = minimize(loss, x0, jac=True, hess=hessian, method="trust-exact").x
    params[:n] -= params[:n].mean()
    return params


@dataclass(frozen=True)
class StyleControlled:
    """A style-controlled leaderboard: ``board`` as ``ratings.leaderboard`` returns it; ``style``
    indexed by feature with ``coef`` (log-odds per SD), ``lower``/``upper`` and ``points``
    (the coefficient in rating points: ``400·coef / ln 10``)."""

    board: pd.DataFrame
    style: pd.DataFrame


def style_controlled_leaderboard(battles: pd.DataFrame, *, rounds: int = 200, seed: int = 0,
                                 alpha: float = 0.05) -> StyleControlled:
    """Ratings with style effects removed, with bootstrap intervals, and the style coefficients.

    Args:
        battles: ``model_a``, ``model_b``, ``winner`` and the ``<feature>_a``/``_b`` style columns;
            self-battles are dropped.
        rounds: bootstrap resamples (at least 100). seed: for the resampling. alpha: 0.05 = 95%.

    Raises:
        ValueError: fewer than 100 rounds.
    """
    if rounds < 100:
        raise ValueError(f"rounds={rounds}: use at least 100 bootstrap resamples for a 95% interval")
    df = battles.loc[battles["model_a"] != battles["model_b"]].reset_index(drop=True)
    style_cols = ["coef", "lower", "upper", "points"]
    if df.empty:
        return StyleControlled(pd.DataFrame(columns=["rating", "lower", "upper", "rank", "battles"]),
                               pd.DataFrame(columns=style_cols))
    models = sorted(set(df["model_a"]) | set(df["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    a = df["model_a"].map(index).to_numpy(dtype=np.int64)
    b = df["model_b"].map(index).to_numpy(dtype=np.int64)
    score = outcome_scores(df["winner"])
    x = style_matrix(df)
    n = len(models)
    params = _fit(n, a, b, x, score)
    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, len(params)))
    for k in range(rounds):
        pick = rng.integers(0, len(df), len(df))
        samples[k] = _fit(n, a[pick], b[pick], x[pick], score[pick], start=params)
    counts = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    board = rating_table(models, params[:n], samples[:, :n], counts, alpha)
    lower, upper = np.quantile(samples[:, n:], [alpha / 2, 1 - alpha / 2], axis=0)
    coef = params[n:]
    style = pd.DataFrame({"coef": coef, "lower": lower, "upper": upper, "points": coef * SCALE / np.log(10.0)},
                         index=pd.Index(STYLE_FEATURES, name="feature"))
    return StyleControlled(board, style)

