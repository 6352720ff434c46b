"""Preference store schema: the ``turns``, ``turn_panes`` and ``votes`` tables and their column types.

Plain SQLAlchemy Core on one ``metadata``; other store modules add their own tables to it
(``rechecks``, ``judgements``). Datetimes are UTC on every dialect, JSON is JSONB on PostgreSQL.

Example:
    >>> [c.name for c in turn_panes.primary_key]
    ['turn_id', 'position']
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite stores them naive, in UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(36)

metadata = sa.MetaData()

turns = sa.Table(
    "turns",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", sa.String(128), nullable=False, index=True),  # the voter's pseudonym
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("messages", JSON, nullable=False),  # shared context typed by the user
    sa.Column("tools", JSON),  # tool schemas (tools mode)
    sa.Column("json_schema", JSON),  # JSON mode schema
    sa.Column("sampling", JSON, nullable=False),
    sa.Column("blind", sa.Boolean, nullable=False),
    sa.Column("pane_order", JSON, nullable=False),  # positions in display order
    sa.Column("n_panes", sa.Integer, nullable=False),
)

turn_panes = sa.Table(
    "turn_panes",
    metadata,
    sa.Column("turn_id", ID, sa.ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("backend_id", sa.String(128), nullable=False, index=True),
    sa.Column("model_id", sa.String(256), nullable=False),
    sa.Column("label", sa.String(256), nullable=False),
    sa.Column("system_prompt", sa.Text),  # NULL = no system turn, "" = empty system turn
    sa.Column("prompt_messages", JSON, nullable=False),  # full context sent, system first
    sa.Column("output", sa.Text, nullable=False),  # raw assistant reply
    sa.Column("followup", JSON, nullable=False),  # rest of an in-turn tool loop
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("ttft_s", sa.Float),
    sa.Column("total_s", sa.Float),
    sa.Column("tokens", sa.Integer),
    sa.Column("tokens_per_s", sa.Float),
    sa.Column("finish_reason", sa.String(32)),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("turn_id", ID, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # a votes.PAIR_VOTES kind, or ranking
    sa.Column("ranking", JSON, nullable=False),  # canonical groups of positions, best first
    sa.Column("blind", sa.Boolean, nullable=False),
    sa.Column("gold_text", sa.Text),  # edited winning reply
    sa.Column("gold_original", sa.Text),  # the reply as the model wrote it
    sa.Column("terms_version", sa.String(64)),  # the consent notice accepted (public deployments)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
    sa.UniqueConstraint("turn_id", "user_id", name="uq_votes_turn_user"),
)
