"""An LLM judge calibrated against the human votes on the same turns and pairs (pure figures over frames).

Each human vote gives one outcome per pair of panes (``votes.battles``: ``a`` = the lower
position won, ``b``, or ``tie``; "both bad" is a tie; a ranking gives every pair's outcome). Each
judgement gives the judge's outcome on one pair: its ``final`` verdict, turned to the same
orientation, with an **inconsistent** verdict (the two orders disagree) counted as a **tie**, as
MT-Bench does; judge errors are left out. A calibration *item* is one (human vote, judgement)
on the same turn and pair, so a pair two people voted on counts twice.

- agreement **with ties**: share of items where the two 3-way outcomes match; **without ties**:
  the same over items where both are decisive (``a``/``b``); Cohen's kappa of each
  (``raters.cohen_kappa``);
- **position consistency**: share of non-error judgements whose two orders agree (ties included);
- **length bias**: among the judge's consistent decisive verdicts on replies of different length,
  how often it picked the longer (answer characters, as the leaderboard's style control), with a
  95% Wilson interval; the humans' figure over the same items beside it;
- agreement **by mode and by category** (``categories.categorise`` of the first user message);
- a **judge-only leaderboard** (Bradley–Terry over consistent verdicts, ties ½) beside the human one;
- the **disagreements**, for reading.

Example:
    >>> items = pd.DataFrame({"human": ["a", "b", "tie", "a"], "judge": ["a", "b", "a", "b"]})
    >>> f = agreement(items)
    >>> f.items, f.agree, f.decisive, f.decisive_agree
    (4, 2, 3, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from playground.hermes.modes import mode_name
from playground.store.arena import answer_text, first_user_message
from playground.store.categories import categorise
from playground.store.db import Store, VoteFilter, iter_votes_with_turns
from playground.store.judged import iter_judged_turns, oriented, pair_key
from playground.store.judgements import judgements
from playground.store.raters import cohen_kappa
from playground.store.ratings import leaderboard
from playground.store.votes import battles

PAIR = ["turn_id", "pos_a", "pos_b"]
SIDES = ["model_a", "model_b", "length_a", "length_b", "mode", "category"]
JUDGE_COLUMNS = [*PAIR, *SIDES, "verdict_ab", "verdict_ba", "final", "rationale"]
HUMAN_COLUMNS = [*PAIR, *SIDES, "rater", "human"]
DECISIVE = ("a", "b")
WINNER = {"a": "model_a", "b": "model_b", "tie": "tie"}


@dataclass(frozen=True)
class JudgeChoice:
    """One judge and prompt version found among the stored judgements."""

    judge_backend: str
    judge_model: str
    prompt_version: str
    judgements: int


def judge_choices(store: Store) -> list[JudgeChoice]:
    """Every (judge backend, model, prompt version) with its number of judgements, most judgements first.

    Example:
        >>> from playground.store.db import open_store
        >>> judge_choices(open_store("sqlite://"))
        []
    """
    c = judgements.c
    query = (sa.select(c.judge_backend, c.judge_model, c.prompt_version, sa.func.count())
             .group_by(c.judge_backend, c.judge_model, c.prompt_version))
    with store.engine.connect() as conn:
        found = [JudgeChoice(*row) for row in conn.execute(query)]
    return sorted(found, key=lambda j: (-j.judgements, j.judge_backend, j.prompt_version))


def _sides(turn: Any, pos_a: int, pos_b: int) -> list[Any]:
    panes = {p.position: p for p in turn.panes}
    a, b = panes[pos_a], panes[pos_b]
    return [a.model_id or a.backend_id, b.model_id or b.backend_id, len(answer_text(a)), len(answer_text(b)),
            mode_name(turn.mode), categorise(first_user_message(turn), turn.mode)]


def judge_frame(store: Store, judge_backend: str, prompt_version: str) -> pd.DataFrame:
    """One row per judgement of this judge and prompt version (``JUDGE_COLUMNS``), lower position first."""
    rows = []
    for j, turn in iter_judged_turns(store, judge_backend=judge_backend, prompt_version=prompt_version):
        (turn_id, pos_a, pos_b), flipped = pair_key(j)
        rows.append([turn_id, pos_a, pos_b, *_sides(turn, pos_a, pos_b),
                     *(oriented(v, flipped=flipped) for v in (j.verdict_ab, j.verdict_ba, j.final)), j.rationale])
    return pd.DataFrame(rows, columns=JUDGE_COLUMNS)


def human_frame(store: Store, flt: VoteFilter | None = None) -> pd.DataFrame:
    """One row per pair of panes of every matching vote (``HUMAN_COLUMNS``): ``human`` is ``a``, ``b`` or ``tie``."""
    rows = []
    for vote, turn in iter_votes_with_turns(store, flt):
        for pos_a, pos_b, winner in battles(vote.ranking or ()):
            outcome = {"model_a": "a", "model_b": "b"}.get(winner, "tie")
            rows.append([turn.id, pos_a, pos_b, *_sides(turn, pos_a, pos_b), vote.user_id, outcome])
    return pd.DataFrame(rows, columns=HUMAN_COLUMNS)


def judge_outcome(final: str) -> str | None:
    """The judge's 3-way outcome: a consistent verdict as is, an inconsistent one a tie, an error ``None``.

    Example:
        >>> judge_outcome("b"), judge_outcome("inconsistent"), judge_outcome("error")
        ('b', 'tie', None)
    """
    return {"a": "a", "b": "b", "tie": "tie", "inconsistent": "tie"}.get(final)


def calibration_items(judged: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """One row per (human vote, judgement) on the same turn and pair, judge errors left out: the judge's
    columns, ``rater``, ``human`` and ``judge`` (``judge_outcome``)."""
    items = judged.merge(human[[*PAIR, "rater", "human"]], on=PAIR)
    items["judge"] = items["final"].map(judge_outcome)
    return items.dropna(subset=["judge"]).reset_index(drop=True)


@dataclass(frozen=True)
class Agreement:
    """Judge–human agreement over some items: 3-way (with ties) and over the items both call decisive."""

    items: int
    agree: int
    rate: float | None
    kappa: float | None
    decisive: int
    decisive_agree: int
    decisive_rate: float | None
    decisive_kappa: float | None


def _kappa(x: pd.Series, y: pd.Series) -> float | None:
    k = cohen_kappa(list(x), list(y))
    return None if k != k else k  # NaN: chance agreement is certain (one label only)


def agreement(items: pd.DataFrame) -> Agreement:
    """Agreement with and without ties, and Cohen's kappa of each, over items with ``human`` and ``judge``."""
    same = items["human"] == items["judge"]
    both = items[items["human"].isin(DECISIVE) & items["judge"].isin(DECISIVE)]
    n, k = len(items), int(same.sum())
    d, dk = len(both), int((both["human"] == both["judge"]).sum())
    return Agreement(n, k, k / n if n else None, _kappa(items["human"], items["judge"]) if n else None,
                     d, dk, dk / d if d else None, _kappa(both["human"], both["judge"]) if d else None)


