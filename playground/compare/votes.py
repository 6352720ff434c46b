"""Voting in the Compare tab as pure rules over one browser session's ``VoteSession``.

The UI keeps a ``VoteSession`` per browser session (in a ``gr.State``) next to the Compare
tab's ``CompareSession``; every handler reads both and calls the functions here. Identity
of a turn: ``turn.begin`` gives every pane a fresh ``PaneMetrics`` object each turn, so
the tuple of those objects names the turn the panes now show (the session keeps them
alive, so an id can never be reused while it is compared against).

Example:
    >>> ranking_from_ranks([2, 1, 2])
    ((1,), (0, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from playground.compare.record import not_votable_reason
from playground.compare.state import CompareSession, PaneState
from playground.limits import DEFAULT_LIMITS, TextLimits, gold_edit_problem
from playground.safe_markdown import code_span, escape_inline
from playground.store.errors import InvalidVoteError
from playground.store.votes import Ranking, vote_ranking, winner_position
from playground.types import PaneMetrics, TurnRecord, Vote, VoteKind

PAIR_CHOICES: dict[str, str] = {"a": "A is better", "b": "B is better", "tie": "Tie", "bothbad": "Both are bad"}


@dataclass
class VoteSession:
    """What one browser session knows about its latest stored turn and its vote on it.

    ``record`` is the stored turn (its ``id`` set), ``marker`` the ``PaneMetrics`` objects of
    the panes that showed it, ``vote`` this user's vote as the store holds it. ``revealed``
    holds the panes of a blind battle whose names were shown (later turns of that battle
    are no longer blind). ``pending`` is the marker of a turn being saved right now, so a
    second "turn ended" event for the same turn does not save it twice. ``problem`` says
    why the latest turn could not be stored.
    """

    record: TurnRecord | None = None
    marker: tuple[PaneMetrics, ...] = ()
    vote: Vote | None = None
    revealed: tuple[PaneState, ...] = ()
    pending: tuple[PaneMetrics, ...] = ()
    problem: str | None = None


def turn_marker(panes: Sequence[PaneState]) -> tuple[PaneMetrics, ...]:
    """The objects that identify the turn these panes show (see the module docstring)."""
    return tuple(p.metrics for p in panes)


def same_objects(a: Sequence[object], b: Sequence[object]) -> bool:
    """True when both sequences hold the very same objects, in order (never equal-but-other ones)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def is_current(vs: VoteSession, panes: Sequence[PaneState]) -> bool:
    """Is the session's stored turn the one these panes show?"""
    return vs.record is not None and bool(panes) and same_objects(vs.marker, turn_marker(panes))


def battle_revealed(vs: VoteSession, panes: Sequence[PaneState]) -> bool:
    """Were the names of these panes (this blind battle) already shown?"""
    return bool(panes) and same_objects(vs.revealed, panes)


def blind_now(vs: VoteSession, session: CompareSession) -> bool:
    """Are the models' names hidden from the user right now? (Blind mode, until a vote reveals them.)"""
    return session.blind and not battle_revealed(vs, session.panes)


def cast_blind(vs: VoteSession, session: CompareSession, kind: VoteKind, ranking: Ranking | None = None) -> bool:
    """Is this vote cast blind? Names hidden now, or the same judgement as a vote cast while they were.

    Voting reveals the names, so a repeated click or a gold edit of a blind vote stays blind,
    while a changed mind after the reveal is not blind any more.
    """
    if blind_now(vs, session):
        return True
    if vs.vote is None or vs.record is None or not vs.vote.blind:
        return False
    positions = [p.position for p in vs.record.panes]
    return vote_ranking(Vote(vs.record.id, "", kind, ranking=ranking), positions) == vs.vote.ranking


def vote_problem(vs: VoteSession, panes: Sequence[PaneState]) -> str | None:
    """Why a vote cannot be cast right now, or ``None``.

    Example:
        >>> vote_problem(VoteSession(), [])
        'There is no finished turn to vote on yet.'
    """
    if vs.record is None or not panes:
        return "There is no finished turn to vote on yet."
    if not is_current(vs, panes):
        return "A new turn has started: vote on it when it has finished."
    reason = not_votable_reason(panes)
    return f"Voting is off for this turn: {reason}." if reason else None


