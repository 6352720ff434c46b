"""Hermes modes in the Compare tab: system-prompt presets, function calling, JSON mode.

Widgets and their own small events (filling an editor from a preset, checking an editor as
the user types, switching the mode); the send handler in ``compare.py`` reads their values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.hermes.jsonmode import validate_json_schema_text
from playground.hermes.presets import Preset, load_presets, load_schema_presets, load_tool_sets
from playground.hermes.system_prompt import PLACEHOLDERS
from playground.hermes.tools import validate_tool_schemas
from playground.types import Mode
from playground.ui.inputs import one_of, text_value

MODES: dict[str, Mode] = {"Chat": "chat", "Function calling": "tools", "JSON mode": "json"}
MODE_PRESETS: dict[Mode, str] = {"chat": "helpful", "tools": "function_calling", "json": "json_mode"}
DEFAULT_TOOL_SET = "builtins"
DEFAULT_SCHEMA = "character"


@dataclass(frozen=True)
class ModeAssets:
    """Presets, example tool sets and schema presets, read once from ``assets/``."""

    presets: tuple[Preset, ...]
    tool_sets: dict[str, list[dict[str, Any]]]
    schemas: dict[str, dict[str, Any]]

    def preset(self, preset_id: str) -> Preset:
        """The preset with this id (``KeyError`` if unknown)."""
        return next(p for p in self.presets if p.id == preset_id)


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


def build_modes(assets: ModeAssets, mode: gr.Radio) -> ModeWidgets:
    """Lay out the two editors (each shown only in its mode) for this mode switch."""
    with gr.Accordion("Function calling", open=True, visible=False, elem_id="tools-box") as tools_box:
        with gr.Row():
            tool_set = gr.Dropdown(list(assets.tool_sets), value=DEFAULT_TOOL_SET, label="Example tool set",
                                   elem_id="tool-set")
            max_depth = gr.Slider(1, 10, value=5, step=1, label="Maximum tool rounds per turn",
                                  elem_id="max-depth")
        tools = gr.Code(json.dumps(assets.tool_sets[DEFAULT_TOOL_SET], indent=2), language="json",
                        label="Tool definitions (JSON list of OpenAI function schemas)", elem_id="tools",
                        max_lines=18)
        tools_errors = gr.Markdown(elem_id="tools-errors")
        gr.Markdown("Built-in tools (calculator, convert_units, current_time, get_stock_fundamentals) "
                    "really run; for any other tool you type the result under the pane.")
    with gr.Accordion("JSON mode", open=True, visible=False, elem_id="json-box") as json_box:
        with gr.Row():
            schema_preset = gr.Dropdown(list(assets.schemas), value=DEFAULT_SCHEMA, label="Schema preset",
                                        elem_id="schema-preset")
            grammar = gr.Checkbox(False, label="Grammar-constrained decoding (TGI backends: grammar parameter; "
                                        "the first request per schema compiles it, which is slow)",
                                  elem_id="grammar")
        schema = gr.Code(json.dumps(assets.schemas[DEFAULT_SCHEMA], indent=2), language="json",
                         label="JSON Schema", elem_id="schema", max_lines=18)
        schema_errors = gr.Markdown(elem_id="schema-errors")
    return ModeWidgets(mode, tools_box, tool_set, tools, tools_errors, max_depth, json_box, schema_preset,
                       schema, schema_errors, grammar)


def located_errors(title: str, errors: list[str]) -> str:
    """Editor problems as a Markdown list (empty when there are none)."""
    return "" if not errors else f"**{title}:**\n" + "\n".join(f"- {e}" for e in errors)


def wire_modes(w: ModeWidgets, shared: SystemPromptWidgets, assets: ModeAssets) -> None:
    """Editors follow their presets and are checked as typed; the mode shows its editor and,
    if the shared system prompt lacks the mode's placeholder, switches it to the mode's preset."""
    def switch(mode_label: str, text: str | None) -> list[Any]:
        mode = MODES[one_of("Mode", mode_label, MODES)]
        text = text_value("The system prompt", text)
        needed = PLACEHOLDERS.get(mode)
        placeholder_missing = needed is not None and needed not in text
        stray = mode == "chat" and any(p in text for p in PLACEHOLDERS.values())
        if placeholder_missing or stray:
            preset = assets.preset(MODE_PRESETS[mode])
            prompt = [preset.id, False, gr.Textbox(value=preset.system or "", interactive=True)]
        else:
            prompt = [gr.skip(), gr.skip(), gr.skip()]
        return [gr.Accordion(visible=mode == "tools"), gr.Accordion(visible=mode == "json"), *prompt]

    def check_tools(text: object) -> str:
        return located_errors("Tool definitions", validate_tool_schemas(text_value("Tool definitions", text))[1])

    def check_schema(text: object) -> str:
        return located_errors("JSON Schema", validate_json_schema_text(text_value("The JSON Schema", text))[1])

    def fill_tools(name: str) -> list[str]:
        return [json.dumps(assets.tool_sets[name], indent=2), ""]

    def fill_schema(name: str) -> list[str]:
        return [json.dumps(assets.schemas[name], indent=2), ""]

    w.mode.input(switch, [w.mode, shared.text], [w.tools_box, w.json_box, shared.preset, shared.no_system,
                                                 shared.text], queue=False, api_visibility="private")
    w.tools.input(check_tools, w.tools, w.tools_errors, queue=False, trigger_mode="always_last", api_visibility="private")
    w.schema.input(check_schema, w.schema, w.schema_errors, queue=False, trigger_mode="always_last", api_visibility="private")
    w.tool_set.input(fill_tools, w.tool_set, [w.tools, w.tools_errors], queue=False, api_visibility="private")
    w.schema_preset.input(fill_schema, w.schema_preset, [w.schema, w.schema_errors], queue=False, api_visibility="private")
