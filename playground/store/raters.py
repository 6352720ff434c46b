"""Rater quality: agreement with the consensus (Cohen's kappa), an outlier test, self-consistency.

Every vote becomes pairwise outcomes (one per pair of panes, as in the battles export):
``model_a`` is the pane shown first, the outcome ``a``, ``b`` or ``tie`` ("both bad" counts as
a tie). Three figures per rater:

- **kappa**: Cohen's kappa between the rater's outcomes and, for each one, the majority
  outcome of *the other* raters on the same model pair (whatever order they saw it in;
  pairs without a clear majority among others are left out), both as the rater saw the
  panes. Labels in display order are balanced by the random pane order, which keeps kappa
  clear of its prevalence paradox (a pair whose favourite always sits on one side would
  give kappa 0 to a rater who always agrees).
- **outlier test** (after FastChat / Chatbot Arena's anomalous-user check, simplified): fit
  Bradley-Terry on everyone else's votes; on the rater's decisive votes between models the
  fit tells apart, count how often they picked the fit's favourite. A random clicker agrees
  half the time; a one-sided binomial test (``scipy.stats.binomtest``, H0: p = 0.5) that
  cannot reject chance at ``alpha`` flags the rater, once they have ``min_votes`` such votes.
- **self-consistency**: the share of swapped re-shows answered as the original vote
  (``playground.store.rechecks``); reported, not used for flagging (too few per rater).

Example:
    >>> cohen_kappa(["a", "a", "b", "b"], ["a", "a", "b", "a"])
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from playground.store.db import Store, VoteFilter, vote_filter_clauses
from playground.store.ratings import fit_bradley_terry
from playground.store.rechecks import self_consistency
from playground.store.schema import turn_panes, turns, votes
from playground.store.votes import battles

OUTCOMES = ("a", "b", "tie")
BATTLE_COLUMNS = ["rater", "model_a", "model_b", "outcome"]
QUALITY_COLUMNS = ["pairs", "kappa", "compared", "decisive", "agree", "expected_agree", "p_value", "flagged",
                   "rechecks", "self_consistency"]


def cohen_kappa(x: Sequence[str], y: Sequence[str]) -> float:
    """Cohen's kappa of two labelings of the same items; NaN when chance agreement is certain.

    Hand-written (as ``sklearn.metrics.cohen_kappa_score``, unweighted): five lines do not
    justify scikit-learn's ~50 MB in the app image.

    Example:
        >>> round(cohen_kappa(["a", "b", "tie", "a"], ["a", "b", "a", "a"]), 4)
        0.5556
    """
    left, right = pd.Series(list(x), dtype=object), pd.Series(list(y), dtype=object)
    if len(left) != len(right) or left.empty:
        return float("nan")
    observed = float((left.to_numpy() == right.to_numpy()).mean())
    p_left, p_right = left.value_counts(normalize=True), right.value_counts(normalize=True)
    expected = float(p_left.mul(p_right, fill_value=0).sum())
    return float("nan") if expected >= 1.0 else (observed - expected) / (1.0 - expected)


def canonical(model_a: str, model_b: str, outcome: str) -> tuple[str, str, str]:
    """The same outcome with the models in sorted order.

    Example:
        >>> canonical("y", "x", "a")
        ('x', 'y', 'b')
    """
    if model_a <= model_b:
        return model_a, model_b, outcome
    return model_b, model_a, {"a": "b", "b": "a"}.get(outcome, outcome)


def rater_battles(store: Store, flt: VoteFilter | None = None) -> pd.DataFrame:
    """Every matching vote as pairwise outcomes: ``rater``, ``model_a``, ``model_b``, ``outcome``.

    ``model_a`` is the pane at the lower position; a model is the pane's served model id, else
    its backend id (as in the exports).
    """
    stmt = (sa.select(votes.c.id, votes.c.user_id, votes.c.ranking, turn_panes.c.position, turn_panes.c.model_id,
                      turn_panes.c.backend_id)
            .select_from(votes.join(turns, turns.c.id == votes.c.turn_id)
                         .join(turn_panes, turn_panes.c.turn_id == votes.c.turn_id))
            .where(*vote_filter_clauses(flt)).order_by(votes.c.id))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    found: dict[str, tuple[str, list[list[int]], dict[int, str]]] = {}
    for row in rows:
        _, _, models = found.setdefault(row.id, (row.user_id, row.ranking, {}))
        models[row.position] = row.model_id or row.backend_id
    out = []
    for rater, ranking, models in found.values():
        ranked = tuple(tuple(group) for group in ranking or ())
        for pos_a, pos_b, winner in battles(ranked):
            outcome = {"model_a": "a", "model_b": "b"}.get(winner, "tie")
            out.append((rater, models[pos_a], models[pos_b], outcome))
    return pd.DataFrame(out, columns=BATTLE_COLUMNS)


def consensus_outcomes(frame: pd.DataFrame) -> pd.Series:
    """For each row, the majority outcome of the *other* raters on the same model pair, in that row's
    orientation (None: no clear majority)."""
    if frame.empty:
        return pd.Series([], dtype=object)
    flipped = frame["model_a"] > frame["model_b"]
    sides = zip(frame["model_a"], frame["model_b"], frame["outcome"], strict=True)
    frame = pd.DataFrame([canonical(a, b, o) for a, b, o in sides], columns=BATTLE_COLUMNS[1:],
                         index=frame.index).assign(rater=frame["rater"])
    total = frame.groupby(["model_a", "model_b", "outcome"]).size()
    own = frame.groupby(["rater", "model_a", "model_b", "outcome"]).size()
    majority: dict[tuple[str, str, str], str | None] = {}
    for rater, model_a, model_b in frame[["rater", "model_a", "model_b"]].drop_duplicates().itertuples(index=False):
        others = {o: total.get((model_a, model_b, o), 0) - own.get((rater, model_a, model_b, o), 0) for o in OUTCOMES}
        top = max(others.values())
        leaders = [o for o, n in others.items() if n == top]
        majority[(rater, model_a, model_b)] = leaders[0] if top > 0 and len(leaders) == 1 else None
    keys = zip(frame["rater"], frame["model_a"], frame["model_b"], strict=True)
    found = [majority[k] for k in keys]
    swap = {"a": "b", "b": "a"}
    return pd.Series([swap.get(m, m) if flip and m else m for m, flip in zip(found, flipped, strict=True)],
                     index=frame.index, dtype=object)


def kappa_by_rater(frame: pd.DataFrame) -> pd.DataFrame:
    """Per rater: ``compared`` outcomes that have a consensus, and Cohen's ``kappa`` against it."""
    consensus = consensus_outcomes(frame)
    rows = {}
    for rater, group in frame.assign(consensus=consensus).dropna(subset=["consensus"]).groupby("rater"):
        rows[rater] = {"compared": len(group), "kappa": cohen_kappa(group["outcome"], group["consensus"])}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["compared", "kappa"])


