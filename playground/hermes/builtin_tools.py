"""Safe demo tools that really execute, each with its OpenAI function schema.

* ``calculator``: the expression is parsed with ``ast.parse(mode="eval")`` and walked over
  an allow-list (numbers, ``+ - * / // % **``, unary ``+``/``-``, a few ``math`` functions
  and constants). Nothing is ever ``eval``-ed; names, attributes, subscripts, strings and
  calls to anything else are refused; exponents and integer sizes are capped.
* ``convert_units``: length, mass and temperature from a table.
* ``current_time``: a zone from the IANA database via ``zoneinfo``; the clock is injectable.
* ``get_stock_fundamentals``: a deterministic lookup over the bundled, illustrative table
  ``assets/tools/stock_fundamentals.csv`` (same keys as Nous's Hermes-Function-Calling
  example; *not* live market data).

The only I/O is :func:`load_stock_table`, which reads the table from a path it is given.
"""

from __future__ import annotations

import ast
import csv
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema


class ToolError(ValueError):
    """A built-in tool could not run; the message is meant for the model and the user."""


class UnknownToolError(ToolError):
    """No built-in tool has this name."""


class ToolArgumentError(ToolError):
    """The arguments do not fit the tool (schema violation or a value it cannot use)."""


MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 10_000
MAX_INT_BITS = 10_000  # ~3000 digits: stays printable and JSON-serialisable

_BIN_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY_OPS: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan, "log": math.log,
    "log10": math.log10, "exp": math.exp, "abs": abs, "round": round, "floor": math.floor,
    "ceil": math.ceil,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _check_pow(base: Any, exp: Any) -> None:
    if abs(exp) > MAX_EXPONENT:
        raise ToolArgumentError(f"exponent {exp} is too large (limit {MAX_EXPONENT})")
    if isinstance(base, int) and isinstance(exp, int) and exp > 0:
        if base.bit_length() * exp > MAX_INT_BITS:
            raise ToolArgumentError("result would be too large")


def _checked(result: Any) -> int | float:
    if isinstance(result, complex):
        raise ToolArgumentError("the result is not a real number")
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise ToolArgumentError("result would be too large")
    if isinstance(result, float) and not math.isfinite(result):
        raise ToolArgumentError("the result overflows (not a finite number)")
    return result


