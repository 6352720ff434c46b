"""Any payload a client sends to a listener: refused with a message, logged as one line, no traceback.

Every listener is public API (any ``fn_index``, any values). Two checks keep bad values from
becoming unhandled exceptions:

- :func:`payload_problem`, asked by the request guard before Gradio sees the call: the listener
  runs on the server, the values are a list of its input count, and each value has the shape its
  component's own ``preprocess`` needs (Gradio raises an unhandled ``TypeError`` / ``ValueError``
  otherwise, and logs a traceback even for the ``gr.Error`` it raises for a value outside a
  radio's or dropdown's choices);
- :func:`refusal`, which handlers raise for a value they refuse: a ``gr.Error`` with the message,
  logged as one line (Gradio prints a whole traceback for every ``gr.Error`` by default).

Values whose meaning is checked by the handler (texts, numbers in range, state) pass through.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping
from typing import Any

import gradio as gr
from gradio import utils as gr_utils

log = logging.getLogger(__name__)
SCALAR = (str, int, float)


def refusal(message: str, title: str = "Error") -> gr.Error:
    """A ``gr.Error`` for a refused input or action: shown to the caller, logged once, no traceback.

    Example:
        >>> raise refusal("Rate by 'backend' or 'model'.")
        Traceback (most recent call last):
        ...
        gradio.exceptions.Error: "Rate by 'backend' or 'model'."
    """
    log.warning("shown to the caller: %s", message[:200].replace("\n", " "))
    return gr.Error(message, title=title, print_exception=False)


def preprocessed(values: Mapping[Any, Any]) -> dict[Any, Any]:
    """A listener's input values (by component) as each component's ``preprocess`` makes them, here and now.

    For listeners built with ``preprocess=False``: Gradio runs each input's ``preprocess`` in a worker thread, one
    after another (34 for a Send: as many round trips through the event loop, each behind every other callback
    under load, ~1 s at K = 40), and each is a few comparisons. The components' own methods, so the values are
    those Gradio would hand over (the app never changes these inputs' choices or bounds per session).
    """
    return {block: value if block.stateful else block.preprocess(value) for block, value in values.items()}


def one_of(what: str, value: object, allowed: Any) -> Any:
    """``value`` if it is one of ``allowed`` (a mapping's keys or a collection), else :func:`refusal`.

    Example:
        >>> one_of("Mode", "chat", ("chat", "json"))
        'chat'
    """
    if not isinstance(value, SCALAR) or value not in allowed:
        raise refusal(f"{what} must be one of: {', '.join(map(str, allowed))}.")
    return value


def text_value(what: str, value: object) -> str:
    """``value`` as text (``None`` is empty), else :func:`refusal` (``gr.Code`` hands on any JSON value).

    Example:
        >>> text_value("Tool definitions", None)
        ''
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise refusal(f"{what} must be text, not {type(value).__name__}.")
    return value


def _choices(block: Any) -> list[Any]:
    return [choice[1] if isinstance(choice, list | tuple) else choice for choice in getattr(block, "choices", ())]


def value_problem(block: Any, value: object) -> str | None:
    """Why ``value`` cannot be preprocessed by ``block`` (a Gradio component), or ``None``.

    Choice membership is checked against the choices the component was built with; a component
    built without choices (they are set per session) is left to Gradio.
    """
    name = getattr(block, "label", None) or type(block).__name__
    if isinstance(block, gr.Slider | gr.Number):
        if value is None and isinstance(block, gr.Number):
            return None
        low = block.minimum if block.minimum is not None else -math.inf
        high = block.maximum if block.maximum is not None else math.inf
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            return f"{name} must be a number from {low} to {high}."
        return None
    multiple = isinstance(block, gr.CheckboxGroup) or (isinstance(block, gr.Dropdown) and block.multiselect)
    if not multiple and not isinstance(block, gr.Radio | gr.Dropdown):
        return None
    values = value if multiple else [value]
    if not isinstance(values, list) or not all(v is None or isinstance(v, SCALAR) for v in values):
        return f"{name} must be {'a list of choices' if multiple else 'one of its choices'}."
    choices = _choices(block)
    custom = getattr(block, "allow_custom_value", False)
    if choices and not custom and any(v is not None and v not in choices for v in values):
        return f"{name} must be one of: {', '.join(map(str, choices))}."
    return None


def _event_data_problem(fn: Any, event_data: object) -> str | None:
    """Why ``event_data`` cannot become the ``gr.EventData`` argument ``fn`` takes (e.g. ``gr.SelectData``)."""
    for hint in gr_utils.get_type_hints(fn).values():
        if inspect.isclass(hint) and issubclass(hint, gr.EventData):
            try:
                hint(None, event_data)
            except Exception:  # noqa: BLE001 — Gradio's own constructor is the check; any failure refuses
                return f"This listener needs the event's data ({hint.__name__}, e.g. which row was selected)."
    return None


def payload_problem(fn: Any, body: dict[str, Any]) -> str | None:
    """Why the request ``body`` (``data``, ``event_data``) cannot go to the listener ``fn`` (a Gradio
    ``BlockFunction``), or ``None``."""
    if fn.fn is None:
        return "This listener runs in the browser only; there is nothing to call on the server."
    data = body.get("data")
    if not isinstance(data, list) or len(data) != len(fn.inputs):
        got = f"{len(data)} values" if isinstance(data, list) else type(data).__name__
        return f"This listener takes a list of {len(fn.inputs)} input values; got {got}."
    for block, value in zip(fn.inputs, data, strict=True):  # lengths checked above
        problem = None if getattr(block, "stateful", False) else value_problem(block, value)
        if problem:
            return problem
    return _event_data_problem(fn.fn, body.get("event_data"))