def agreement_by(items: pd.DataFrame, column: str) -> pd.DataFrame:
    """``agreement`` per value of ``column`` (``mode`` or ``category``), one row each, most items first.

    Example:
        >>> items = pd.DataFrame({"mode": ["chat", "chat", "JSON"], "human": ["a", "b", "a"], "judge": ["a", "a", "a"]})
        >>> agreement_by(items, "mode")[["mode", "items", "agree"]].values.tolist()
        [['chat', 2, 1], ['JSON', 1, 1]]
    """
    rows = [{column: value, **vars(agreement(group))} for value, group in items.groupby(column, sort=False)]
    frame = pd.DataFrame(rows, columns=[column, *Agreement.__dataclass_fields__])
    return frame.sort_values(["items", column], ascending=[False, True], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Consistency:
    """Judgements that gave a verdict in both orders (``judged``) and those whose two orders agreed."""

    judged: int
    consistent: int
    errors: int
    rate: float | None


def position_consistency(judged: pd.DataFrame) -> Consistency:
    """Share of non-error judgements whose two orders agree (``final`` a consistent ``a``/``b``/``tie``).

    Example:
        >>> position_consistency(pd.DataFrame({"final": ["a", "tie", "inconsistent", "error"]}))
        Consistency(judged=3, consistent=2, errors=1, rate=0.6666666666666666)
    """
    finals = judged["final"]
    errors = int((finals == "error").sum())
    n, ok = len(finals) - errors, int(finals.isin(["a", "b", "tie"]).sum())
    return Consistency(n, ok, errors, ok / n if n else None)


@dataclass(frozen=True)
class LengthBias:
    """How often the longer reply won, over decisive outcomes between replies of different length (95% Wilson)."""

    longer_wins: int
    decisive: int
    rate: float | None
    low: float | None
    high: float | None


def length_bias(frame: pd.DataFrame, outcome: str) -> LengthBias:
    """The longer reply's win rate over the rows whose ``outcome`` column is ``a``/``b`` and lengths differ.

    Example:
        >>> df = pd.DataFrame({"length_a": [9, 1, 5, 3], "length_b": [1, 9, 5, 1], "final": ["a", "a", "a", "tie"]})
        >>> b = length_bias(df, "final")
        >>> b.longer_wins, b.decisive, b.rate
        (1, 2, 0.5)
    """
    rows = frame[frame[outcome].isin(DECISIVE) & (frame["length_a"] != frame["length_b"])]
    longer = (rows["length_a"] > rows["length_b"]).map({True: "a", False: "b"})
    wins, n = int((rows[outcome] == longer).sum()), len(rows)
    if n == 0:
        return LengthBias(0, 0, None, None, None)
    from scipy.stats import binomtest  # imported here like ratings._fit: only the calibration needs it

    ci = binomtest(wins, n).proportion_ci(confidence_level=0.95, method="wilson")
    return LengthBias(wins, n, wins / n, float(ci.low), float(ci.high))


def outcome_battles(frame: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """``model_a``/``model_b``/``winner`` rows (``ratings``' input) of the rows whose ``outcome`` is a/b/tie.

    Example:
        >>> df = pd.DataFrame({"model_a": ["x", "x"], "model_b": ["y", "y"], "final": ["b", "inconsistent"]})
        >>> outcome_battles(df, "final").values.tolist()
        [['x', 'y', 'model_b']]
    """
    kept = frame[frame[outcome].isin(WINNER)]
    return pd.DataFrame({"model_a": kept["model_a"], "model_b": kept["model_b"],
                         "winner": kept[outcome].map(WINNER)}).reset_index(drop=True)


def side_by_side(human: pd.DataFrame, judge: pd.DataFrame) -> pd.DataFrame:
    """Two ``ratings.leaderboard`` tables joined by model: ``human_*`` and ``judge_*`` columns, best human first."""
    def prefixed(board: pd.DataFrame, who: str) -> pd.DataFrame:
        return board[["rank", "rating", "lower", "upper", "battles"]].add_prefix(f"{who}_")

    both = prefixed(human, "human").join(prefixed(judge, "judge"), how="outer")
    both.index.name = "model"
    return both.sort_values(["human_rating", "judge_rating"], ascending=False, na_position="last")


def _letter(outcome: str, pos_a: int, pos_b: int) -> str:
    return {"a": chr(65 + pos_a), "b": chr(65 + pos_b)}.get(outcome, "tie")


def disagreements(items: pd.DataFrame) -> pd.DataFrame:
    """The items where judge and human differ (3-way): turn, pair, models, rater, each side's winner as a pane
    letter (or ``tie``), the judge's raw final verdict and rationale."""
    differ = items[items["human"] != items["judge"]]
    return pd.DataFrame({
        "turn_id": differ["turn_id"],
        "pair": [f"{chr(65 + a)} vs {chr(65 + b)}" for a, b in zip(differ["pos_a"], differ["pos_b"], strict=True)],
        "model_a": differ["model_a"], "model_b": differ["model_b"], "rater": differ["rater"],
        "human": [_letter(o, a, b) for o, a, b in zip(differ["human"], differ["pos_a"], differ["pos_b"], strict=True)],
        "judge": [_letter(o, a, b) for o, a, b in zip(differ["judge"], differ["pos_a"], differ["pos_b"], strict=True)],
        "final": differ["final"], "rationale": differ["rationale"].fillna(""),
    }).reset_index(drop=True)


@dataclass(frozen=True)
class Calibration:
    """Every figure of one judge and prompt version against the human votes (see the module docstring)."""

    choice: tuple[str, str]
    agreement: Agreement
    consistency: Consistency
    judge_length: LengthBias
    human_length: LengthBias
    by_mode: pd.DataFrame
    by_category: pd.DataFrame
    boards: pd.DataFrame
    disagreements: pd.DataFrame


def calibrate(store: Store, judge_backend: str, prompt_version: str, *, flt: VoteFilter | None = None,
              rounds: int = 200, seed: int = 0) -> Calibration:
    """Calibrate one judge and prompt version against the human votes ``flt`` selects (all by default).

    The leaderboards rate model ids (as the exports name them), each with ``rounds`` bootstrap resamples.
    """
    judged = judge_frame(store, judge_backend, prompt_version)
    human = human_frame(store, flt)
    items = calibration_items(judged, human)
    judge_board = leaderboard(outcome_battles(judged, "final"), rounds=rounds, seed=seed)
    human_board = leaderboard(outcome_battles(human, "human"), rounds=rounds, seed=seed)
    return Calibration(
        (judge_backend, prompt_version), agreement(items), position_consistency(judged),
        length_bias(judged, "final"), length_bias(items, "human"), agreement_by(items, "mode"),
        agreement_by(items, "category"), side_by_side(human_board, judge_board), disagreements(items))