def _eval_node(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        raise ToolArgumentError(f"only numbers are allowed, not {node.value!r}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN_OPS:
        left, right = _eval_node(node.left), _eval_node(node.right)
        if isinstance(node.op, ast.Pow):
            _check_pow(left, right)
        result = _BIN_OPS[type(node.op)](left, right)
        return _checked(result)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPS:
        return _UNARY_OPS[type(node.op)](_eval_node(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
        and 1 <= len(node.args) <= 2
    ):
        return _checked(_FUNCTIONS[node.func.id](*(_eval_node(a) for a in node.args)))
    allowed = ", ".join(sorted(_FUNCTIONS))
    raise ToolArgumentError(
        f"{type(node).__name__} is not allowed; use numbers, + - * / // % **, "
        f"parentheses, pi, e and {allowed}"
    )


def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression safely (never ``eval``).

    Example:
        >>> calculator("2 * (3 + 4) ** 2 - sqrt(16)")
        94.0
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolArgumentError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
        return _eval_node(tree)
    except ToolError:
        raise
    except ZeroDivisionError:
        raise ToolArgumentError("division by zero") from None
    except (SyntaxError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise ToolArgumentError(f"cannot evaluate {expression!r}: {exc}") from None


# factor to the base unit (metre, kilogram)
_LENGTH = {"m": 1.0, "km": 1000.0, "cm": 0.01, "mm": 0.001, "mi": 1609.344, "yd": 0.9144,
           "ft": 0.3048, "in": 0.0254, "nmi": 1852.0}
_MASS = {"kg": 1.0, "g": 0.001, "mg": 1e-6, "t": 1000.0, "lb": 0.45359237,
         "oz": 0.028349523125, "st": 6.35029318}
_TEMPERATURE = ("C", "F", "K")
_ALIASES = {
    "meter": "m", "meters": "m", "metre": "m", "metres": "m", "kilometer": "km",
    "kilometers": "km", "centimeter": "cm", "centimeters": "cm", "millimeter": "mm",
    "millimeters": "mm", "mile": "mi", "miles": "mi", "yard": "yd", "yards": "yd",
    "foot": "ft", "feet": "ft", "inch": "in", "inches": "in", "kilogram": "kg",
    "kilograms": "kg", "gram": "g", "grams": "g", "milligram": "mg", "tonne": "t",
    "tonnes": "t", "pound": "lb", "pounds": "lb", "lbs": "lb", "ounce": "oz", "ounces": "oz",
    "stone": "st", "celsius": "C", "°c": "C", "c": "C", "fahrenheit": "F", "°f": "F",
    "f": "F", "kelvin": "K", "k": "K",
}


def _unit(name: str) -> str:
    key = name.strip()
    if key in _LENGTH or key in _MASS or key in _TEMPERATURE:
        return key
    alias = _ALIASES.get(key.lower())
    if alias is None:
        known = ", ".join([*_LENGTH, *_MASS, *_TEMPERATURE])
        raise ToolArgumentError(f"unknown unit {name!r} (known: {known})")
    return alias


def _to_kelvin(value: float, unit: str) -> float:
    return {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"C": value - 273.15, "F": (value - 273.15) * 9 / 5 + 32, "K": value}[unit]


def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    """Convert a length, mass or temperature.

    Example:
        >>> convert_units(100, "celsius", "F")["result"]
        212.0
    """
    src, dst = _unit(from_unit), _unit(to_unit)
    for table in (_LENGTH, _MASS):
        if src in table and dst in table:
            result = value * table[src] / table[dst]
            break
    else:
        if src in _TEMPERATURE and dst in _TEMPERATURE:
            result = _from_kelvin(_to_kelvin(value, src), dst)
        else:
            raise ToolArgumentError(f"cannot convert {src} to {dst}: different quantities")
    return {"value": value, "from_unit": src, "to_unit": dst, "result": round(result, 10)}


def utc_now() -> datetime:
    """The real clock (aware, UTC)."""
    return datetime.now(UTC)


def current_time(tz: str = "UTC", *, now: Callable[[], datetime] = utc_now) -> dict[str, Any]:
    """Current date and time in an IANA time zone.

    Example:
        >>> fixed = lambda: datetime(2024, 8, 15, 12, 0, tzinfo=UTC)
        >>> current_time("Europe/Berlin", now=fixed)["iso"]
        '2024-08-15T14:00:00+02:00'
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ToolArgumentError(f"unknown time zone {tz!r}; use an IANA name like 'Europe/Paris'") from None
    moment = now().astimezone(zone)
    return {"timezone": tz, "iso": moment.isoformat(), "weekday": moment.strftime("%A")}


_STOCK_FLOATS = ("pe_ratio", "pb_ratio", "dividend_yield", "eps", "beta", "52_week_high", "52_week_low")


def load_stock_table(path: Path | str) -> dict[str, dict[str, Any]]:
    """Read the bundled fundamentals CSV into ``{SYMBOL: row}`` (empty cells become ``None``)."""
    table: dict[str, dict[str, Any]] = {}
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()}
            if rec["market_cap"] is not None:
                rec["market_cap"] = int(rec["market_cap"])
            for key in _STOCK_FLOATS:
                if rec[key] is not None:
                    rec[key] = float(rec[key])
            table[rec["symbol"].upper()] = rec
    return table


def get_stock_fundamentals(symbol: str, table: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Look a ticker up in the bundled table.

    Example:
        >>> get_stock_fundamentals("tsla", {"TSLA": {"symbol": "TSLA"}})
        {'symbol': 'TSLA'}
    """
    row = table.get(symbol.strip().upper())
    if row is None:
        known = ", ".join(sorted(table)) or "none loaded"
        raise ToolArgumentError(f"no data for symbol {symbol!r} (known: {known})")
    return dict(row)


@dataclass(frozen=True)
class ToolContext:
    """What the built-ins may use: the stock table and a clock (inject both in tests)."""

    stocks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    now: Callable[[], datetime] = utc_now


def builtin_tool_schemas() -> list[dict[str, Any]]:
    """OpenAI function schemas of every built-in tool (a fresh list on every call)."""
    def fn(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
        params = {"type": "object", "properties": props, "required": required}
        return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}

    return [
        fn("calculator", "Evaluate an arithmetic expression (+ - * / // % **, parentheses, "
           "sqrt, sin, cos, tan, log, log10, exp, abs, round, floor, ceil, pi, e).",
           {"expression": {"type": "string", "description": "Expression, e.g. '2 * (3 + 4)'"}},
           ["expression"]),
        fn("convert_units", "Convert a length, mass or temperature between units.",
           {"value": {"type": "number", "description": "The amount to convert"},
            "from_unit": {"type": "string", "description": "Unit of value, e.g. 'km', 'lb', 'C'"},
            "to_unit": {"type": "string", "description": "Target unit, e.g. 'mi', 'kg', 'F'"}},
           ["value", "from_unit", "to_unit"]),
        fn("current_time", "Get the current date and time in a time zone.",
           {"timezone": {"type": "string", "description": "IANA time zone, e.g. 'Europe/Paris'"}},
           []),
        fn("get_stock_fundamentals", "Get fundamental data for a given stock symbol "
           "(bundled illustrative snapshot).",
           {"symbol": {"type": "string", "description": "The stock symbol, e.g. 'TSLA'"}},
           ["symbol"]),
    ]


def builtin_tool_names() -> tuple[str, ...]:
    """Names of the built-in tools."""
    return tuple(t["function"]["name"] for t in builtin_tool_schemas())


def run_builtin_tool(name: str, arguments: Mapping[str, Any], context: ToolContext = ToolContext()) -> Any:
    """Validate ``arguments`` against the tool's schema and run it.

    Raises:
        UnknownToolError: ``name`` is not a built-in.
        ToolArgumentError: arguments invalid, or the tool cannot use them.

    Example:
        >>> run_builtin_tool("calculator", {"expression": "6 * 7"})
        42
    """
    schema = next((t["function"] for t in builtin_tool_schemas() if t["function"]["name"] == name), None)
    if schema is None:
        raise UnknownToolError(f"unknown tool {name!r}; built-ins are {', '.join(builtin_tool_names())}")
    errors = list(jsonschema.Draft202012Validator(schema["parameters"]).iter_errors(dict(arguments)))
    if errors:
        raise ToolArgumentError("; ".join(e.message for e in errors))
    if name == "calculator":
        return calculator(arguments["expression"])
    if name == "convert_units":
        return convert_units(arguments["value"], arguments["from_unit"], arguments["to_unit"])
    if name == "current_time":
        return current_time(arguments.get("timezone", "UTC"), now=context.now)
    return get_stock_fundamentals(arguments["symbol"], context.stocks)
