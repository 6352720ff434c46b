"""The Hermes modes, each declared once: chat, function calling, JSON mode (pure, no I/O).

A mode is a row of :data:`MODES`: its id (stored with every turn), the labels people see,
the preset it switches to, the placeholder its system prompt must hold, the editor it needs
(plain data: the UI builds the widgets from it; the turn setup validates its text with it),
the post-check the conformance table runs on each reply, and the column its checked editor
value is stored and exported in. The UI, the turn setup, the store and the exports read
this table; adding a mode is one row here (plus an asset when it brings a new preset).

Example:
    >>> [m.id for m in MODES]
    ['chat', 'tools', 'json']
    >>> mode_spec("tools").placeholder, mode_spec("json").editor.field
    ('{TOOLS}', 'json_schema')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from playground.hermes.jsonmode import check_json_reply, validate_json_schema_text
from playground.hermes.tools import fill_tools_placeholder, tool_reply_valid, validate_tool_schemas

Fill = Callable[..., str]  # (template, *, tools, schema_text) -> the system prompt with the placeholder filled
# (replies of a pane, the editor's value) -> one verdict per checked reply
PostCheck = Callable[[Sequence[str], Any], list[bool]]


@dataclass(frozen=True)
class Editor:
    """A text editor a mode needs, as plain data; the UI builds the widgets from it.

    ``field`` names where the checked value goes: the session / ``TurnRecord`` attribute,
    the store column and the export column (``tools`` or ``json_schema``). ``title`` heads its
    error messages, ``subject`` names its text in a sentence, ``limit`` is its size limit in
    ``limits.TextLimits``; ``id`` also names its widgets (``elem_id``). ``assets`` is the
    folder under ``assets/`` holding its examples, ``default_asset`` the one shown first.
    ``validate`` turns the text into ``(value, errors)``; ``empty`` is the message for a
    value that parses but is empty, or ``None`` when an empty value is fine.
    """

    id: str
    field: str
    label: str
    title: str
    subject: str
    language: str
    assets: str
    default_asset: str
    asset_label: str
    asset_elem_id: str
    limit: str
    validate: Callable[[str], tuple[Any, list[str]]]
    empty: str | None = None

    def check(self, text: str) -> tuple[Any, list[str]]:
        """``(value, errors)`` for the editor's text; an empty value is an error when ``empty`` says so.

        Example:
            >>> mode_spec("tools").editor.check("[]")
            ([], ['the list is empty; add at least one tool.'])
            >>> mode_spec("json").editor.check('{"type": "object"}')
            ({'type': 'object'}, [])
        """
        value, errors = self.validate(text)
        if not errors and (value is None or (self.empty and not value)):
            errors = [self.empty or f"{self.subject} is empty."]
        return value, errors


@dataclass(frozen=True)
class ModeSpec:
    """One mode: everything the layers above need to know about it.

    ``label`` is shown in the UI, ``name`` in the leaderboard and battle rows; ``category``
    (if set) is the category every turn of the mode falls in. ``placeholder`` is what the
    system prompt must hold and ``fill`` replaces it; ``post_check`` judges each finished
    pane's replies for the conformance table, under the columns ``<check>_replies`` and
    ``<check>_valid``.
    """

    id: str
    label: str
    name: str
    preset: str
    placeholder: str | None = None
    holds: str = ""
    fill: Fill | None = None
    editor: Editor | None = None
    post_check: PostCheck | None = None
    check: str = ""
    category: str | None = None


def _fill_tools(template: str, *, tools: Sequence[Mapping[str, Any]] = (), schema_text: str = "") -> str:
    return fill_tools_placeholder(template, tools)


def _fill_schema(template: str, *, tools: Sequence[Mapping[str, Any]] = (), schema_text: str = "") -> str:
    return template.replace("{SCHEMA}", schema_text.strip())


def _check_tool_replies(replies: Sequence[str], tools: Any) -> list[bool]:
    return [v for v in (tool_reply_valid(r, tools or ()) for r in replies) if v is not None]


def _check_json_reply(replies: Sequence[str], schema: Any) -> list[bool]:
    return [check_json_reply(replies[0], schema or {}).valid]  # the first reply is the answer


_TOOLS_EDITOR = Editor(
    id="tools", field="tools", label="Tool definitions (JSON list of OpenAI function schemas)",
    title="Tool definitions", subject="The tool definitions", language="json", assets="tools",
    default_asset="builtins", asset_label="Example tool set", asset_elem_id="tool-set", limit="tools_chars",
    validate=validate_tool_schemas, empty="the list is empty; add at least one tool.")
_SCHEMA_EDITOR = Editor(
    id="schema", field="json_schema", label="JSON Schema", title="JSON Schema", subject="The JSON Schema",
    language="json", assets="schemas", default_asset="character", asset_label="Schema preset",
    asset_elem_id="schema-preset", limit="schema_chars", validate=validate_json_schema_text)

#: Every mode, in the order the UI lists them. Add a mode here.
MODES: tuple[ModeSpec, ...] = (
    ModeSpec(id="chat", label="Chat", name="chat", preset="helpful"),
    ModeSpec(id="tools", label="Function calling", name="function calling", preset="function_calling",
             placeholder="{TOOLS}", holds="tools", fill=_fill_tools, editor=_TOOLS_EDITOR,
             post_check=_check_tool_replies, check="tool", category="function calling"),
    ModeSpec(id="json", label="JSON mode", name="JSON", preset="json_mode",
             placeholder="{SCHEMA}", holds="schema", fill=_fill_schema, editor=_SCHEMA_EDITOR,
             post_check=_check_json_reply, check="json"),
)


def mode_ids() -> tuple[str, ...]:
    """Every mode id, in table order (CLI choices, filters, chart order).

    Example:
        >>> mode_ids()
        ('chat', 'tools', 'json')
    """
    return tuple(m.id for m in MODES)


def mode_choices() -> list[tuple[str, str]]:
    """``(label, id)`` per mode, for a choice widget whose value is the id (the Data and Judge filters).

    Example:
        >>> mode_choices()[1]
        ('Function calling', 'tools')
    """
    return [(m.label, m.id) for m in MODES]


def find_mode(mode_id: str) -> ModeSpec | None:
    """The mode with this id, or ``None`` (stored data may name a mode this version lacks).

    Example:
        >>> find_mode("json").label, find_mode("nope")
        ('JSON mode', None)
    """
    return next((m for m in MODES if m.id == mode_id), None)


def mode_spec(mode_id: str) -> ModeSpec:
    """The mode with this id.

    Raises:
        KeyError: no such mode; the message lists the known ones.

    Example:
        >>> mode_spec("chat").preset
        'helpful'
    """
    spec = find_mode(mode_id)
    if spec is None:
        raise KeyError(f"no mode {mode_id!r}; the modes are {', '.join(mode_ids())}")
    return spec


def mode_name(mode_id: str) -> str:
    """The mode's name in the leaderboard and battle rows (an unknown id stays itself).

    Example:
        >>> mode_name("tools"), mode_name("legacy")
        ('function calling', 'legacy')
    """
    spec = find_mode(mode_id)
    return spec.name if spec else mode_id


def placeholders() -> dict[str, str]:
    """Mode id -> the placeholder its system prompt must hold (modes that have one).

    Example:
        >>> placeholders()
        {'tools': '{TOOLS}', 'json': '{SCHEMA}'}
    """
    return {m.id: m.placeholder for m in MODES if m.placeholder}


def editors() -> tuple[Editor, ...]:
    """Every distinct editor, in table order (the UI lays out one box per editor).

    Example:
        >>> [e.id for e in editors()]
        ['tools', 'schema']
    """
    out: list[Editor] = []
    for m in MODES:
        if m.editor is not None and m.editor not in out:
            out.append(m.editor)
    return tuple(out)


def editor_spec(editor_id: str) -> Editor:
    """The editor with this id.

    Raises:
        KeyError: no mode has such an editor.

    Example:
        >>> editor_spec("schema").default_asset
        'character'
    """
    found = next((e for e in editors() if e.id == editor_id), None)
    if found is None:
        raise KeyError(f"no editor {editor_id!r}; the editors are {', '.join(e.id for e in editors())}")
    return found
