"""Hermes function calling: the tools system prompt, argument checks, tool responses.

PROTOCOLS.md §2. Parsing ``<tool_call>`` blocks lives in :mod:`playground.hermes.tool_calls`
and is re-exported here (``parse_tool_calls``, ``parse_tool_calls_streaming``, ``ToolCall``).

Tool results are sent back as ``tool`` messages whose content is
``format_tool_response(name, content)`` (JSON text); ``chatml.render_chatml`` wraps
consecutive results in ``<tool_response>`` blocks of one turn. The content is JSON, not the
Python ``repr`` shown on the model card, so it stays machine-readable in exports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from playground.hermes.tool_calls import (
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    ToolCall,
    ToolCallParse,
    parse_tool_calls,
    parse_tool_calls_streaming,
    read_tool_call,
)

__all__ = [
    "TOOLS_SYSTEM_PROMPT_TEMPLATE", "TOOL_CALL_CLOSE", "TOOL_CALL_OPEN", "ToolCall",
    "ToolCallParse", "ToolCallReport", "describe_tool", "fill_tools_placeholder", "format_tool_error",
    "format_tool_response", "json_to_python_type", "normalize_tool", "parse_tool_calls",
    "parse_tool_calls_streaming", "read_tool_call", "render_tool_line",
    "render_tools_system_prompt", "tool_reply_valid", "validate_tool_arguments", "validate_tool_schemas",
]

#: PROTOCOLS.md §2, Hermes 3 card form; ``{TOOLS}`` is replaced by one JSON tool per line.
TOOLS_SYSTEM_PROMPT_TEMPLATE = (
    "You are a function calling AI model. You are provided with function signatures within "
    "<tools></tools> XML tags. You may call one or more functions to assist with the user "
    "query. Don't make assumptions about what values to plug into functions. Here are the "
    "available tools: <tools> {TOOLS} </tools> Use the following pydantic model json schema "
    'for each tool call you will make: {"properties": {"arguments": {"title": "Arguments", '
    '"type": "object"}, "name": {"title": "Name", "type": "string"}}, "required": '
    '["arguments", "name"], "title": "FunctionCall", "type": "object"} For each function call '
    "return a json object with function name and arguments within <tool_call></tool_call> XML "
    "tags as follows:\n"
    "<tool_call>\n"
    '{"arguments": <args-dict>, "name": <function-name>}\n'
    "</tool_call>"
)

_FUNCTION_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_BASIC_TYPES = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"}


def normalize_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """Return the OpenAI form ``{"type": "function", "function": {...}}`` of a tool schema.

    Example:
        >>> normalize_tool({"name": "f"})["function"]["parameters"]
        {'type': 'object', 'properties': {}}
    """
    fn = tool["function"] if isinstance(tool.get("function"), Mapping) else tool
    out: dict[str, Any] = {
        "name": fn["name"],
        "description": fn.get("description", ""),
        "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
    }
    if "return" in fn:
        out["return"] = fn["return"]
    return {"type": "function", "function": out}


def json_to_python_type(spec: Any) -> str:
    """The Python annotation the Hermes ``tool_use`` template writes for a JSON schema.

    Example:
        >>> json_to_python_type({"type": "array", "items": {"type": "integer"}})
        'list[int]'
    """
    if not isinstance(spec, Mapping):
        return "Any"
    typ = spec.get("type")
    if isinstance(typ, str) and typ in _BASIC_TYPES:
        return _BASIC_TYPES[typ]
    if typ == "array":
        return f"list[{json_to_python_type(spec.get('items'))}]"
    if typ == "object":
        extra = spec.get("additionalProperties")
        return f"dict[str, {json_to_python_type(extra)}]" if isinstance(extra, Mapping) else "dict"
    if isinstance(typ, list):
        return "Union[" + ",".join(json_to_python_type({"type": t}) for t in typ) + "]"
    return "Any"


def describe_tool(function: Mapping[str, Any]) -> str:
    """Python-style signature plus docstring, as the Hermes 3 ``tool_use`` template writes it.

    A description that already starts with ``name(`` (the card's example) is kept as is.
    Unlike the upstream template, arguments are separated by newlines.

    Example:
        >>> describe_tool({"name": "get_weather", "description": "Get weather.",
        ...   "parameters": {"type": "object", "properties": {
        ...       "city": {"type": "string", "description": "City name"}}},
        ...   "return": {"type": "object"}})
        'get_weather(city: str) -> dict - Get weather.\\n\\n    Args:\\n        city(str): City name'
    """
    name = function["name"]
    description = str(function.get("description") or "")
    if description.startswith(f"{name}("):
        return description
    props = (function.get("parameters") or {}).get("properties") or {}
    sig = ", ".join(f"{p}: {json_to_python_type(s)}" for p, s in props.items())
    out = f"{name}({sig})"
    ret = function.get("return")
    if isinstance(ret, Mapping):
        out += f" -> {json_to_python_type(ret)}"
    out += f" - {description}\n\n"
    if props:
        lines = [
            f"        {p}({json_to_python_type(s)}): "
            + str(s.get("description", "") if isinstance(s, Mapping) else "").strip()
            for p, s in props.items()
        ]
        out += "    Args:\n" + "\n".join(lines)
    if isinstance(ret, Mapping) and "description" in ret:
        out += f"\n    Returns:\n        {ret['description']}"
    return out


def render_tool_line(tool: Mapping[str, Any]) -> str:
    """One tool as it appears inside ``<tools>``: JSON, description as signature + docstring.

    Example:
        >>> render_tool_line({"name": "now", "description": "Time."})
        '{"type": "function", "function": {"name": "now", "description": "now() - Time.\\\\n\\\\n", "parameters": {}}}'
    """
    fn = normalize_tool(tool)["function"]
    params = fn["parameters"]
    shown = params if (params.get("properties") or {}) else {}
    line = {"name": fn["name"], "description": describe_tool(fn), "parameters": shown}
    return json.dumps({"type": "function", "function": line}, ensure_ascii=False)


def render_tools_system_prompt(tools: Sequence[Mapping[str, Any]]) -> str:
    """The Hermes function-calling system prompt for ``tools`` (one tool per line).

    Example:
        >>> p = render_tools_system_prompt([{"name": "now", "description": "Time."}])
        >>> p.startswith("You are a function calling AI model.") and p.endswith("</tool_call>")
        True
    """
    return fill_tools_placeholder(TOOLS_SYSTEM_PROMPT_TEMPLATE, tools)


def fill_tools_placeholder(template: str, tools: Sequence[Mapping[str, Any]]) -> str:
    """Replace ``{TOOLS}`` in any system prompt with the tools, one JSON line each.

    Example:
        >>> print(fill_tools_placeholder("Tools: {TOOLS}.", [{"name": "now"}]))
        Tools: {"type": "function", "function": {"name": "now", "description": "now() - \\n\\n", "parameters": {}}}.
    """
    return template.replace("{TOOLS}", "\n".join(render_tool_line(t) for t in tools))


def _json_path(parts: Sequence[Any], root: str) -> str:
    out = root
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def validate_tool_arguments(call: ToolCall, tools: Sequence[Mapping[str, Any]]) -> list[str]:
    """Check a call against the tools' schemas; return human-readable errors (empty = valid).

    Example:
        >>> tools = [{"name": "f", "parameters": {"type": "object",
        ...           "properties": {"x": {"type": "integer"}}, "required": ["x"]}}]
        >>> validate_tool_arguments(ToolCall("f", {"x": "1"}, ""), tools)
        ["arguments.x: '1' is not of type 'integer'"]
    """
    if call.error:
        return [call.error]
    by_name = {normalize_tool(t)["function"]["name"]: normalize_tool(t)["function"] for t in tools}
    fn = by_name.get(call.name)
    if fn is None:
        known = ", ".join(sorted(by_name)) or "none"
        return [f"unknown tool {call.name!r} (available: {known})"]
    validator_cls = jsonschema.validators.validator_for(fn["parameters"])
    try:
        validator = validator_cls(fn["parameters"])
        errors = sorted(validator.iter_errors(call.arguments), key=lambda e: list(e.absolute_path))
        return [f"{_json_path(list(e.absolute_path), 'arguments')}: {e.message}" for e in errors]
    except jsonschema.SchemaError as exc:  # pragma: no cover - schemas are checked on entry
        return [f"tool {call.name!r} has an invalid parameters schema: {exc.message}"]


def tool_reply_valid(reply: str, tools: Sequence[Mapping[str, Any]]) -> bool | None:
    """``None`` if the reply makes no tool call, else whether every ``<tool_call>`` is closed, parses and validates.

    Example:
        >>> tools = [{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}]
        >>> ok = '<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>'
        >>> tool_reply_valid(ok, tools), tool_reply_valid(ok.replace("f", "g", 1), tools), tool_reply_valid("hi", tools)
        (True, False, None)
    """
    calls = parse_tool_calls(reply).calls
    if not calls:
        return None
    return all(c.closed and not validate_tool_arguments(c, tools) for c in calls)


def _check_function(fn: Any, loc: str, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(fn, dict):
        errors.append(f"{loc}: expected an object, got {type(fn).__name__}")
        return None
    ok = True
    name = fn.get("name")
    if not isinstance(name, str) or not _FUNCTION_NAME_RE.match(name):
        errors.append(f"{loc}.name: must be a string of 1-64 letters, digits, '_', '-' or '.'")
        ok = False
    if not isinstance(fn.get("description", ""), str):
        errors.append(f"{loc}.description: must be a string")
        ok = False
    params = fn.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict):
        errors.append(f"{loc}.parameters: must be a JSON Schema object")
        return None
    try:
        jsonschema.validators.validator_for(params).check_schema(params)
    except jsonschema.SchemaError as exc:
        errors.append(f"{_json_path(list(exc.absolute_path), loc + '.parameters')}: {exc.message}")
        ok = False
    if params and params.get("type", "object") != "object":
        errors.append(f"{loc}.parameters.type: must be 'object' (arguments are a dict)")
        ok = False
    return fn if ok else None


def validate_tool_schemas(text: str) -> tuple[list[dict[str, Any]] | None, list[str]]:
    """Check the tool-definitions editor's text; return (normalised tools, located errors).

    Accepts a JSON list of OpenAI function schemas or bare ``{"name", ...}`` objects.
    Tools are ``None`` whenever there is any error.

    Example:
        >>> validate_tool_schemas('[{"name": "f", "parameters": {"type": "object"}}]')[1]
        []
        >>> validate_tool_schemas('[{"name": "f",}]')[1]
        ['line 1, column 15: Expecting property name enclosed in double quotes']
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    except RecursionError:
        return None, ["tools: nested too deeply"]
    if not isinstance(data, list):
        return None, [f"tools: expected a JSON list of function schemas, got {type(data).__name__}"]
    errors: list[str] = []
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        loc = f"tools[{i}]"
        if isinstance(item, dict) and "function" in item:
            if item.get("type", "function") != "function":
                errors.append(f"{loc}.type: must be 'function'")
            fn = _check_function(item["function"], f"{loc}.function", errors)
        elif isinstance(item, dict) and "name" in item:
            fn = _check_function(item, loc, errors)
        else:
            errors.append(f'{loc}: expected {{"type": "function", "function": {{...}}}} or {{"name": ...}}')
            continue
        if fn is None:
            continue
        if fn["name"] in seen:
            errors.append(f"{loc}: duplicate tool name {fn['name']!r}")
        seen.add(fn["name"])
        out.append(normalize_tool(fn))
    return (None, errors) if errors else (out, [])


def format_tool_response(name: str, content: Any) -> str:
    """Content of a ``tool`` message: ``{"name": ..., "content": ...}`` as JSON text.

    Example:
        >>> format_tool_response("f", {"ok": True})
        '{"name": "f", "content": {"ok": true}}'
    """
    return json.dumps({"name": name, "content": content}, ensure_ascii=False, default=str)


def format_tool_error(call: ToolCall, errors: Sequence[str]) -> str:
    """Tool-message content telling the model its call was invalid, so it can retry.

    Example:
        >>> format_tool_error(ToolCall("f", {}, ""), ["unknown tool 'f'"])
        '{"name": "f", "content": {"error": "invalid tool call: unknown tool \\'f\\'"}}'
    """
    message = "invalid tool call: " + "; ".join(errors)
    return format_tool_response(call.name or "unknown", {"error": message})


@dataclass(frozen=True)
class ToolCallReport:
    """How a pane's model did with tools over one turn (for the pane's summary line)."""

    calls: int = 0
    valid: int = 0
    invalid: int = 0
    depth: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)
