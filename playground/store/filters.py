"""Text from a form or a command line -> a ``VoteFilter`` (pure).

Example:
    >>> vote_filter(since="2025-01-01", until="2025-01-31", modes=["chat"]).until.isoformat()
    '2025-02-01T00:00:00+00:00'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone

from playground.store.db import VoteFilter


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """``2025-01-31`` (a whole day, UTC) or an ISO datetime (UTC when it has no offset).

    With ``end_of_day``, a bare date means the start of the next day (an exclusive bound
    that keeps the whole day); an ISO datetime is taken as given.

    Raises:
        ValueError: neither a date nor an ISO datetime.

    Example:
        >>> parse_moment("2025-01-31", end_of_day=True).isoformat()
        '2025-02-01T00:00:00+00:00'
    """
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is neither a date (2025-01-31) nor an ISO datetime") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    start = datetime.combine(day, time(), tzinfo=timezone.utc)
    return start + timedelta(days=1) if end_of_day else start


def vote_filter(
    *,
    since: str | None = None,
    until: str | None = None,
    modes: Sequence[str] = (),
    backends: Sequence[str] = (),
    blind_only: bool = False,
) -> VoteFilter:
    """A ``VoteFilter`` from form values: blank dates mean unbounded, ``until`` keeps its whole day.

    Raises:
        ValueError: a date that does not parse, or ``since`` after ``until``.
    """
    start = parse_moment(since) if since and since.strip() else None
    end = parse_moment(until, end_of_day=True) if until and until.strip() else None
    if start and end and start >= end:
        raise ValueError(f"the date range {since} … {until} is empty")
    return VoteFilter(since=start, until=end, modes=tuple(modes), backends=tuple(backends), blind_only=blind_only)
