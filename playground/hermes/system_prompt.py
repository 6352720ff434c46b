"""The system prompt a pane sends, from the editable template and the mode (pure).

In function-calling mode the template must hold ``{TOOLS}`` (the "Function calling" preset
is the card's exact prompt); in JSON mode ``{SCHEMA}``. Requiring the placeholder, rather
than silently prepending a prompt, keeps every byte the model sees visible in the editor.
In chat mode the template is sent as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from playground.hermes.tools import fill_tools_placeholder
from playground.types import Mode

PLACEHOLDERS: dict[Mode, str] = {"tools": "{TOOLS}", "json": "{SCHEMA}"}


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
    if mode == "chat":
        return template
    placeholder = PLACEHOLDERS[mode]
    if template is None or placeholder not in template:
        name, what = ("Function calling", "tools") if mode == "tools" else ("JSON mode", "schema")
        raise SystemPromptError(f"{name} needs {placeholder} in the system prompt, where the {what} go. "
                                f"Pick the '{name} (template)' preset or add {placeholder} to your prompt.")
    if mode == "tools":
        return fill_tools_placeholder(template, tools)
    return template.replace(placeholder, schema_text.strip())

