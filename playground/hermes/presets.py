"""System-prompt presets, example tool sets and schema presets, loaded from ``assets/``.

Each preset is one TOML file in ``assets/presets/`` with keys ``id``, ``title``, ``order``,
``system`` and optionally ``description``, ``source``, ``template`` (the id of a mode with a
placeholder in ``modes.py``, e.g. ``"tools"`` or ``"json"``: the text holds that mode's
``{TOOLS}`` / ``{SCHEMA}`` placeholder, filled when a turn starts) and ``system_turn = false``.
TOML has no null, so "no system turn" is ``system_turn = false`` (loaded as ``system=None``),
distinct from ``system = ""`` (an *empty* system turn). These loaders are the only file I/O in
``playground.hermes``; each takes the directory to read, so tests and apps choose their own.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.hermes.chatml import find_special_token
from playground.hermes.modes import placeholders
from playground.types import Message, Mode

_KEYS = {"id", "title", "order", "system", "system_turn", "description", "source", "template"}


class PresetError(ValueError):
    """An asset file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Preset:
    """A system-prompt preset. ``system is None`` means no system turn; ``""`` an empty one."""

    id: str
    title: str
    system: str | None
    description: str = ""
    source: str = ""
    template: Mode | None = None
    order: int = 0

    def messages(self) -> list[Message]:
        """The system message(s) this preset contributes (none for "no system turn").

        Example:
            >>> Preset("x", "X", None).messages(), Preset("y", "Y", "").messages()
            ([], [Message(role='system', content='')])
        """
        return [] if self.system is None else [Message("system", self.system)]


def parse_preset(data: dict[str, Any], *, origin: str = "<preset>") -> Preset:
    """Build a :class:`Preset` from one TOML table, checking keys and types.

    Example:
        >>> parse_preset({"id": "n", "title": "None", "system_turn": False}).system is None
        True
    """
    unknown = set(data) - _KEYS
    if unknown:
        raise PresetError(f"{origin}: unknown keys {sorted(unknown)}")
    for key in ("id", "title"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise PresetError(f"{origin}: '{key}' must be a non-empty string")
    has_turn = data.get("system_turn", True)
    if not isinstance(has_turn, bool):
        raise PresetError(f"{origin}: 'system_turn' must be true or false")
    system = data.get("system")
    if has_turn and not isinstance(system, str):
        raise PresetError(f"{origin}: 'system' must be a string (use system_turn = false for none)")
    if not has_turn and system is not None:
        raise PresetError(f"{origin}: 'system' given although system_turn = false")
    template = data.get("template")
    if template is not None:
        needed = placeholders()
        if template not in needed:
            raise PresetError(f"{origin}: 'template' must be one of {sorted(needed)}")
        if needed[template] not in (system or ""):
            raise PresetError(f"{origin}: template preset lacks {needed[template]}")
    hit = find_special_token(system or "")
    if hit is not None:
        raise PresetError(f"{origin}: 'system' contains the special token {hit[0]!r} at character {hit[1]:,}; "
                          "remove it (special tokens are refused in every prompt)")
    order = data.get("order", 0)
    if not isinstance(order, int):
        raise PresetError(f"{origin}: 'order' must be an integer")
    return Preset(
        id=data["id"], title=data["title"], system=system if has_turn else None,
        description=str(data.get("description", "")), source=str(data.get("source", "")),
        template=template, order=order,
    )


def load_presets(directory: Path | str) -> tuple[Preset, ...]:
    """Load every ``*.toml`` preset in ``directory``, sorted by ``order`` then ``id``.

    Raises:
        PresetError: a file is not valid TOML, is malformed, or repeats an id.
    """
    presets: list[Preset] = []
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise PresetError(f"{path.name}: {exc}") from None
        presets.append(parse_preset(data, origin=path.name))
    seen: set[str] = set()
    for p in presets:
        if p.id in seen:
            raise PresetError(f"duplicate preset id {p.id!r}")
        seen.add(p.id)
    return tuple(sorted(presets, key=lambda p: (p.order, p.id)))


def _load_json_files(directory: Path | str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PresetError(f"{path.name}: {exc}") from None
    return out


def load_tool_sets(directory: Path | str) -> dict[str, list[dict[str, Any]]]:
    """Load the example tool sets (``assets/tools/*.json``), keyed by file stem."""
    sets = _load_json_files(directory)
    for name, value in sets.items():
        if not isinstance(value, list):
            raise PresetError(f"{name}.json: a tool set must be a JSON list")
    return sets


def load_schema_presets(directory: Path | str) -> dict[str, dict[str, Any]]:
    """Load the JSON-mode schema presets (``assets/schemas/*.json``), keyed by file stem."""
    schemas = _load_json_files(directory)
    for name, value in schemas.items():
        if not isinstance(value, dict):
            raise PresetError(f"{name}.json: a schema must be a JSON object")
    return schemas
