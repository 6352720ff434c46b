"""Two costs Gradio 6.31 pays on every call, removed once at start-up without changing what it computes.

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
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Iterator

from gradio.blocks import Block


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


def remove_per_call_costs() -> None:
    """Both of the above; call once the app's components are imported (before building the page)."""
    pin_signatures()
    skip_missing_matplotlib()
