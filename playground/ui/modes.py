"""Hermes modes in the Compare tab: system-prompt presets, function calling, JSON mode.

Widgets and their own small events (filling an editor from a preset, checking an editor as
the user types, switching the mode); the send handler in ``compare.py`` reads their values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import gradio as gr

from playground.hermes.modes import MODES, Editor, editor_spec, mode_spec, placeholders
from playground.hermes.presets import Preset, load_presets, load_schema_presets, load_tool_sets
from playground.types import Mode
from playground.ui.inputs import one_of, text_value

MODE_LABELS: Mapping[str, Mode] = MappingProxyType({m.label: m.id for m in MODES})  # the Mode radio's values


@dataclass(frozen=True)
class ModeAssets:
    """Presets, example tool sets and schema presets, read once from ``assets/``."""

    presets: tuple[Preset, ...]
    tool_sets: dict[str, list[dict[str, Any]]]
    schemas: dict[str, dict[str, Any]]

    def preset(self, preset_id: str) -> Preset:
        """The preset with this id (``KeyError`` if unknown)."""
        return next(p for p in self.presets if p.id == preset_id)

    def examples(self, editor: Editor) -> dict[str, Any]:
        """The example texts an editor offers (its ``assets`` folder), by name."""
        return {"tools": self.tool_sets, "schemas": self.schemas}[editor.assets]


def load_mode_assets(assets_dir: Any) -> ModeAssets:
    """Read every preset, tool set and schema preset from the assets folder."""
    return ModeAssets(load_presets(assets_dir / "presets"), load_tool_sets(assets_dir / "tools"),
                      load_schema_presets(assets_dir / "schemas"))


@dataclass
class SystemPromptWidgets:
    """A system prompt: a preset to start from, "no system turn", and the editable text."""

    preset: gr.Dropdown
    no_system: gr.Checkbox
    text: gr.Textbox


@dataclass
class ModeWidgets:
    """The mode switch and the function-calling and JSON-mode editors."""

    mode: gr.Radio
    tools_box: gr.Accordion
    tool_set: gr.Dropdown
    tools: gr.Code
    tools_errors: gr.Markdown
    max_depth: gr.Slider
    json_box: gr.Accordion
    schema_preset: gr.Dropdown
    schema: gr.Code
    schema_errors: gr.Markdown
    grammar: gr.Checkbox

    def boxes(self) -> dict[str, gr.Accordion]:
        """Each editor's box, by editor id (``hermes/modes.py``)."""
        return {"tools": self.tools_box, "schema": self.json_box}


def system_value(no_system: bool, text: str) -> str | None:
    """``None`` (no system turn) or the text, possibly empty (an empty system turn)."""
    return None if no_system else (text or "")


def build_system_prompt(assets: ModeAssets, label: str, elem_id: str, preset_id: str = "helpful"
                        ) -> SystemPromptWidgets:
    """Lay out a preset dropdown, a "no system turn" box and the prompt text."""
    preset = assets.preset(preset_id)
    with gr.Row():
        dropdown = gr.Dropdown([(p.title, p.id) for p in assets.presets], value=preset.id,
                               label=f"{label} preset", elem_id=f"{elem_id}-preset", scale=3)
        no_system = gr.Checkbox(preset.system is None, label="No system turn", elem_id=f"{elem_id}-none",
                                scale=1, min_width=140)
    text = gr.Textbox(preset.system or "", lines=3, max_lines=12, label=label, elem_id=elem_id,
                      interactive=preset.system is not None)
    return SystemPromptWidgets(dropdown, no_system, text)


def wire_system_prompt(w: SystemPromptWidgets, assets: ModeAssets) -> None:
    """Choosing a preset fills the text (still editable); "no system turn" locks it."""
    def choose(preset_id: str) -> list[Any]:
        preset = assets.preset(preset_id)
        return [preset.system is None, gr.Textbox(value=preset.system or "", interactive=preset.system is not None)]

    def lock(no_system: bool) -> Any:
        return gr.Textbox(interactive=not no_system)

    w.preset.input(choose, w.preset, [w.no_system, w.text], queue=False, api_visibility="private")
    w.no_system.input(lock, w.no_system, w.text, queue=False, api_visibility="private")


def _editor_box(mode_id: str) -> gr.Accordion:
    spec = mode_spec(mode_id)
    return gr.Accordion(spec.label, open=True, visible=False, elem_id=f"{spec.id}-box")


