"""The vote rules of the Compare tab, over one browser session's ``VoteSession``.

The UI keeps a ``VoteSession`` per browser session (in a ``gr.State``) next to the Compare
tab's ``CompareSession``; every handler reads both and calls the functions here. A turn is
named by its id (``CompareSession.turn_id``, made when it starts, the id the store keeps it
under): a vote goes to the stored turn only while that is the turn the panes show.

Example:
    >>> ranking_from_picks(add_pick((1,), 0, 3), 3)
    ((1,), (0,), (2,))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from playground.compare.state import CompareSession, PaneState
from playground.limits import DEFAULT_LIMITS, TextLimits, gold_edit_problem
from playground.safe_markdown import code_span, escape_inline
from playground.store.db import Store, record_vote
from playground.store.errors import InvalidVoteError
from playground.store.votes import PAIR_VOTES, Ranking, ranking_letters, vote_ranking, winner_position
from playground.types import TurnRecord, Vote, VoteKind

PAIR_CHOICES: dict[str, str] = {kind: pair.label for kind, pair in PAIR_VOTES.items()}


@dataclass
class VoteSession:
    """What one browser session knows about its latest stored turn and its vote on it.

    ``record`` is the stored turn (its ``id`` is the turn id), ``vote`` this user's vote as
    the store holds it. ``pending`` is the id of a turn being saved right now, so a second
    "turn ended" event for the same turn does not save it twice. ``problem`` says why the
    latest turn could not be stored. ``picks`` are the panes clicked so far, best first, while
    ranking three or four panes (see :func:`add_pick`).
    """

    record: TurnRecord | None = None
    vote: Vote | None = None
    pending: str = ""
    problem: str | None = None
    picks: tuple[int, ...] = ()


def is_current(vs: VoteSession, session: CompareSession) -> bool:
    """Is the session's stored turn the one its panes show (the same turn id)?"""
    return vs.record is not None and bool(session.panes) and bool(session.turn_id) and vs.record.id == session.turn_id


def blind_now(session: CompareSession) -> bool:
    """Are the models' names hidden from the user right now? (Blind mode, until a vote reveals them.)"""
    return session.blind and not session.revealed


def not_votable_reason(panes: Sequence[PaneState]) -> str | None:
    """Why this turn cannot be voted on, or ``None`` when it can (≥2 panes, all finished cleanly).

    Example:
        >>> not_votable_reason([PaneState("a", "A", status="done"), PaneState("b", "B", status="stopped")])
        'pane B was stopped'
    """
    if len(panes) < 2:
        return "a vote needs at least two panes"
    for i, pane in enumerate(panes):
        name = f"pane {chr(65 + i)}"
        if pane.status == "stopped":
            return f"{name} was stopped"
        if pane.status != "done" or pane.error:
            # never the error text: it may hold HTML, or a blind model's name
            return f"{name} failed (its error is shown in the pane)"
    return None


def cast_blind(vs: VoteSession, session: CompareSession, kind: VoteKind, ranking: Ranking | None = None) -> bool:
    """Is this vote cast blind? Names hidden now, or the same judgement as a vote cast while they were.

    Voting reveals the names, so a repeated click or a gold edit of a blind vote stays blind,
    while a changed mind after the reveal is not blind any more.
    """
    if blind_now(session):
        return True
    if vs.vote is None or vs.record is None or not vs.vote.blind:
        return False
    positions = [p.position for p in vs.record.panes]
    return vote_ranking(Vote(vs.record.id, "", kind, ranking=ranking), positions) == vs.vote.ranking


def vote_problem(vs: VoteSession, session: CompareSession) -> str | None:
    """Why a vote cannot be cast right now, or ``None``.

    Example:
        >>> vote_problem(VoteSession(), CompareSession())
        'There is no finished turn to vote on yet.'
    """
    if vs.record is None or not session.panes:
        return "There is no finished turn to vote on yet."
    if not is_current(vs, session):
        return "A new turn has started: vote on it when it has finished."
    reason = not_votable_reason(session.panes)
    return f"Voting is off for this turn: {reason}." if reason else None


