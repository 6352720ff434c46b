"""Quotas per voter and per address (turns per minute, votes per day, new sessions per hour).

Moving windows from the ``limits`` library, kept in this process's memory: each app process
counts its own traffic (a sticky balancer keeps one user on one process). A refusal is a
sentence that names the limit and when to come back.

Example:
    >>> q = Quotas(QuotaSettings(turns_per_voter="2/minute"))
    >>> [q.take_turn("v1:x", "198.51.100.1") for _ in range(3)][-1]
    'You have reached the limit of 2 turns per minute for one user; please wait a moment and send again.'
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class QuotaSettings:
    """Each quota as ``N/period`` (``limits`` notation: ``10/minute``, ``200/day``, ``60/hour``)."""

    turns_per_voter: str = "10/minute"
    turns_per_address: str = "30/minute"
    votes_per_voter: str = "200/day"
    votes_per_address: str = "500/day"
    sessions_per_address: str = "60/hour"

    def check(self) -> None:
        """Raise ``ValueError`` naming a quota that ``limits`` cannot read."""
        for name, value in vars(self).items():
            try:
                parse(value)
            except ValueError:
                raise ValueError(f"quota {name}={value!r}: write N/period, e.g. 10/minute or 200/day") from None


def _words(item: RateLimitItem, what: str) -> str:
    """``2 turns per minute``, ``200 votes per day``, ``60 sessions per 2 hours``."""
    period = item.GRANULARITY.name if item.multiples == 1 else f"{item.multiples} {item.GRANULARITY.name}s"
    return f"{item.amount} {what} per {period}"


class Quotas:
    """The app's quota counters (one per app; nothing at module level)."""

    def __init__(self, settings: QuotaSettings) -> None:
        settings.check()
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._items = {name: parse(value) for name, value in vars(settings).items()}

    def _take(self, name: str, key: str) -> bool:
        return self._limiter.hit(self._items[name], name, key)

    def _take_both(self, what: str, voter: str | None, address: str, then: str) -> str | None:
        """Count one ``what`` ("turns" or "votes") for the voter and the address; why not, if refused."""
        if voter is not None and not self._take(f"{what}_per_voter", voter):
            limit = _words(self._items[f"{what}_per_voter"], what)
            return f"You have reached the limit of {limit} for one user; {then}"
        if not self._take(f"{what}_per_address", address):
            return f"Your network has reached the limit of {_words(self._items[f'{what}_per_address'], what)}; {then}"
        return None

    def take_turn(self, voter: str | None, address: str) -> str | None:
        """Count one turn; ``None`` when allowed, else why not."""
        return self._take_both("turns", voter, address, "please wait a moment and send again.")

    def take_vote(self, voter: str, address: str) -> str | None:
        """Count one vote; ``None`` when allowed, else why not."""
        return self._take_both("votes", voter, address, "thank you — please come back later.")

    def take_session(self, address: str) -> bool:
        """Count one new browser session from ``address``; False when it has opened too many."""
        return self._take("sessions_per_address", address)