def _examples(editor: Editor, assets: ModeAssets) -> gr.Dropdown:
    return gr.Dropdown(list(assets.examples(editor)), value=editor.default_asset, label=editor.asset_label,
                       elem_id=editor.asset_elem_id)


def _editor_code(editor: Editor, assets: ModeAssets) -> tuple[gr.Code, gr.Markdown]:
    code = gr.Code(json.dumps(assets.examples(editor)[editor.default_asset], indent=2), language=editor.language,
                   label=editor.label, elem_id=editor.id, max_lines=18)
    return code, gr.Markdown(elem_id=f"{editor.id}-errors")


def build_modes(assets: ModeAssets, mode: gr.Radio) -> ModeWidgets:
    """Lay out the two editors (each shown only in its mode) for this mode switch, from ``hermes/modes.py``."""
    tools_editor, schema_editor = editor_spec("tools"), editor_spec("schema")
    with _editor_box("tools") as tools_box:
        with gr.Row():
            tool_set = _examples(tools_editor, assets)
            max_depth = gr.Slider(1, 10, value=5, step=1, label="Maximum tool rounds per turn",
                                  elem_id="max-depth")
        tools, tools_errors = _editor_code(tools_editor, assets)
        gr.Markdown("Built-in tools (calculator, convert_units, current_time, get_stock_fundamentals) "
                    "really run; for any other tool you type the result under the pane.")
    with _editor_box("json") as json_box:
        with gr.Row():
            schema_preset = _examples(schema_editor, assets)
            grammar = gr.Checkbox(False, label="Grammar-constrained decoding (TGI backends: grammar parameter; "
                                        "the first request per schema compiles it, which is slow)",
                                  elem_id="grammar")
        schema, schema_errors = _editor_code(schema_editor, assets)
    return ModeWidgets(mode, tools_box, tool_set, tools, tools_errors, max_depth, json_box, schema_preset,
                       schema, schema_errors, grammar)


def located_errors(title: str, errors: list[str]) -> str:
    """Editor problems as a Markdown list (empty when there are none)."""
    return "" if not errors else f"**{title}:**\n" + "\n".join(f"- {e}" for e in errors)


def wire_modes(w: ModeWidgets, shared: SystemPromptWidgets, assets: ModeAssets) -> None:
    """Editors follow their presets and are checked as typed; the mode shows its editor and,
    if the shared system prompt lacks the mode's placeholder, switches it to the mode's preset."""
    boxes = w.boxes()

    def switch(mode_label: str, text: str | None) -> list[Any]:
        spec = mode_spec(MODE_LABELS[one_of("Mode", mode_label, MODE_LABELS)])
        text = text_value("The system prompt", text)
        placeholder_missing = spec.placeholder is not None and spec.placeholder not in text
        stray = spec.placeholder is None and any(p in text for p in placeholders().values())
        if placeholder_missing or stray:
            preset = assets.preset(spec.preset)
            prompt = [preset.id, False, gr.Textbox(value=preset.system or "", interactive=True)]
        else:
            prompt = [gr.skip(), gr.skip(), gr.skip()]
        shown = spec.editor.id if spec.editor else None
        return [*(gr.Accordion(visible=editor_id == shown) for editor_id in boxes), *prompt]

    def checker(editor: Editor) -> Any:
        def check(text: object) -> str:
            return located_errors(editor.title, editor.validate(text_value(editor.subject, text))[1])
        return check

    def filler(editor: Editor) -> Any:
        def fill(name: str) -> list[str]:
            return [json.dumps(assets.examples(editor)[name], indent=2), ""]
        return fill

    tools_editor, schema_editor = editor_spec("tools"), editor_spec("schema")
    check_tools, check_schema = checker(tools_editor), checker(schema_editor)
    fill_tools, fill_schema = filler(tools_editor), filler(schema_editor)
    w.mode.input(switch, [w.mode, shared.text], [*boxes.values(), shared.preset, shared.no_system,
                                                 shared.text], queue=False, api_visibility="private")
    typed: dict[str, Any] = {"queue": False, "trigger_mode": "always_last", "api_visibility": "private"}
    w.tools.input(check_tools, w.tools, w.tools_errors, **typed)
    w.schema.input(check_schema, w.schema, w.schema_errors, **typed)
    w.tool_set.input(fill_tools, w.tool_set, [w.tools, w.tools_errors], queue=False, api_visibility="private")
    w.schema_preset.input(fill_schema, w.schema_preset, [w.schema, w.schema_errors], queue=False,
                          api_visibility="private")