def add_pick(picks: tuple[int, ...], pane: int, n: int) -> tuple[int, ...]:
    """The panes picked best first after a click on ``pane`` of ``n``: it takes the next place; a pane
    already placed keeps its place; once the ranking is complete a click starts a new one.

    Example:
        >>> add_pick((), 2, 3), add_pick((2,), 2, 3), add_pick((2,), 0, 3), add_pick((2, 0), 1, 3)
        ((2,), (2,), (2, 0), (1,))
    """
    if len(picks) >= n - 1:
        return (pane,)
    return picks if pane in picks else (*picks, pane)


def ranking_from_picks(picks: Sequence[int], n: int) -> Ranking | None:
    """The complete ranking once every pane but one is picked (that one is last), else ``None``.

    Example:
        >>> ranking_from_picks((1, 0), 3), ranking_from_picks((1,), 3)
        (((1,), (0,), (2,)), None)
    """
    if len(picks) < n - 1:
        return None
    return tuple((p,) for p in (*picks, *(p for p in range(n) if p not in picks)))


def pick_problem(vs: VoteSession, session: CompareSession, pane: int) -> str | None:
    """Why pane ``pane`` cannot be picked for a ranking now, or ``None``.

    Example:
        >>> pick_problem(VoteSession(), CompareSession(), 0)
        'There is no finished turn to vote on yet.'
    """
    if (problem := vote_problem(vs, session)) is not None:
        return problem
    n = len(session.panes)
    if n < 3:
        return "Ranking by clicking the panes is for three or four panes: use the vote buttons for two."
    return None if 0 <= pane < n else f"This turn has {n} panes: pane {chr(65 + pane)} is not one of them."


def places(picks: Sequence[int], n: int) -> list[int | None]:
    """Each pane's place (1 = best) as picked so far, the last pane's too once the ranking is complete.

    Example:
        >>> places((2,), 3), places((2, 0), 3)
        ([None, None, 1], [2, 3, 1])
    """
    return ranks_from_ranking(ranking_from_picks(picks, n) or tuple((p,) for p in picks), n)


def ranks_from_ranking(ranking: Ranking | None, n: int) -> list[int | None]:
    """Each pane's place in a ranking (dense: tied panes share one; ``None``: not placed), for its mark.

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


def cast_vote(vs: VoteSession, session: CompareSession, store: Store, voter: str, kind: VoteKind, *,
              ranking: Ranking | None = None, gold_text: str | None = None, terms_version: str | None = None,
              limits: TextLimits = DEFAULT_LIMITS) -> Vote:
    """Record ``voter``'s vote on the session's current turn; returns it as stored (after the commit).

    A vote in a blind battle reveals its names (on the panes, and later turns of the battle are not blind).

    Raises:
        InvalidVoteError: no current turn to vote on (a stale one, a turn not finished cleanly), or the vote
            does not fit it.
        StoreError, SQLAlchemyError: the store refused or failed; nothing changed.
    """
    if (problem := vote_problem(vs, session)) is not None:
        raise InvalidVoteError(problem)
    vote = new_vote(vs, voter, kind, ranking=ranking, gold_text=gold_text, blind=cast_blind(vs, session, kind, ranking),
                    terms_version=terms_version, limits=limits)
    vs.vote = record_vote(store, vote)
    if session.blind:
        session.revealed = True
    return vs.vote


def describe_vote(vote: Vote) -> str:
    """What the user chose, in words.

    Example:
        >>> describe_vote(Vote("t", "u", "ranking", ranking=((2,), (0, 1))))
        'C > A = B'
    """
    text = PAIR_CHOICES.get(vote.kind) or ranking_letters(vote.ranking or ())
    return text + (" (with an edited reply)" if vote.gold_text is not None else "")


def winner_text(vote: Vote | None, record: TurnRecord | None) -> str | None:
    """The single winner's reply as the model wrote it, or ``None`` when there is no single winner."""
    if vote is None or record is None or not vote.ranking:
        return None
    best = winner_position(vote.ranking)  # None for a tie or "both bad" (one group)
    return next((p.output for p in record.panes if p.position == best), None)


def gold_edit(vs: VoteSession, text: str) -> str | None:
    """The edited reply to keep with the vote: ``None`` when it is empty or the winner's reply unchanged.

    Example:
        >>> gold_edit(VoteSession(), "  ")
    """
    return None if text == winner_text(vs.vote, vs.record) or not text.strip() else text


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
