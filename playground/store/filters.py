"""Text from a form or a command line -> a ``VoteFilter`` or ``ExportOptions`` (pure).

Example:
    >>> vote_filter(since="2025-01-01", until="2025-01-31", modes=["chat"]).until.isoformat()
    '2025-02-01T00:00:00+00:00'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from playground.store.db import VoteFilter
from playground.store.quality import ExportOptions


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
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    start = datetime.combine(day, time(), tzinfo=UTC)
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


def rater_list(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Rater pseudonyms from a list, or from text with one per line (commas and spaces also separate).

    Example:
        >>> rater_list("v1:abc, v1:def\\nv1:abc")
        ('v1:abc', 'v1:def')
    """
    items = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value or ())
    return tuple(dict.fromkeys(i.strip() for i in items if i and i.strip()))


def _off_when_blank(value: float | str | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value) or None  # 0 means off, as a blank box does


def export_options(
    *,
    since: str | None = None,
    until: str | None = None,
    modes: Sequence[str] = (),
    backends: Sequence[str] = (),
    blind_only: bool = False,
    exclude_raters: str | Sequence[str] | None = (),
    same_context_only: bool = True,
    drop_ties: bool = False,
    min_rank_margin: float | str | None = 1,
    max_length_ratio: float | str | None = None,
    dedup_threshold: float | str | None = None,
) -> ExportOptions:
    """``ExportOptions`` from form values (the Data tab): dates as in ``vote_filter``; a blank or 0
    length ratio / threshold turns that control off; a blank margin means 1 (every pair).

    Raises:
        ValueError: a value that does not parse or is out of range; the message names it.

    Example:
        >>> export_options(until="2025-01-31", max_length_ratio="", dedup_threshold=0.8).dedup_threshold
        0.8
    """
    flt = vote_filter(since=since, until=until, modes=modes, backends=backends)
    margin = _off_when_blank(min_rank_margin) or 1
    return ExportOptions(
        since=flt.since, until=flt.until, modes=tuple(flt.modes), backends=tuple(flt.backends),  # type: ignore[arg-type]
        blind_only=bool(blind_only), exclude_raters=rater_list(exclude_raters),
        same_context_only=bool(same_context_only),
        drop_ties=bool(drop_ties), min_rank_margin=int(margin) if margin == int(margin) else margin,  # type: ignore[arg-type]
        max_length_ratio=_off_when_blank(max_length_ratio), dedup_threshold=_off_when_blank(dedup_threshold),
    )
