"""The users file for deployments off Spaces: names with scrypt password hashes, checked by Gradio's
``auth=`` login. Make an entry with ``python -m playground.access.users NAME`` (asks for the password).

File format (TOML)::

    [[users]]
    name = "alice"
    password = "scrypt$16384$8$1$<salt hex>$<hash hex>"

Example:
    >>> users = {"alice": hash_password("correct horse", salt=b"s" * 16)}
    >>> check_login(users, "alice", "correct horse"), check_login(users, "alice", "wrong")
    (True, False)
    >>> check_login(users, "bob", "x")
    False
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import re
import secrets
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``password`` (hashlib's scrypt: memory-hard, in the standard library)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_login(users: Mapping[str, str], name: str, password: str) -> bool:
    """Does ``password`` match ``name``'s stored hash? (Constant-time compare; unknown names are False.)"""
    stored = users.get(name) if isinstance(name, str) else None
    if stored is None or not isinstance(password, str):
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        given = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(bytes.fromhex(digest)))
    except ValueError:
        return False
    return hmac.compare_digest(given.hex(), digest)


def read_users(path: Path) -> dict[str, str]:
    """Name -> password hash from a users file.

    Raises:
        ValueError: the file is missing, not TOML, or an entry lacks a valid name or an scrypt hash.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"users file {path}: {exc}") from None
    users: dict[str, str] = {}
    for i, entry in enumerate(data.get("users", []), start=1):
        name, password = entry.get("name"), entry.get("password")
        if not isinstance(name, str) or not NAME.match(name):
            raise ValueError(f"users file {path}: entry {i} needs a name of letters, digits, '.', '_' or '-'")
        if not isinstance(password, str) or not password.startswith("scrypt$"):
            raise ValueError(f"users file {path}: user {name!r} needs a password made by "
                             "`python -m playground.access.users NAME`")
        users[name] = password
    if not users:
        raise ValueError(f"users file {path} lists no [[users]]")
    return users


def main(argv: list[str]) -> None:
    """Print a users-file entry for NAME, reading the password from the terminal (or stdin)."""
    if len(argv) != 1 or not NAME.match(argv[0]):
        sys.exit("usage: python -m playground.access.users NAME  (letters, digits, '.', '_', '-')")
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        sys.exit("use a password of at least 8 characters")
    print(f'[[users]]\nname = "{argv[0]}"\npassword = "{hash_password(password)}"')


if __name__ == "__main__":
    main(sys.argv[1:])
