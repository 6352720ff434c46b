"""JSON mode: the ``<schema>`` system prompt, JSON extraction, schema validation (PROTOCOLS §3).

The reply is read in this order: the whole reply as JSON; the first fenced ```` ```json ````
(or bare ```` ``` ````) block; the first balanced ``{...}`` / ``[...]`` that parses. It is
then validated with the JSON Schema validator matching the schema's ``$schema`` (Draft
2020-12 by default); the failing location is reported as a JSON path like ``$.age``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from playground.hermes.chatml import strip_trailing_specials

#: PROTOCOLS.md §3 (real newlines); ``{SCHEMA}`` is replaced by the schema text.
JSON_SYSTEM_PROMPT_TEMPLATE = (
    "You are a helpful assistant that answers in JSON. "
    "Here's the json schema you must adhere to:\n<schema>\n{SCHEMA}\n</schema>"
)

_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON|jsonc)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_MAX_BRACE_ATTEMPTS = 64


@dataclass(frozen=True)
class JsonCheck:
    """Outcome of checking one reply.

    ``path`` is the JSON path of the first failing location (``$`` for the root), ``reason``
    says what is wrong; both are ``None`` when ``valid``. ``errors`` lists every schema
    violation as ``"$.path: message"``.
    """

    valid: bool
    value: Any = None
    path: str | None = None
    reason: str | None = None
    errors: tuple[str, ...] = ()
    parsed: bool = False


def render_json_system_prompt(schema_text: str) -> str:
    """The JSON-mode system prompt, with the schema text inserted verbatim (outer whitespace trimmed).

    Example:
        >>> print(render_json_system_prompt('{"type": "object"}'))
        You are a helpful assistant that answers in JSON. Here's the json schema you must adhere to:
        <schema>
        {"type": "object"}
        </schema>
    """
    return JSON_SYSTEM_PROMPT_TEMPLATE.replace("{SCHEMA}", schema_text.strip())


def _loads(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def extract_json(reply: str) -> tuple[Any, str | None]:
    """Find the JSON value in a reply; return ``(value, None)`` or ``(None, error)``.

    Example:
        >>> extract_json('Here you go:\\n```json\\n{"a": 1}\\n```')
        ({'a': 1}, None)
        >>> extract_json('The answer is {"a": [1, 2]} as asked.')
        ({'a': [1, 2]}, None)
        >>> extract_json("no json here")
        (None, 'no JSON value found in the reply')
    """
    text = strip_trailing_specials(reply)
    ok, value = _loads(text)
    if ok:
        return value, None
    fence_error = None
    for match in _FENCE_RE.finditer(text):
        ok, value = _loads(match.group(1).strip())
        if ok:
            return value, None
        fence_error = fence_error or _decode_error(match.group(1).strip())
    decoder = json.JSONDecoder()
    attempts = 0
    for i, ch in enumerate(text):
        if ch not in "{[":
            continue
        attempts += 1
        if attempts > _MAX_BRACE_ATTEMPTS:
            break
        try:
            return decoder.raw_decode(text, i)[0], None
        except (ValueError, RecursionError):
            continue
    if fence_error:
        return None, f"fenced block is not valid JSON: {fence_error}"
    if text.startswith(("{", "[")):
        return None, f"not valid JSON: {_decode_error(text)}"
    return None, "no JSON value found in the reply"


def _decode_error(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    except (ValueError, RecursionError) as exc:
        return str(exc) or type(exc).__name__
    return "unknown error"


def json_path(parts: Sequence[Any]) -> str:
    """JSON path for a location: ``["items", 0, "name"]`` -> ``$.items[0].name``.

    Example:
        >>> json_path(["items", 0, "first name"])
        "$.items[0]['first name']"
    """
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(p)):
            out += f".{p}"
        else:
            out += f"[{str(p)!r}]"
    return out


def _as_schema(schema: Mapping[str, Any] | str) -> Any:
    return json.loads(schema) if isinstance(schema, str) else schema


def check_json_reply(reply: str, schema: Mapping[str, Any] | str) -> JsonCheck:
    """Parse a reply and validate it against ``schema`` (a dict or JSON text).

    Example:
        >>> schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
        >>> c = check_json_reply('{"age": "old"}', schema)
        >>> c.valid, c.path, c.reason
        (False, '$.age', "'old' is not of type 'integer'")
    """
    value, error = extract_json(reply)
    if error is not None:
        return JsonCheck(False, None, None, error, (error,), parsed=False)
    try:
        sch = _as_schema(schema)
        validator = jsonschema.validators.validator_for(sch)(sch)
        validator.check_schema(sch)
        errors = list(validator.iter_errors(value))
    except (ValueError, RecursionError) as exc:
        return JsonCheck(False, value, None, f"schema is not valid JSON: {exc}", parsed=True)
    except jsonschema.SchemaError as exc:
        return JsonCheck(False, value, None, f"schema is invalid: {exc.message}", parsed=True)
    except Exception as exc:  # noqa: BLE001 - bad regex, unresolvable $ref...: a value, not a crash
        return JsonCheck(False, value, None, f"schema could not be applied: {exc}", parsed=True)
    if not errors:
        return JsonCheck(True, value, parsed=True)
    first = best_match(errors)
    listed = tuple(f"{json_path(list(e.absolute_path))}: {e.message}" for e in errors)
    return JsonCheck(False, value, json_path(list(first.absolute_path)), first.message, listed, True)


def validate_json_schema_text(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Check the JSON-Schema editor's text; return ``(schema, errors)`` with located errors.

    Example:
        >>> validate_json_schema_text('{"type": "objekt"}')[1][0].startswith("schema.type:")
        True
    """
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    except RecursionError:
        return None, ["schema: nested too deeply"]
    if not isinstance(schema, dict):
        return None, [f"schema: expected a JSON object, got {type(schema).__name__}"]
    validator_cls = jsonschema.validators.validator_for(schema)
    errors = sorted(
        validator_cls(validator_cls.META_SCHEMA).iter_errors(schema),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        located = []
        for e in errors:
            loc = "schema" + "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path
            )
            located.append(f"{loc}: {e.message}")
        return None, located
    return schema, []


def grammar_for(schema: Mapping[str, Any] | str) -> dict[str, Any]:
    """TGI's grammar parameter for grammar-constrained JSON decoding.

    Example:
        >>> grammar_for('{"type": "object"}')
        {'type': 'json', 'value': {'type': 'object'}}
    """
    return {"type": "json", "value": _as_schema(schema)}
