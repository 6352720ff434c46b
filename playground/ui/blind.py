"""What the page may show of a pane in a blind battle: until a vote reveals the names, panes are
headed "Model A", errors say only that the model failed, and speed figures are left out (they
could name the model). Outside a hidden battle every function returns the pane as it is.
"""

from __future__ import annotations

from dataclasses import replace

from playground.compare.state import CompareSession, PaneState
from playground.compare.votes import blind_now
from playground.types import PaneMetrics
from playground.ui.panes import pane_summary

STATUS_WORDS = {"idle": "", "waiting": "waiting for first token…", "streaming": "streaming…", "done": "finished",
                "stopped": "stopped", "error": "failed", "tool_input": "waiting for your tool result"}


def pane_name(i: int, session: CompareSession) -> str:
    """A pane's header: ``Model A`` in a blind battle until the vote, else ``Pane A · <backend>``."""
    letter = chr(65 + i)
    if blind_now(session):
        return f"Model {letter}"
    pane = session.panes[i] if i < len(session.panes) else None
    return f"Pane {letter} · {pane.label}" if pane else f"Pane {letter}"


def shown_pane(i: int, pane: PaneState, session: CompareSession) -> PaneState:
    """What the page may see of a pane: in a hidden blind battle, errors say only that the model failed.

    The details (which name the backend) stay in the server log and the store.
    """
    if not blind_now(session) or not (pane.error or any(e.error for e in pane.transcript)):
        return pane
    failed = f"Model {chr(65 + i)} failed. Press Regenerate, or start a new battle."
    return replace(pane, error=failed if pane.error else None,
                   transcript=[replace(e, error=failed if e.error else None) for e in pane.transcript])


def shown_summary(pane: PaneState, session: CompareSession) -> str:
    """The line under a pane; in a hidden blind battle without speed figures (they could name the model)."""
    if not blind_now(session):
        return pane_summary(pane)
    rest = pane_summary(replace(pane, metrics=PaneMetrics())).split("  \n")[1:]
    return "  \n".join([STATUS_WORDS.get(pane.status, ""), *rest])