def ranking_from_ranks(ranks: Sequence[int | float | str | None]) -> Ranking:
    """Best-to-worst groups of pane positions from a rank per pane (1 = best, equal ranks tie).

    Raises:
        InvalidVoteError: a pane has no rank.

    Example:
        >>> ranking_from_ranks([3, 1, 1, 2])
        ((1, 2), (3,), (0,))
    """
    if any(r in (None, "") for r in ranks):
        missing = ", ".join(chr(65 + i) for i, r in enumerate(ranks) if r in (None, ""))
        raise InvalidVoteError(f"give every pane a rank (missing: {missing})")
    ordered = sorted(range(len(ranks)), key=lambda i: (int(ranks[i]), i))  # type: ignore[arg-type]
    return tuple(tuple(group) for _, group in groupby(ordered, key=lambda i: int(ranks[i])))  # type: ignore[arg-type]


def ranks_from_ranking(ranking: Ranking | None, n: int) -> list[int | None]:
    """Inverse of ``ranking_from_ranks`` (dense ranks), for showing a stored ranking again.

    Example:
        >>> ranks_from_ranking(((1, 2), (3,), (0,)), 4)
        [3, 1, 1, 2]
    """
    ranks: list[int | None] = [None] * n
    for rank, group in enumerate(ranking or (), start=1):
        for position in group:
            if 0 <= position < n:
                ranks[position] = rank
    return ranks


def new_vote(vs: VoteSession, user_id: str, kind: VoteKind, *, ranking: Ranking | None = None,
             gold_text: str | None = None, blind: bool = False, terms_version: str | None = None,
             limits: TextLimits = DEFAULT_LIMITS) -> Vote:
    """The vote to record on the session's stored turn (checked here as the store will check it).

    ``user_id`` is the voter's pseudonym; ``terms_version`` the consent notice they accepted.

    Raises:
        InvalidVoteError: the kind or ranking does not fit the turn, or a gold edit has no single winner,
            is too long or holds a special token.
    """
    if vs.record is None:
        raise InvalidVoteError("there is no stored turn to vote on")
    if (problem := gold_edit_problem(gold_text, limits)) is not None:
        raise InvalidVoteError(problem)
    vote = Vote(vs.record.id, user_id, kind, ranking=ranking, blind=blind, gold_text=gold_text,
                terms_version=terms_version)
    vote_ranking(vote, [p.position for p in vs.record.panes])
    return vote


def letters(ranking: Ranking) -> str:
    """``((1,), (0, 2))`` -> ``'B > A = C'``."""
    return " > ".join(" = ".join(chr(65 + p) for p in group) for group in ranking)


def describe_vote(vote: Vote) -> str:
    """What the user chose, in words.

    Example:
        >>> describe_vote(Vote("t", "u", "ranking", ranking=((2,), (0, 1))))
        'C > A = B'
    """
    text = PAIR_CHOICES.get(vote.kind) or letters(vote.ranking or ())
    return text + (" (with an edited reply)" if vote.gold_text is not None else "")


def winner_text(vote: Vote | None, record: TurnRecord | None) -> str | None:
    """The single winner's reply as the model wrote it, or ``None`` when there is no single winner."""
    if vote is None or record is None or vote.kind in ("tie", "bothbad"):
        return None
    best = winner_position(vote.ranking or ())
    return next((p.output for p in record.panes if p.position == best), None)


def reveal_line(record: TurnRecord) -> str:
    """Which model ran in which pane (Markdown), shown once a blind vote is cast.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> reveal_line(make_turn(seed=1)).split("; ")[0]
        'Pane A was **Hermes 3 · 3B** (`NousResearch/Hermes-3-Llama-3.2-3B`)'
    """
    parts = []
    for pane in sorted(record.panes, key=lambda p: p.position):
        model = f" ({code_span(pane.model_id)})" if pane.model_id else ""  # the server's /info: any text
        parts.append(f"Pane {chr(65 + pane.position)} was **{escape_inline(pane.label)}**{model}")
    return "; ".join(parts)
