"""One-off upgrades of stores written by earlier versions, run when the app opens its store.

- ``turns.session_id`` held the voter's Gradio session hash, which is a credential: the column
  is dropped (with its index).
- ``votes.terms_version`` (the consent notice a voter accepted) is added.
- ``user_id`` held a user name or ``session:<hash>``: each becomes a pseudonym from the function
  the app passes (a keyed hash), the same value in ``turns`` and ``votes``.
- The ``rechecks`` table (consistency checks, ``playground.store.rechecks``) is created if missing.
- The ``judgements`` table (an LLM judge's verdicts, ``playground.store.judgements``) too.

Every step is idempotent; they run in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from playground.store.engine import Store, write_transaction
from playground.store.judgements import judgements
from playground.store.rechecks import rechecks
from playground.store.schema import turns, votes


def upgrade_store(store: Store, pseudonymize: Callable[[str], str], is_pseudonym: Callable[[str], bool]) -> int:
    """Drop the legacy session column and pseudonymize legacy voter ids; return how many ids changed.

    Example:
        >>> from playground.store.db import open_store
        >>> upgrade_store(open_store("sqlite://"), str.upper, str.isupper)
        0
    """
    with write_transaction(store) as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("turns")}
        if "session_id" in columns:
            for index in sa.inspect(conn).get_indexes("turns"):
                if "session_id" in index["column_names"]:
                    conn.execute(sa.text(f'DROP INDEX IF EXISTS "{index["name"]}"'))
            conn.execute(sa.text("ALTER TABLE turns DROP COLUMN session_id"))
        if "terms_version" not in {c["name"] for c in sa.inspect(conn).get_columns("votes")}:
            conn.execute(sa.text("ALTER TABLE votes ADD COLUMN terms_version VARCHAR(64)"))
        rechecks.create(conn, checkfirst=True)
        judgements.create(conn, checkfirst=True)
        changed = 0
        for table in (turns, votes):
            legacy = [u for u in conn.execute(sa.select(table.c.user_id).distinct()).scalars() if not is_pseudonym(u)]
            for old in legacy:
                conn.execute(table.update().where(table.c.user_id == old).values(user_id=pseudonymize(old)))
            changed += len(legacy)
    return changed
