"""Built-in demo tools: correct results, refusal of dangerous input, clear errors."""

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from playground.hermes.builtin_tools import (
    ToolArgumentError,
    ToolContext,
    UnknownToolError,
    builtin_tool_names,
    builtin_tool_schemas,
    calculator,
    convert_units,
    current_time,
    load_stock_table,
    run_builtin_tool,
)
from playground.hermes.tools import validate_tool_schemas

ASSETS = Path(__file__).resolve().parents[2] / "assets"
FIXED = datetime(2024, 8, 15, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / 2", 3.5), ("7 // 2", 3), ("7 % 3", 1),
        ("2 ** 10", 1024), ("2 ^ 3", 8), ("-3 + +5", 2), ("sqrt(16)", 4.0), ("abs(-2)", 2),
        ("round(2.567, 2)", 2.57), ("log(e)", 1.0), ("cos(0)", 1.0), ("floor(2.7) + ceil(2.1)", 5),
    ],
)
def test_calculator_correctness(expression, expected):
    assert calculator(expression) == expected


def test_calculator_constants():
    assert math.isclose(calculator("2 * pi"), math.tau)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')", "__import__('os').system('ls')", "().__class__", "(1).real",
        "open('x')", "x", "'a' * 3", "[1, 2]", "lambda: 1", "1 if 1 else 2", "(1).__class__.__bases__",
        "sqrt.__globals__", "True + 1", "1j * 1j", "2 < 3", "sqrt(x=4)", "a[0]", "{}",
    ],
)
def test_calculator_refuses_dangerous_or_unsupported_input(expression):
    with pytest.raises(ToolArgumentError):
        calculator(expression)


@pytest.mark.parametrize("expression", ["9 ** 9 ** 9", "10 ** 100000", "2 ** 20000",
                                        "(2 ** 9000) * (2 ** 9000)", "2.0 ** 100000", "1e308 * 10"])
def test_calculator_refuses_huge_results(expression):
    with pytest.raises(ToolArgumentError):
        calculator(expression)


@pytest.mark.parametrize("expression", ["1 / 0", "1 % 0", "sqrt(-1)", "(-8) ** 0.5", "1 +", "", "(" * 300])
def test_calculator_errors_are_tool_errors(expression):
    with pytest.raises(ToolArgumentError):
        calculator(expression)


def test_convert_units():
    assert convert_units(100, "C", "F")["result"] == 212.0
    assert convert_units(0, "celsius", "kelvin")["result"] == 273.15
    assert convert_units(1, "mi", "km")["result"] == 1.609344
    assert convert_units(1, "kg", "lb")["result"] == pytest.approx(2.2046226218)
    with pytest.raises(ToolArgumentError, match="different quantities"):
        convert_units(1, "kg", "m")
    with pytest.raises(ToolArgumentError, match="unknown unit"):
        convert_units(1, "parsec", "m")


def test_current_time_uses_injected_clock_and_zone():
    assert current_time("Asia/Tokyo", now=lambda: FIXED) == {
        "timezone": "Asia/Tokyo", "iso": "2024-08-16T08:30:00+09:00", "weekday": "Friday"}
    for bad in ["Mars/Olympus", "../../etc/passwd", ""]:
        with pytest.raises(ToolArgumentError, match="time zone"):
            current_time(bad, now=lambda: FIXED)


def test_stock_table_lookup_matches_card_example():
    table = load_stock_table(ASSETS / "tools" / "stock_fundamentals.csv")
    assert len(table) >= 10
    tsla = run_builtin_tool("get_stock_fundamentals", {"symbol": "tsla"}, ToolContext(stocks=table))
    assert tsla == {
        "symbol": "TSLA", "company_name": "Tesla, Inc.", "sector": "Consumer Cyclical",
        "industry": "Auto Manufacturers", "market_cap": 611384164352, "pe_ratio": 49.604652,
        "pb_ratio": 9.762013, "dividend_yield": None, "eps": 4.3, "beta": 2.427,
        "52_week_high": 299.29, "52_week_low": 152.37,
    }
    for row in table.values():
        assert set(row) == set(tsla)
        json.dumps(row)
    with pytest.raises(ToolArgumentError, match="no data for symbol"):
        run_builtin_tool("get_stock_fundamentals", {"symbol": "ZZZZ"}, ToolContext(stocks=table))


def test_run_builtin_tool_dispatch_and_errors():
    ctx = ToolContext(now=lambda: FIXED)
    assert run_builtin_tool("calculator", {"expression": "6*7"}, ctx) == 42
    assert run_builtin_tool("current_time", {}, ctx)["iso"] == "2024-08-15T23:30:00+00:00"
    assert run_builtin_tool("convert_units", {"value": 1, "from_unit": "m", "to_unit": "cm"}, ctx)["result"] == 100
    with pytest.raises(UnknownToolError, match="unknown tool 'rm'"):
        run_builtin_tool("rm", {}, ctx)
    with pytest.raises(ToolArgumentError, match="'expression' is a required property"):
        run_builtin_tool("calculator", {}, ctx)
    with pytest.raises(ToolArgumentError, match="is not of type 'string'"):
        run_builtin_tool("calculator", {"expression": 5}, ctx)


def test_schemas_are_valid_fresh_and_match_shipped_asset():
    schemas = builtin_tool_schemas()
    assert validate_tool_schemas(json.dumps(schemas))[1] == []
    assert builtin_tool_names() == ("calculator", "convert_units", "current_time", "get_stock_fundamentals")
    schemas.clear()
    assert builtin_tool_schemas()  # no shared mutable state
    shipped = json.loads((ASSETS / "tools" / "builtins.json").read_text())
    assert shipped == builtin_tool_schemas()
