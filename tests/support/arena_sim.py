"""Simulated arena votes with a known answer: model strengths, a length bias, position bias, random clickers.

``simulate_arena`` returns two-pane turns and votes (plain ``TurnRecord`` / ``Vote`` values,
turn ids set, rankings canonical) that tests fit directly or save to a real store.

A careful rater prefers side a with probability
``σ(ln10/400·(Ra − Rb) + length_bias·(La − Lb)/(La + Lb + 1) + left_bias·(±1 for a shown left/right))``,
``L`` the answer's length in characters: the same normalised length difference the
style-controlled fit uses, so that fit is correctly specified. A random clicker picks A or B
with a fair coin. Answers also carry random markdown (bold spans, list items) that no rater
cares about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.store.votes import vote_ranking
from playground.types import Message, PaneOutput, TurnRecord, Vote

TRUTH: dict[str, float] = {"hermes-405b": 1150.0, "hermes-70b": 1100.0, "hermes-8b": 1000.0, "hermes-3b": 900.0}
"""Arena-scale strengths; the order a fit should recover is this order."""
VERBOSITY: dict[str, float] = {"hermes-405b": 300.0, "hermes-70b": 400.0, "hermes-8b": 1500.0, "hermes-3b": 600.0}
"""Median answer length in characters: the 8B is a weaker model that writes long answers."""
PROMPTS = ("Explain DPO in two sentences.", "Fix this Python bug: def f(x): return x +", "What is 17 * 23?",
           "Write a poem about the sea.", "Which is heavier, a kilo of feathers or a kilo of iron?")


@dataclass(frozen=True)
class SimulatedArena:
    """The simulated turns and votes, the truth they were drawn from and who clicked at random."""

    turns: list[TurnRecord]
    votes: list[Vote]
    truth: dict[str, float]
    random_raters: frozenset[str]
    raters: tuple[str, ...]


def _answer(rng: np.random.Generator, model: str, verbosity: dict[str, float]) -> str:
    length = max(20, int(verbosity[model] * rng.lognormal(0.0, 0.35)))
    markdown = "".join(f"- point {i}\n" for i in range(rng.poisson(1.0))) + "**note** " * rng.poisson(1.0)
    return markdown + ("lorem ipsum dolor sit amet " * (length // 27 + 1))[:length]


def simulate_arena(n_turns: int, *, seed: int, truth: dict[str, float] | None = None,
                   verbosity: dict[str, float] | None = None, length_bias: float = 2.0, left_bias: float = 0.0,
                   n_raters: int = 25, random_share: float = 0.2) -> SimulatedArena:
    """``n_turns`` blind two-pane battles between random distinct models, each voted once.

    Args:
        seed: everything is drawn from ``numpy.random.default_rng(seed)``.
        truth / verbosity: model -> arena strength / median answer length (defaults ``TRUTH``, ``VERBOSITY``).
        length_bias: log-odds added per unit of normalised length difference (0 = none).
        left_bias: log-odds added for the pane shown on the left (0 = none).
        n_raters: raters ``rater-00`` …; the first ``round(random_share·n_raters)`` click at random.
    """
    truth = truth or TRUTH
    verbosity = verbosity or VERBOSITY
    rng = np.random.default_rng(seed)
    models = list(truth)
    raters = tuple(f"rater-{i:02d}" for i in range(n_raters))
    random_raters = frozenset(raters[: round(random_share * n_raters)])
    turns, votes = [], []
    for k in range(n_turns):
        pair = rng.choice(len(models), 2, replace=False)
        prompt = PROMPTS[k % len(PROMPTS)]
        panes = tuple(
            PaneOutput(position=pos, backend_id=models[i], model_id=models[i], label=models[i], system_prompt=None,
                       prompt_messages=(Message("user", prompt),), output=_answer(rng, models[i], verbosity))
            for pos, i in enumerate(pair)
        )
        order = tuple(int(p) for p in rng.permutation(2))
        turn = TurnRecord(user_id="sim", mode="chat", panes=panes, messages=(Message("user", prompt),), blind=True,
                          pane_order=order, id=f"sim-{seed}-{k:06d}")
        rater = raters[int(rng.integers(n_raters))]
        if rater in random_raters:
            a_wins = rng.random() < 0.5
        else:
            la, lb = len(panes[0].output), len(panes[1].output)
            logit = (np.log(10) / 400 * (truth[panes[0].model_id] - truth[panes[1].model_id])
                     + length_bias * (la - lb) / (la + lb + 1) + left_bias * (1 if order[0] == 0 else -1))
            a_wins = rng.random() < 1 / (1 + np.exp(-logit))
        vote = Vote(turn.id, rater, "a" if a_wins else "b", blind=True)
        turns.append(turn)
        votes.append(Vote(turn.id, rater, vote.kind, ranking=vote_ranking(vote, [0, 1]), blind=True))
    return SimulatedArena(turns, votes, dict(truth), random_raters, raters)
