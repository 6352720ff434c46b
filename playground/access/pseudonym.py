"""Voter pseudonyms: a keyed hash (HMAC-SHA256) of who voted, so exports can group a rater's votes
without naming them, and never a Gradio ``session_hash`` (a credential).

The key is the server secret (``$HERMES_SECRET``); without it a random key is kept in a file next
to the SQLite store, so pseudonyms stay stable across restarts of one machine.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger(__name__)
PREFIX = "v1:"
MIN_SECRET_CHARS = 16


def pseudonym(secret: bytes, kind: str, value: str) -> str:
    """The stable pseudonym of one voter: ``v1:`` and 32 hex digits of HMAC-SHA256(secret, kind:value).

    ``kind`` keeps namespaces apart (``user`` for a signed-in name, ``browser`` for an anonymous
    browser's id, ``legacy-session`` for rows stored before pseudonyms existed).

    Example:
        >>> pseudonym(b"k" * 32, "user", "alice") == pseudonym(b"k" * 32, "user", "alice")
        True
        >>> pseudonym(b"k" * 32, "user", "alice").startswith("v1:")
        True
        >>> pseudonym(b"k" * 32, "user", "alice") != pseudonym(b"k" * 32, "browser", "alice")
        True
    """
    digest = hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:32]


def public_key_for(secret: bytes, purpose: str) -> str:
    """A key derived one way from the server secret, safe to put in the page (e.g. ``gr.BrowserState``'s
    encryption key, which Gradio sends to the browser): knowing it reveals nothing of ``secret``.

    Example:
        >>> key = public_key_for(b"k" * 32, "browser-state")
        >>> len(key), key == public_key_for(b"k" * 32, "browser-state"), b"k".hex() in key
        (32, True, False)
    """
    return hmac.new(secret, f"public:{purpose}".encode(), hashlib.sha256).hexdigest()[:32]


def is_pseudonym(value: str) -> bool:
    """Is ``value`` already a pseudonym (as opposed to a name or a legacy session id)?

    Example:
        >>> is_pseudonym("session:abc"), is_pseudonym(pseudonym(b"k" * 16, "user", "a"))
        (False, True)
    """
    return value.startswith(PREFIX) and len(value) == len(PREFIX) + 32


def key_file_for(database_url: str) -> Path | None:
    """Where the generated key lives: beside a SQLite file store, else nowhere (``None``).

    Example:
        >>> key_file_for("sqlite:///data/playground.db").as_posix()
        'data/pseudonym.key'
        >>> key_file_for("postgresql+psycopg://u@h/db") is None
        True
    """
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).parent / "pseudonym.key"


def load_secret(env: Mapping[str, str], secret_env: str, key_file: Path | None) -> bytes:
    """The server secret: ``$secret_env`` if set, else a random key kept in ``key_file``.

    A store shared by replicas (PostgreSQL) needs the variable, or each process would name the
    same voter differently; then a random per-process key is used and a warning logged.

    Raises:
        ValueError: the variable is set but shorter than 16 characters.
    """
    value = env.get(secret_env, "")
    if value:
        if len(value) < MIN_SECRET_CHARS:
            raise ValueError(f"${secret_env} must be at least {MIN_SECRET_CHARS} characters long")
        return value.encode()
    if key_file is None:
        log.warning("$%s is not set: voter pseudonyms use a random key until this process ends", secret_env)
        return secrets.token_bytes(32)
    try:
        return bytes.fromhex(key_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        key = secrets.token_bytes(32)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex())
        log.warning("$%s is not set: voter pseudonyms use the key in %s (set the variable on a Space)",
                    secret_env, key_file)
        return key


def legacy_pseudonym(secret: bytes) -> Callable[[str], str]:
    """How ids stored before pseudonyms existed are renamed: ``session:<hash>`` and plain user names.

    A signed-in name maps to the pseudonym that user's new votes get, so their history stays one rater.

    Example:
        >>> rename = legacy_pseudonym(b"k" * 32)
        >>> rename("alice") == pseudonym(b"k" * 32, "user", "alice")
        True
        >>> rename("session:abc") == pseudonym(b"k" * 32, "legacy-session", "abc")
        True
    """

    def rename(old: str) -> str:
        if old.startswith("session:"):
            return pseudonym(secret, "legacy-session", old.removeprefix("session:"))
        return pseudonym(secret, "user", old)

    return rename
