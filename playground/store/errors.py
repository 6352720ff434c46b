"""Every exception the store layer raises.

Callers catch by type, never by message text. Each message says what to do next.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every error raised by ``playground.store``."""


class TurnNotFoundError(StoreError, LookupError):
    """A turn id that the store does not hold (save the turn before voting on it)."""

    def __init__(self, turn_id: str) -> None:
        super().__init__(f"No stored turn with id {turn_id!r}; save the turn with save_turn() first.")
        self.turn_id = turn_id


class VoteNotAllowedError(StoreError):
    """The turn cannot be voted on: fewer than two panes, or a pane failed or was stopped."""

    def __init__(self, turn_id: str, reason: str) -> None:
        super().__init__(f"Cannot vote on turn {turn_id!r}: {reason}. Run the turn again and vote on that one.")
        self.turn_id = turn_id
        self.reason = reason


class InvalidVoteError(StoreError, ValueError):
    """The vote does not fit the turn (wrong kind for the pane count, bad ranking, misplaced gold edit)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid vote: {reason}.")
        self.reason = reason


class InvalidTurnError(StoreError, ValueError):
    """A turn record that cannot be stored as given (e.g. duplicate pane positions)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid turn record: {reason}.")
        self.reason = reason
