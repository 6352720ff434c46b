"""Masking secrets in text a backend sent: configured token values and URL credentials.

A server or gateway may echo the request (its ``Authorization`` header, its URL) in an error;
such text is shown in a pane and stored, so every secret the app holds is masked first.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from playground.types import BackendSpec

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values are masked where they stand as credentials only (else "p" would eat "http")
_URL_USERINFO = re.compile(r"(?<=://)[^\s/?#@]+@")
_AUTH_SCHEME_VALUE = re.compile(r"\b(Bearer|Basic|Token)\s+[\w.~+/=-]+", re.IGNORECASE)
_ANY_URL = re.compile(r"\b(?:https?|wss?)://[^\s\"'<>()]+", re.IGNORECASE)


def url_credentials(url: str) -> list[str]:
    """The secrets a URL's ``user:pass@`` part puts on the wire (raw, decoded, as Basic auth).

    >>> url_credentials("http://bob:s3cret@host:80")
    ['bob:s3cret', 'Ym9iOnMzY3JldA==', 's3cret']
    """
    parts = urlsplit(url)
    if parts.username is None:
        return []
    user, password = unquote(parts.username), unquote(parts.password or "")
    pair = f"{user}:{password}"
    return [pair, base64.b64encode(pair.encode()).decode(), *([password] if password else [user])]


def mask_url_credentials(url: str) -> str:
    """``url`` with any ``user:pass@`` replaced by ``***@``.

    >>> mask_url_credentials("https://bob:s3cret@example.org/v1")
    'https://***@example.org/v1'
    """
    return _URL_USERINFO.sub(f"{MASK}@", url)


@dataclass(frozen=True)
class Redactor:
    """Masks every configured backend token and URL credential in a text.

    Token values are read from their variables at masking time, as requests read them.

    >>> Redactor(urls=("http://u:s3cret@h",)).mask("auth failed for s3cret, see http://u:s3cret@h/x")
    'auth failed for ***, see http://***@h/x'
    """

    token_envs: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    @classmethod
    def for_specs(cls, specs: Iterable[BackendSpec]) -> Redactor:
        """A redactor for the tokens and URL credentials of all these backends."""
        specs = list(specs)
        return cls(tuple(s.token_env for s in specs if s.token_env), tuple(s.base_url for s in specs))

    def secrets(self) -> list[str]:
        """The secret values to mask, longest first (so no part of one is left behind)."""
        values = {os.environ.get(name, "") for name in self.token_envs}
        values.update(secret for url in self.urls for secret in url_credentials(url))
        return sorted((v for v in values if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with URL credentials, ``Bearer``/``Basic`` values and secrets replaced by ``***``."""
        text = _URL_USERINFO.sub(f"{MASK}@", text)
        text = _AUTH_SCHEME_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)
        for secret in self.secrets():
            text = text.replace(secret, MASK)
        return text


def hide_addresses(text: str, base_url: str) -> str:
    """``text`` without URLs or the backend's host name: what anyone may see of an error.

    >>> hide_addresses("cannot reach tgi-8b:80 (see http://tgi-8b/health)", "http://tgi-8b:80")
    'cannot reach [backend host] (see [URL])'
    """
    text = _ANY_URL.sub("[URL]", text)
    host = urlsplit(base_url).hostname
    if host:
        text = re.sub(rf"(?<![\w.-]){re.escape(host)}(?::\d+)?(?![\w-])", "[backend host]", text, flags=re.IGNORECASE)
    return text
