"""Pure rules about votes: who may vote, what a vote means, which pairs it yields.

No I/O here: ``db.record_vote`` applies these inside its transaction, and
``export`` uses them to turn a stored vote into DPO pairs and battles.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from playground.store.errors import InvalidVoteError, VoteNotAllowedError
from playground.types import PaneOutput, Vote, VoteKind

Ranking = tuple[tuple[int, ...], ...]
Outcome = Literal["model_a", "model_b", "tie", "tie (bothbad)"]


@dataclass(frozen=True)
class PairVote:
    """What one two-pane vote kind means; ``a`` is the pane at the lower position.

    Attributes:
        label: the words for it on buttons, in the data browser and in "Vote saved: …".
        swapped: the kind meaning the same judgement when the two panes are re-shown swapped.
        outcome: the battle outcome it records for the pair (``a`` is ``model_a``).
    """

    label: str
    swapped: VoteKind
    outcome: Outcome


#: Every two-pane vote kind (``types.VoteKind`` names them, plus ``ranking`` for three or four panes).
#: A new kind is one line here and its name (8 characters at most: the kind columns) in ``VoteKind``.
PAIR_VOTES: Mapping[VoteKind, PairVote] = {
    "a": PairVote("A is better", "b", "model_a"),
    "b": PairVote("B is better", "a", "model_b"),
    "tie": PairVote("Tie", "tie", "tie"),
    "bothbad": PairVote("Both are bad", "bothbad", "tie (bothbad)"),
}


def check_votable(turn_id: str, panes: Sequence[PaneOutput]) -> None:
    """Raise ``VoteNotAllowedError`` unless the turn has ≥2 panes that all finished cleanly.

    Example:
        >>> try:
        ...     check_votable("t1", [])
        ... except VoteNotAllowedError as e:
        ...     e.reason
        'it has 0 panes, a vote needs at least 2'
    """
    if len(panes) < 2:
        raise VoteNotAllowedError(turn_id, f"it has {len(panes)} panes, a vote needs at least 2")
    for pane in panes:
        if pane.status != "done" or pane.error:
            why = f"status {pane.status!r}" + (f" ({pane.error})" if pane.error else "")
            raise VoteNotAllowedError(turn_id, f"pane {pane.position} ({pane.backend_id}) did not finish: {why}")


def vote_ranking(vote: Vote, positions: Sequence[int]) -> Ranking:
    """Return the vote as a canonical best-to-worst ranking of pane positions.

    Two panes take a kind of :data:`PAIR_VOTES` (``a`` = the lower position); three or four
    take ``ranking``, which must name every position exactly once.

    Example:
        >>> vote_ranking(Vote("t", "u", "b"), [0, 1])
        ((1,), (0,))
        >>> vote_ranking(Vote("t", "u", "ranking", ranking=((2,), (0, 1))), [0, 1, 2])
        ((2,), (0, 1))
    """
    ordered = sorted(positions)
    if vote.kind in PAIR_VOTES:
        if len(ordered) != 2:
            raise InvalidVoteError(f"kind {vote.kind!r} is for two panes; this turn has {len(ordered)}, send a ranking")
        a, b = ordered
        ranked = {"model_a": ((a,), (b,)), "model_b": ((b,), (a,))}
        ranking: Ranking = ranked.get(PAIR_VOTES[vote.kind].outcome, ((a, b),))
    elif vote.kind == "ranking":
        if len(ordered) < 3:
            raise InvalidVoteError(f"a ranking is for three or four panes; use {'/'.join(PAIR_VOTES)} for two")
        if not vote.ranking:
            raise InvalidVoteError("kind 'ranking' needs a ranking (groups of pane positions, best first)")
        ranking = tuple(tuple(sorted(int(p) for p in group)) for group in vote.ranking)
        named = [p for group in ranking for p in group]
        if any(not group for group in ranking) or sorted(named) != ordered:
            raise InvalidVoteError(f"ranking {ranking} must name each of the positions {ordered} exactly once")
    else:
        raise InvalidVoteError(f"unknown kind {vote.kind!r}")
    if vote.gold_text is not None:
        if winner_position(ranking) is None:
            raise InvalidVoteError("a gold edit replaces the single best reply; this vote has no single winner")
    return ranking


def winner_position(ranking: Ranking) -> int | None:
    """The single best position, or ``None`` when the top group is a tie.

    Example:
        >>> winner_position(((2,), (0, 1)))
        2
    """
    return ranking[0][0] if len(ranking[0]) == 1 and len(ranking) > 1 else None


def battles(ranking: Ranking, kind: VoteKind = "ranking") -> Iterator[tuple[int, int, Outcome]]:
    """Yield ``(position_a, position_b, winner)`` for every pair of panes, ``a < b``.

    A two-pane vote's one battle has its kind's outcome (so "both bad" stays apart from a tie).

    Example:
        >>> list(battles(((1,), (0, 2))))
        [(0, 1, 'model_b'), (0, 2, 'tie'), (1, 2, 'model_a')]
        >>> list(battles(((0, 1),), "bothbad"))
        [(0, 1, 'tie (bothbad)')]
    """
    rank = {p: i for i, group in enumerate(ranking) for p in group}
    for a, b in combinations(sorted(rank), 2):
        if kind in PAIR_VOTES:
            yield a, b, PAIR_VOTES[kind].outcome
        elif rank[a] < rank[b]:
            yield a, b, "model_a"
        elif rank[a] > rank[b]:
            yield a, b, "model_b"
        else:
            yield a, b, "tie"


def ranking_letters(ranking: Sequence[Sequence[int]]) -> str:
    """A ranking in pane letters, best first: ``>`` between places, ``=`` within a tie.

    Example:
        >>> ranking_letters(((1,), (0, 2)))
        'B > A = C'
    """
    return " > ".join(" = ".join(chr(65 + p) for p in group) for group in ranking)


def preferences(ranking: Ranking) -> Iterator[tuple[int, int]]:
    """Yield ``(chosen, rejected)`` positions for every strictly ordered pair, best pairs first.

    Ties (and so "both bad") yield nothing.

    Example:
        >>> list(preferences(((0,), (2, 1), (3,))))
        [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]
    """
    for i, better in enumerate(ranking):
        for chosen in sorted(better):
            for worse in ranking[i + 1 :]:
                for rejected in sorted(worse):
                    yield chosen, rejected
