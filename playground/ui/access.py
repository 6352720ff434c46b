"""Who may do what, asked by every handler on the server (never by hiding a tab or an API name).

``Gatekeeper`` turns a ``gr.Request`` into an ``Identity`` and raises ``gr.Error`` with a clear
message when the caller may not act: operators browse, export and push; everyone else chats
and votes within quotas and the vote policy, after accepting the terms on a public deployment.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from playground.access.identity import AccessPolicy, Identity, identify
from playground.access.pseudonym import pseudonym
from playground.access.quotas import Quotas
from playground.settings import Settings
from playground.ui.inputs import refusal

TERMS_VERSION = re.compile(r"<!--\s*version:\s*(\S+)\s*-->")


@dataclass
class Visitor:
    """One browser session's anonymous id (kept in the browser's local storage) and accepted terms."""

    browser_id: str | None = None
    terms: str | None = None


@dataclass(frozen=True)
class Terms:
    """The consent notice shown before a first vote on a public deployment, and its version."""

    text: str
    version: str


def load_terms(path: Path) -> Terms:
    """Read the notice; its version is the ``<!-- version: … -->`` line at the top."""
    text = path.read_text(encoding="utf-8")
    found = TERMS_VERSION.search(text)
    if not found:
        raise ValueError(f"{path} must start with a '<!-- version: … -->' line")
    return Terms(TERMS_VERSION.sub("", text).strip(), found.group(1))


def new_browser_id() -> str:
    """A fresh random id for an anonymous browser (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


def _oauth_session(request: gr.Request) -> dict[str, Any] | None:
    raw = request.request  # the Starlette request; its scope holds Gradio's OAuth session, if any
    session = raw.scope.get("session") if raw is not None else None
    return session if isinstance(session, dict) else None


class Gatekeeper:
    """The app's access decisions (one per app)."""

    def __init__(self, settings: Settings, secret: bytes, terms: Terms) -> None:
        self.settings, self.terms = settings, terms
        self.policy = AccessPolicy(settings.access, settings.operators, settings.operator_orgs,
                                   settings.proxy_hops, secret)
        self.quotas = Quotas(settings.quotas)

    @property
    def public(self) -> bool:
        """Is this a public deployment (sign-in, roles, quotas, consent)?"""
        return self.settings.access == "public"

    def identify(self, request: gr.Request, visitor: Visitor | None = None) -> Identity:
        """The caller of this request."""
        raw = request.request
        headers = {k.lower(): v for k, v in raw.headers.items()} if raw is not None else {}
        peer = raw.client.host if raw is not None and raw.client else None
        return identify(self.policy, peer=peer, headers=headers, username=request.username,
                        oauth=_oauth_session(request), browser_id=visitor.browser_id if visitor else None)

    def operator(self, request: gr.Request) -> Identity:
        """The caller, who must be an operator; else ``gr.Error``."""
        who = self.identify(request)
        if not who.operator:
            raise refusal("Only operators may browse, export or push the collected data. "
                           + ("Sign in as an operator." if not who.signed_in else
                              "Ask the Space's owner to add you to the operators."), title="Not allowed")
        return who

    def turn(self, request: gr.Request, visitor: Visitor | None) -> Identity:
        """The caller, who may start a turn now (quotas); else ``gr.Error``."""
        who = self.identify(request, visitor)
        if self.public and not who.operator:
            refused = self.quotas.take_turn(who.voter, who.address)
            if refused:
                raise refusal(refused, title="Please wait")
        return who

    def vote(self, request: gr.Request, visitor: Visitor | None) -> Identity:
        """The caller, who may vote now (policy, consent, quotas); else ``gr.Error``."""
        who = self.identify(request, visitor)
        if self.public and self.settings.vote_policy == "signed-in" and not who.signed_in:
            raise refusal("Sign in with Hugging Face to vote (the button at the top of the page).",
                           title="Sign in to vote")
        if who.voter is None:
            raise refusal("This browser session has no visitor id: reload the page, then vote.", title="Reload")
        self.check_consent(visitor)
        if self.public and not who.operator:
            refused = self.quotas.take_vote(who.voter, who.address)
            if refused:
                raise refusal(refused, title="Vote limit reached")
        return who

    def recorder(self, who: Identity) -> str:
        """The pseudonym a stored turn carries: the voter's, or one shared by callers without any id."""
        return who.voter or pseudonym(self.policy.secret, "anonymous", "")

    def needs_consent(self, visitor: Visitor | None) -> bool:
        """Must this visitor still accept the notice before voting?"""
        return self.public and (visitor is None or visitor.terms != self.terms.version)

    def check_consent(self, visitor: Visitor | None) -> None:
        """Refuse (``gr.Error``) until this visitor has accepted the notice (public deployments)."""
        if self.needs_consent(visitor):
            raise refusal("Please read and accept the notice above the vote buttons first.", title="Before you vote")

    def terms_version(self) -> str | None:
        """The terms version stored with votes (``None`` on a local deployment, where none is shown)."""
        return self.terms.version if self.public else None


def turn_probe(demo: gr.Blocks, concurrency_id: str) -> Callable[[str, int], bool]:
    """``busy(session_hash, fn_index)``: does joining ``fn_index`` start a turn while the session has
    one queued or running? Reads Gradio's queue (waiting events per concurrency id, active jobs)."""

    def busy(session_hash: str, fn_index: int) -> bool:
        fn = demo.fns.get(fn_index)
        if fn is None or fn.concurrency_id != concurrency_id:
            return False
        queue = demo._queue
        waiting = queue.event_queue_per_concurrency_id.get(concurrency_id)
        events = [*(waiting.queue if waiting else ()), *(e for job in queue.active_jobs if job for e in job)]
        return any(e.session_hash == session_hash and e.concurrency_id == concurrency_id for e in events)

    return busy
