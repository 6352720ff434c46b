"""Who is asking: a signed-in Hugging Face user, a user from the users file, the local operator,
or an anonymous visitor — resolved on the server from the request, never from a widget value.

Example:
    >>> policy = AccessPolicy(access="public", operators=("alice",), operator_orgs=(), proxy_hops=0, secret=b"k" * 32)
    >>> who = identify(policy, peer="203.0.113.9", headers={}, username="alice", oauth=None, browser_id=None)
    >>> who.operator, who.signed_in, who.address
    (True, True, '203.0.113.9')
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from playground.access.pseudonym import pseudonym

Access = Literal["local", "public"]
BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
LOCAL_OPERATOR = "local operator"


@dataclass(frozen=True)
class AccessPolicy:
    """The settings identity depends on (built once per app from ``Settings`` and the secret)."""

    access: Access
    operators: tuple[str, ...]
    operator_orgs: tuple[str, ...]
    proxy_hops: int
    secret: bytes


@dataclass(frozen=True)
class Identity:
    """One caller as the server sees it.

    ``name`` is the signed-in name (``None`` when anonymous); ``voter`` the pseudonym votes and
    turns are stored under (``None`` for an anonymous caller without a browser id); ``address``
    the client's IP address (after trusted proxies), used for quotas and never stored.
    """

    name: str | None
    orgs: tuple[str, ...]
    operator: bool
    voter: str | None
    address: str

    @property
    def signed_in(self) -> bool:
        """Signed in with Hugging Face or the users file (the local operator counts as signed in)."""
        return self.name is not None


def client_address(peer: str | None, headers: Mapping[str, str], proxy_hops: int) -> str:
    """The client's address: the peer, or the entry ``proxy_hops`` from the right of X-Forwarded-For.

    Only entries added by trusted proxies are believed: a client can write any X-Forwarded-For,
    but the proxies in front of the app append the address they saw on the right.

    Example:
        >>> client_address("10.0.0.2", {"x-forwarded-for": "1.2.3.4, 198.51.100.7"}, 1)
        '198.51.100.7'
        >>> client_address("10.0.0.2", {"x-forwarded-for": "1.2.3.4"}, 0)
        '10.0.0.2'
    """
    if proxy_hops > 0:
        hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        if len(hops) >= proxy_hops:
            return hops[-proxy_hops]
    return peer or "unknown"


def is_loopback(address: str) -> bool:
    """Is ``address`` this machine (127.0.0.0/8 or ::1)?

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("192.0.2.1"), is_loopback("x")
        (True, True, False, False)
    """
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def oauth_user(session: Mapping[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
    """The Hugging Face user and organisations from Gradio's OAuth session (``oauth_info``), if any.

    Example:
        >>> oauth_user({"oauth_info": {"userinfo": {"preferred_username": "bob",
        ...             "orgs": [{"preferred_username": "NousResearch"}]}}})
        ('bob', ('NousResearch',))
        >>> oauth_user({}) is None
        True
    """
    info = (session or {}).get("oauth_info")
    userinfo = info.get("userinfo") if isinstance(info, Mapping) else None
    if not isinstance(userinfo, Mapping) or not isinstance(userinfo.get("preferred_username"), str):
        return None
    orgs = userinfo.get("orgs") if isinstance(userinfo.get("orgs"), Sequence) else ()
    names = tuple(str(o.get("preferred_username") or o.get("name")) for o in orgs
                  if isinstance(o, Mapping) and (o.get("preferred_username") or o.get("name")))
    return str(userinfo["preferred_username"]), names


def identify(policy: AccessPolicy, *, peer: str | None, headers: Mapping[str, str], username: str | None,
             oauth: Mapping[str, Any] | None, browser_id: str | None) -> Identity:
    """Resolve the caller.

    Args:
        policy: the app's access settings.
        peer: the TCP peer's address.
        headers: request headers (lower-case names).
        username: the name Gradio's ``auth=`` login gave this session, if any.
        oauth: Gradio's OAuth session (Spaces' "Sign in with Hugging Face"), if any.
        browser_id: the anonymous browser id the page keeps in local storage, if any.

    Returns:
        The ``Identity``. On a ``local`` deployment a request from this machine that did not
        come through a proxy is the single local operator.
    """
    address = client_address(peer, headers, policy.proxy_hops)
    signed = oauth_user(oauth)
    name, orgs = signed if signed else (username, ())
    if name is None and policy.access == "local" and is_loopback(address) and "x-forwarded-for" not in headers:
        name = LOCAL_OPERATOR
    if name is not None:
        operator = (name == LOCAL_OPERATOR or name in policy.operators
                    or any(org in policy.operator_orgs for org in orgs))
        return Identity(name, orgs, operator, pseudonym(policy.secret, "user", name), address)
    browser = browser_id if browser_id and BROWSER_ID.match(browser_id) else None
    voter = pseudonym(policy.secret, "browser", browser) if browser else None
    return Identity(None, (), False, voter, address)
