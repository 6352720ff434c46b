"""Costs Gradio 6.31 pays on every call, event or new session, removed once at start-up without changing what
the page gets.

1. ``Block.get_config`` and each component built from an update (``gr.update``, ``gr.skip``) call
   ``inspect.signature`` on the component class's ``__init__`` (and ``inspect.getfullargspec`` on the
   function it wraps): ~0.2 ms each time. A new session builds the config of every block on the page
   (355 here: ~60 ms on the event loop, a stall every user feels). ``inspect`` returns a function's
   ``__signature__`` as is when it has one (PEP 362), so each ``__init__`` gets the signature
   ``inspect`` computes for it, once.
2. Every listener call enters and leaves ``MatplotlibBackendMananger``, which runs ``import matplotlib``
   twice; without matplotlib installed each is a failed search of ``sys.path`` (~6% of the app's CPU per
   streamed turn, py-spy). A ``None`` entry in ``sys.modules`` makes that import fail at once, as it would
   anyway; nothing changes where matplotlib is installed.
3. A new session starts with its own copy of every block's config (the page's 355), each built anew from its
   block (~30 ms on the event loop per new visitor). They are the same for every session until the session
   changes one, so they are built once per page and each new session gets copies of the two dicts Gradio
   changes in place (the config and its ``props``).
4. After every queued event the queue recomputes a pandas summary of the last 10,000 events (~5 ms at 1,000
   events, ~30 ms at 10,000, in a worker thread holding the GIL much of the time). Only Gradio's monitoring
   routes read it, and this app turns them off (``launch(enable_monitoring=False)``).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Iterator
from copy import copy
from typing import Any

import gradio as gr
from gradio import state_holder
from gradio.blocks import Block
from gradio.queueing import Queue


def _block_classes(cls: type[Block] = Block) -> Iterator[type[Block]]:
    """``cls`` and every class below it (every Gradio component and layout, once imported)."""
    yield cls
    for sub in cls.__subclasses__():
        yield from _block_classes(sub)


def pin_signatures() -> int:
    """Give each block class's ``__init__`` (and the function it wraps) its computed ``__signature__``.

    Returns how many functions were pinned (re-pinning is a no-op).

    Example:
        >>> import gradio as gr
        >>> before = inspect.signature(gr.Button.__init__)
        >>> pin_signatures() >= 0
        True
        >>> inspect.signature(gr.Button.__init__) == before and "__signature__" in vars(gr.Button.__init__)
        True
    """
    pinned = 0
    for cls in set(_block_classes()):
        init = vars(cls).get("__init__")
        for fn in (init, getattr(init, "__wrapped__", None)):
            if inspect.isfunction(fn) and "__signature__" not in vars(fn):
                fn.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
                pinned += 1
    return pinned


def skip_missing_matplotlib() -> bool:
    """Answer ``import matplotlib`` at once where it is not installed; returns whether it was missing."""
    if "matplotlib" in sys.modules or importlib.util.find_spec("matplotlib") is not None:
        return False
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # import machinery: "not importable"
    return True


def _page_configs(blocks: gr.Blocks) -> dict[int, dict[str, Any]]:
    """What Gradio's ``SessionState`` builds for each block of ``blocks``, built on the page's first session."""
    built = vars(blocks).get("_session_configs")
    if built is None:
        config = blocks.default_config
        built = {k: config.config_for_block(k, [], v) for k, v in config.blocks.items() if k in blocks.blocks}
        blocks._session_configs = built  # type: ignore[attr-defined]  # lives as long as the page
    return built


class CopiedConfigSessionState(state_holder.SessionState):
    """Gradio's per-session state, its block configs copied from :func:`_page_configs` instead of built.

    The rest is ``SessionState.__init__`` as in Gradio 6.31 (``tests/unit/test_gradio_costs.py`` compares both).
    """

    def __init__(self, blocks: gr.Blocks) -> None:  # no super().__init__(): it is what is replaced
        self.blocks_config = copy(blocks.default_config)
        self.config_values = {k: {**c, "props": dict(c["props"])} if "props" in c else dict(c)
                              for k, c in _page_configs(blocks).items()}
        self.state_data: dict[int, Any] = {}
        self._state_ttl: dict[int, Any] = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


def copy_session_configs() -> None:
    """New sessions (``StateHolder`` makes them) start from copies of the page's block configs."""
    state_holder.SessionState = CopiedConfigSessionState  # type: ignore[misc]  # the name StateHolder calls


def skip_event_analytics(queue: Queue) -> None:
    """The queue keeps no event history and never recomputes its summary (monitoring is off)."""
    queue.ANALYTICS_MAX_EVENTS = 1
    queue.ANAYLTICS_CACHE_FREQUENCY = sys.maxsize  # (sic) Gradio's name


def remove_per_call_costs() -> None:
    """1 to 3 above; call once the app's components are imported (before building the page)."""
    pin_signatures()
    skip_missing_matplotlib()
    copy_session_configs()
