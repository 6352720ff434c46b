"""Reading the store for the Data tab: a page of turns with their votes, one turn's votes, counts.

Filters are a ``VoteFilter`` read for turns: dates and modes select turns by when they were
stored, backends keep turns with a pane on one of them, ``blind_only`` keeps blind votes (and
so only voted turns). Every query is bounded (a page, a group-by), whatever the store holds.

Example:
    >>> from playground.store.db import open_store
    >>> page, total = turn_page(open_store("sqlite://"), VoteFilter())
    >>> total, list(page.columns)[:3]
    (0, ['time', 'turn', 'mode'])
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from playground.store import records
from playground.store.db import Store, VoteFilter
from playground.store.schema import turn_panes, turns, votes
from playground.store.votes import PAIR_VOTES, ranking_letters
from playground.types import Vote

PAGE_COLUMNS = ["time", "turn", "mode", "blind", "panes", "message", "vote", "rater"]
MESSAGE_CHARS = 80


def turn_filter_clauses(flt: VoteFilter) -> list[sa.ColumnElement[bool]]:
    """``WHERE`` clauses for ``flt`` read for turns (see above) over ``turns`` outer-joined with ``votes``."""
    clauses: list[sa.ColumnElement[bool]] = []
    if flt.since is not None:
        clauses.append(turns.c.created_at >= flt.since)
    if flt.until is not None:
        clauses.append(turns.c.created_at < flt.until)
    if flt.modes:
        clauses.append(turns.c.mode.in_(list(flt.modes)))
    if flt.blind_only:
        clauses.append(votes.c.blind.is_(True))
    if flt.backends:
        tp = turn_panes.alias("backend_filter")
        clauses.append(sa.exists(sa.select(tp.c.turn_id).where(tp.c.turn_id == turns.c.id,
                                                               tp.c.backend_id.in_(list(flt.backends)))))
    return clauses


_TURNS_AND_VOTES = turns.outerjoin(votes, votes.c.turn_id == turns.c.id)
_PAIR_LABELS: dict[str, str] = {kind: pair.label for kind, pair in PAIR_VOTES.items()}


def _vote_text(kind: str | None, ranking: list[list[int]] | None) -> str:
    if kind is None:
        return ""
    if kind == "ranking":
        return ranking_letters(ranking or ())
    return _PAIR_LABELS.get(kind, kind)


def turn_page(store: Store, flt: VoteFilter, *, page: int = 1, page_size: int = 50) -> tuple[pd.DataFrame, int]:
    """One page (1-based, newest turn first) of turns with their votes, and how many rows match in all.

    A turn appears once per vote (once with an empty vote when nobody voted). ``panes`` lists
    the backends in pane order; ``message`` is the turn's last user message, cut to 80 characters.
    """
    where = turn_filter_clauses(flt)
    count = sa.select(sa.func.count()).select_from(_TURNS_AND_VOTES).where(*where)
    stmt = (sa.select(turns.c.id, turns.c.created_at, turns.c.mode, turns.c.blind, turns.c.messages, votes.c.kind,
                      votes.c.ranking, votes.c.user_id)
            .select_from(_TURNS_AND_VOTES).where(*where)
            .order_by(turns.c.created_at.desc(), turns.c.id, votes.c.updated_at)
            .limit(page_size).offset((max(page, 1) - 1) * page_size))
    with store.engine.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        rows = conn.execute(stmt).all()
        ids = sorted({r.id for r in rows})
        pane_rows = conn.execute(sa.select(turn_panes.c.turn_id, turn_panes.c.position, turn_panes.c.backend_id)
                                 .where(turn_panes.c.turn_id.in_(ids)).order_by(turn_panes.c.position)).all()
    panes: dict[str, list[str]] = {}
    for p in pane_rows:
        panes.setdefault(p.turn_id, []).append(f"{chr(65 + p.position)}: {p.backend_id}")
    out = []
    for r in rows:
        asked = next((m["content"] for m in reversed(r.messages or []) if m.get("role") == "user"), "")
        out.append({
            "time": r.created_at.strftime("%Y-%m-%d %H:%M:%S"), "turn": r.id, "mode": r.mode, "blind": bool(r.blind),
            "panes": " · ".join(panes.get(r.id, [])),
            "message": asked if len(asked) <= MESSAGE_CHARS else asked[: MESSAGE_CHARS - 1] + "…",
            "vote": _vote_text(r.kind, r.ranking), "rater": r.user_id or "",
        })
    return pd.DataFrame(out, columns=PAGE_COLUMNS), total


def turn_votes(store: Store, turn_id: str) -> list[Vote]:
    """Every vote on the turn, oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(votes).where(votes.c.turn_id == turn_id).order_by(votes.c.created_at)).mappings()
        return [records.vote_from_row(r) for r in rows]


def _day(store: Store) -> sa.ColumnElement[str]:
    if store.dialect == "sqlite":
        return sa.func.date(turns.c.created_at)  # stored naive, in UTC
    return sa.func.to_char(sa.func.timezone("UTC", turns.c.created_at), "YYYY-MM-DD")


def counts_by_day(store: Store, flt: VoteFilter) -> pd.DataFrame:
    """Turns and votes per UTC day and mode: columns ``day``, ``mode``, ``turns``, ``votes``."""
    day = _day(store).label("day")
    stmt = (sa.select(day, turns.c.mode, sa.func.count(sa.distinct(turns.c.id)).label("turns"),
                      sa.func.count(votes.c.id).label("votes"))
            .select_from(_TURNS_AND_VOTES).where(*turn_filter_clauses(flt)).group_by(day, turns.c.mode).order_by(day))
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(stmt).all(), columns=["day", "mode", "turns", "votes"])


def counts_by_model(store: Store, flt: VoteFilter) -> pd.DataFrame:
    """Turns and votes per model (served model id, else backend id) and mode, most turns first."""
    model = sa.func.coalesce(sa.func.nullif(turn_panes.c.model_id, ""), turn_panes.c.backend_id).label("model")
    stmt = (sa.select(model, turns.c.mode, sa.func.count(sa.distinct(turns.c.id)).label("turns"),
                      sa.func.count(votes.c.id).label("votes"))
            .select_from(_TURNS_AND_VOTES.join(turn_panes, turn_panes.c.turn_id == turns.c.id))
            .where(*turn_filter_clauses(flt)).group_by(model, turns.c.mode))
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).all(), columns=["model", "mode", "turns", "votes"])
    return frame.sort_values(["turns", "model"], ascending=[False, True], ignore_index=True)
