"""What a script sends the named API (``ui/api.py``), checked: earlier messages and a vote choice (pure).

The page keeps a conversation in its session; a script sends it as ``history``. The page votes
with buttons; a script names its choice as text.

Example:
    >>> vote_choice("B", 2)
    ('b', None)
    >>> vote_choice("C > A = B", 3)
    ('ranking', ((2,), (0, 1)))
    >>> history_messages([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
    [Message(role='user', content='Hi'), Message(role='assistant', content='Hello!')]
"""

from __future__ import annotations

from playground.compare.prepare import TurnSetupError
from playground.limits import (
    DEFAULT_LIMITS,
    InputRefused,
    TextLimits,
    check_tokens_free,
)
from playground.store.errors import InvalidVoteError
from playground.store.votes import PAIR_VOTES, Ranking
from playground.types import Message, VoteKind

PAIR_KINDS: dict[str, VoteKind] = {**{kind: kind for kind in PAIR_VOTES}, "both bad": "bothbad"}  # choice -> kind
HISTORY_SHAPE = "{'role': 'user' | 'assistant', 'content': text}"


def history_messages(raw: object, limits: TextLimits = DEFAULT_LIMITS) -> list[Message]:
    """Earlier turns as messages: user and assistant in turn, first user, last assistant (``None``: none).

    Each text is held to the message limit and the special-token policy, as a typed message is.

    Raises:
        TurnSetupError: the message says which entry is wrong and how.

    Example:
        >>> history_messages([{"role": "user", "content": "Hi"}])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        playground.compare.prepare.TurnSetupError: history must end with an assistant message: ...
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TurnSetupError(f"history must be a list of messages {HISTORY_SHAPE}, or null.")
    messages = []
    for i, item in enumerate(raw):
        role = "user" if i % 2 == 0 else "assistant"
        if not isinstance(item, dict) or set(item) != {"role", "content"}:
            raise TurnSetupError(f"history[{i}] must be {HISTORY_SHAPE}.")
        if item["role"] != role:
            raise TurnSetupError(f"history[{i}] must have role {role!r}: user and assistant take turns, user first.")
        try:
            content = limits.text(f"history[{i}]", item["content"], "message_chars")
            check_tokens_free(f"history[{i}]", content)
        except InputRefused as exc:
            raise TurnSetupError(str(exc)) from None
        messages.append(Message(role, content))
    if len(messages) % 2:
        raise TurnSetupError("history must end with an assistant message: your message is the next user turn.")
    return messages


def vote_choice(choice: object, n_panes: int) -> tuple[VoteKind, Ranking | None]:
    """A vote named as text: a ``votes.PAIR_VOTES`` kind (``A``, ``tie``, …) for two panes, a ranking for three or four.

    A ranking names every pane once, best first; ``>`` separates places, ``=`` ties.

    Raises:
        InvalidVoteError: the choice does not fit the turn; the message shows the form it takes.

    Example:
        >>> vote_choice("b > a > d > c", 4)
        ('ranking', ((1,), (0,), (3,), (2,)))
        >>> vote_choice("A > B", 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        playground.store.errors.InvalidVoteError: Invalid vote: for 3 panes rank every pane once, ... got 'A > B'.
    """
    if n_panes == 2:
        kind = PAIR_KINDS.get(choice.strip().lower()) if isinstance(choice, str) else None
        if kind is None:
            kinds = ", ".join(k.upper() if len(k) == 1 else k for k in PAIR_VOTES)
            raise InvalidVoteError(f"for 2 panes choose one of {kinds}; got {choice!r:.80}")
        return kind, None
    letters = [chr(65 + i) for i in range(n_panes)]
    groups = ([[p.strip().upper() for p in place.split("=")] for place in choice.split(">")]
              if isinstance(choice, str) else [])
    named = [p for group in groups for p in group]
    if sorted(named) != letters:
        raise InvalidVoteError(f"for {n_panes} panes rank every pane once, best first, e.g. "
                               f"'{' > '.join(letters[1::-1])} = {' = '.join(letters[2:])}' (= is a tie); "
                               f"got {choice!r:.80}")
    return "ranking", tuple(tuple(letters.index(p) for p in group) for group in groups)