def outlier_test(frame: pd.DataFrame, *, alpha: float = 0.05, min_votes: int = 10) -> pd.DataFrame:
    """Per rater: agreement with the leave-one-out Bradley-Terry favourite and the binomial test (see module doc).

    Returns a frame indexed by rater with ``decisive`` (votes tested), ``agree``,
    ``expected_agree`` (what a rater following the fit would average), ``p_value`` and ``flagged``.
    """
    from scipy.stats import binomtest  # scipy only where ratings are computed (app memory, see ratings.py)

    rows = {}
    for rater in frame["rater"].unique():
        others = frame[frame["rater"] != rater]
        rating = fit_bradley_terry(pd.DataFrame({
            "model_a": others["model_a"], "model_b": others["model_b"],
            "winner": others["outcome"].map({"a": "model_a", "b": "model_b", "tie": "tie"})}))
        mine = frame[(frame["rater"] == rater) & frame["outcome"].isin(["a", "b"])]
        ra, rb = mine["model_a"].map(rating).to_numpy(float), mine["model_b"].map(rating).to_numpy(float)
        usable = ~np.isnan(ra) & ~np.isnan(rb) & (np.abs(ra - rb) > 1e-6)
        picked_a = mine["outcome"].to_numpy() == "a"
        agree = int(((ra > rb) == picked_a)[usable].sum())
        n = int(usable.sum())
        p_fav = 1.0 / (1.0 + 10.0 ** (-np.abs(ra - rb)[usable] / 400.0))
        p_value = float(binomtest(agree, n, 0.5, alternative="greater").pvalue) if n else float("nan")
        rows[rater] = {"decisive": n, "agree": agree, "expected_agree": float(p_fav.mean()) if n else float("nan"),
                       "p_value": p_value, "flagged": bool(n >= min_votes and p_value > alpha)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["decisive", "agree", "expected_agree", "p_value",
                                                                 "flagged"])


def rater_quality(store: Store, flt: VoteFilter | None = None, *, alpha: float = 0.05,
                  min_votes: int = 10) -> pd.DataFrame:
    """Every rater's pairwise outcomes (``pairs``), kappa, outlier test and self-consistency, flagged raters first.

    Example:
        >>> from playground.store.db import open_store
        >>> rater_quality(open_store("sqlite://")).empty
        True
    """
    frame = rater_battles(store, flt)
    if frame.empty:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    per_vote = frame.groupby("rater").size().rename("pairs")
    quality = (pd.DataFrame(per_vote).join(kappa_by_rater(frame)).join(outlier_test(frame, alpha=alpha,
                                                                                     min_votes=min_votes))
               .join(self_consistency(store)[["rechecks", "self_consistency"]]))
    quality["rechecks"] = quality["rechecks"].fillna(0).astype(int)
    quality["flagged"] = quality["flagged"].fillna(False).astype(bool)
    quality.index.name = "rater"
    return quality[QUALITY_COLUMNS].sort_values(["flagged", "pairs"], ascending=[False, False])


def flagged_raters(store: Store, flt: VoteFilter | None = None, *, alpha: float = 0.05,
                   min_votes: int = 10) -> set[str]:
    """Pseudonyms of the raters the outlier test flags (for exports to exclude)."""
    quality = rater_quality(store, flt, alpha=alpha, min_votes=min_votes)
    return set(quality.index[quality["flagged"]])
