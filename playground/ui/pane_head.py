"""The head of each Compare pane: its backend's health and whose system prompt it uses (badges), and
its title following the model picked in its dropdown.

Health comes from the probe the page runs at load (``ui/backends.py``). In a blind battle the
badges say nothing about the hidden model: no health, only the system prompt the user chose.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import gradio as gr

COMPOSER_HINT = '<span class="hint" aria-live="polite">Enter sends · Shift+Enter adds a line</span>'
# assets/app.js swaps this hint for "Type a message first." when Send is pressed on an empty box.


def pane_head_html(i: int, healthy: bool | None, *, own: bool, blind: bool) -> str:
    """The badges of pane ``i``: health (``None``: not probed yet) unless blind, and the system prompt it uses.

    Example:
        >>> shown = pane_head_html(0, False, own=True, blind=False)
        >>> "✕ down" in shown, "own system prompt" in shown, "down" in pane_head_html(0, False, own=True, blind=True)
        (True, True, False)
    """
    badges = []
    if not blind:
        letter = chr(65 + i)
        if healthy is None:
            badges.append('<span class="badge unknown">○ checking…</span>')
        elif healthy:
            badges.append('<span class="badge up">● up</span>')
        else:
            tip = html.escape(f"Pane {letter}'s backend did not answer the last check: pick another model "
                              "or see the Backends tab.")
            badges.append(f'<span class="badge down" title="{tip}">✕ down</span>')
    badges.append('<span class="badge own-system">own system prompt</span>' if own
                  else '<span class="badge shared-system">shared system prompt</span>')
    return f'<div class="pane-badges">{"".join(badges)}</div>'


def pane_heads(health: object, blind: object, backend_ids: Sequence[object], owns: Sequence[object]) -> list[str]:
    """Every pane's badges from widget values (any client may send anything: odd values read as unknown).

    Example:
        >>> [h.count("● up") for h in pane_heads({"a": True}, False, ["a", "zz"], [False, "x"])]
        [1, 0]
    """
    known = health if isinstance(health, Mapping) else {}
    hidden = blind is True
    return [pane_head_html(i, known.get(b) if isinstance(b, str) else None, own=own is True, blind=hidden)
            for i, (b, own) in enumerate(zip(backend_ids, owns, strict=True))]


def pane_title(i: int, backend_id: object, labels: Mapping[str, str]) -> str:
    """Pane ``i``'s title for the model picked in its dropdown (``labels``: backend id -> label).

    Any client may send anything: an unknown id or a non-string gives the title without a model.

    Example:
        >>> labels = {"hermes-3": "Hermes 3"}
        >>> pane_title(1, "hermes-3", labels), pane_title(1, "gone", labels), pane_title(0, ["x"], labels)
        ('Pane B · Hermes 3', 'Pane B', 'Pane A')
    """
    label = labels.get(backend_id) if isinstance(backend_id, str) else None
    return f"Pane {chr(65 + i)} · {label}" if label else f"Pane {chr(65 + i)}"


def wire_pane_heads(panes: Sequence[Any], blind: gr.Checkbox, health: gr.State) -> tuple[Any, list[Any], list[Any]]:
    """Redraw the badges when a pane's backend or system-prompt choice changes or Blind toggles (the title follows
    the backend in ``ui/compare.py``: the pane forgets its conversation too).

    ``panes`` are the Compare tab's ``PaneWidgets``. Returns ``(fn, inputs, outputs)`` for the page
    load to chain after the health probe.
    """
    count = len(panes)

    def redraw(health_now: object, blind_now: object, *values: object) -> list[str]:
        return pane_heads(health_now, blind_now, values[:count], values[count:])

    inputs = [health, blind, *(p.backend for p in panes), *(p.own_system for p in panes)]
    outputs = [p.head for p in panes]
    glue: dict[str, Any] = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
    for trigger in (blind, *(p.backend for p in panes), *(p.own_system for p in panes)):
        trigger.change(redraw, inputs, outputs, **glue)
    return redraw, inputs, outputs
