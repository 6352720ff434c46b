"""The system prompt a pane sends, from the editable template and the mode (pure).

A mode with a placeholder (``hermes/modes.py``: ``{TOOLS}`` for function calling, where the
"Function calling" preset is the card's exact prompt; ``{SCHEMA}`` for JSON mode) needs it in
the template. Requiring the placeholder, rather than silently prepending a prompt, keeps every
byte the model sees visible in the editor. A mode without one (chat) sends the template as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from playground.hermes.modes import mode_spec
from playground.types import Mode


class SystemPromptError(ValueError):
    """The system prompt cannot be used in this mode; the message says how to fix it."""


def compose_system_prompt(template: str | None, mode: Mode, *, tools: Sequence[Mapping[str, Any]] = (),
                          schema_text: str = "") -> str | None:
    """Fill the mode's placeholder; ``None`` (no system turn) stays ``None`` in chat mode.

    Raises:
        SystemPromptError: function-calling or JSON mode without its placeholder.

    Example:
        >>> compose_system_prompt("Answer in JSON: {SCHEMA}", "json", schema_text=' {"type": "object"} ')
        'Answer in JSON: {"type": "object"}'
        >>> compose_system_prompt(None, "chat") is None
        True
    """
    spec = mode_spec(mode)
    if spec.placeholder is None or spec.fill is None:
        return template
    placeholder = spec.placeholder
    if template is None or placeholder not in template:
        raise SystemPromptError(f"{spec.label} needs {placeholder} in the system prompt, where the {spec.holds} go. "
                                f"Pick the '{spec.label} (template)' preset or add {placeholder} to your prompt.")
    return spec.fill(template, tools=tools, schema_text=schema_text)

