"""Write the results: ``results.json`` (everything), ``report.md`` (tables), ``chart.html``/``.png`` (plotly)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], str]]


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if abs(value) >= 1000 else f"{value:.0f}"


def _pair(d: dict[str, Any] | None, fmt: Callable[[float | None], str] = _ms) -> str:
    """``p50 / p95`` of a ``dist``."""
    if not d or d.get("p50") is None:
        return "–"
    return f"{fmt(d['p50'])} / {fmt(d['p95'])}"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


APP_ROWS: tuple[Row, ...] = (
    ("added time to first token, ms (p50 / p95)", lambda r: _pair(r["added_ttft_ms"])),
    ("queue wait, ms (p50 / p95)", lambda r: _pair(r["queue_wait_ms"])),
    ("start → first update (panes shown waiting), ms (p50 / p95)", lambda r: _pair(r.get("start_to_first_update_ms"))),
    ("highest queue position shown", lambda r: str(r["queue_rank_max"]) if r["queue_rank_max"] >= 0 else "–"),
    ("gap between updates, ms (p50 / p95)", lambda r: _pair(r["update_gap_ms"])),
    ("listeners chained after the turn (.then), ms (p50 / p95)", lambda r: _pair(r.get("chained_ms"))),
    ("updates per turn (p50 / p95)", lambda r: _pair(r["updates_per_turn"], lambda v: f"{v:.0f}")),
    ("turn wall ÷ backends alone (p50 / p95)", lambda r: _pair(r["wall_ratio"], _x)),
    ("… of which out of the queue: start → done ÷ backends alone (p50 / p95)",
     lambda r: _pair(r.get("service_ratio"), _x)),
    ("turn wall ÷ backends alone at the same K (p50 / p95)", lambda r: _pair(r["wall_ratio_same_k"], _x)),
    ("4-pane turns per second", lambda r: f"{r['turns_per_s']:.2f}"),
    ("app CPU ms per turn", lambda r: f"{r['cpu_ms_per_turn']['app']:.0f}"),
    ("app CPU, cores busy", lambda r: f"{r['cores']['app']:.2f}"),
    ("test servers CPU ms per turn", lambda r: f"{r['cpu_ms_per_turn']['servers']:.0f}"),
    ("load generator CPU ms per turn", lambda r: f"{r['cpu_ms_per_turn']['harness']:.0f}"),
    ("errors (of turns)", lambda r: f"{r['errors']} ({r['turns']})"),
    ("app peak RSS, MB", lambda r: _x(r["app_peak_rss_mb"]).replace(".00", "") if r["app_peak_rss_mb"] else "–"),
    ("Stop → backends disconnected, ms (p50 / p95)", lambda r: _pair(r["stop_ms"])),
    ("other processes on the machine, cores (noise)", lambda r: f"{r['foreign_cores']:.2f}"),
)

DIRECT_ROWS: tuple[Row, ...] = (
    ("4-stream turns per second", lambda r: f"{r['turns_per_s']:.2f}"),
    ("turn wall ÷ backends alone at K = 1 (p50 / p95)", lambda r: _pair(r["wall_ratio"], _x)),
    ("added time to first token, ms (p50 / p95)", lambda r: _pair(r["added_ttft_ms"])),
    ("errors (of turns)", lambda r: f"{r['errors']} ({r['turns']})"),
)


# The figures reported as ratios too (keys of ``summary.FIGURES``): label, short name in a ratio,
# name of its ÷ backends-alone ratio (None: no counterpart without an app), how to show a value.
FIGURES: tuple[tuple[str, str, str, str | None, Callable[[float | None], str]], ...] = (
    ("app_cpu_ms_per_turn", "app CPU per turn, ms", "app CPU per turn", None, _ms),
    ("turns_per_s", "4-pane turns per second", "turns/s", "turns/s", _x),
    ("added_ttft_p50_ms", "added time to first token p50, ms", "added TTFT p50", "time to first token p50", _ms),
    ("added_ttft_p95_ms", "added time to first token p95, ms", "added TTFT p95", "time to first token p95", _ms),
    ("wall_ratio_p50", "turn wall ÷ backends alone p50", "turn wall p50", "turn wall p50", _x),
    ("wall_ratio_p95", "turn wall ÷ backends alone p95", "turn wall p95", "turn wall p95", _x),
    ("errors", "errors", "errors", None, lambda v: "–" if v is None else f"{v:.0f}"),
    ("peak_rss_mb", "app peak RSS, MB", "peak RSS", None, lambda v: "–" if v is None else f"{v:.0f}"),
)


def _ratio_rows(cell: Callable[[int, str, str], str], ks: list[int], naive: bool) -> list[str]:
    """Rows ``figure ÷ naive`` then ``… ÷ backends alone``; ``cell(k, side, figure)`` formats one."""
    lines = ["| K (concurrent users) | " + " | ".join(map(str, ks)) + " |", "|---" * (len(ks) + 1) + "|"]
    for key, _, short, alone, _ in FIGURES:
        if naive:
            lines.append(f"| {short} ÷ naive | " + " | ".join(cell(k, "vs_naive", key) for k in ks) + " |")
        if alone:
            lines.append(f"| {alone} ÷ backends alone | " + " | ".join(cell(k, "vs_backends", key) for k in ks) + " |")
    return lines


def ratio_lines(results: dict[str, Any]) -> list[str]:
    """Every variant's figures ÷ the naive app's and ÷ the backends alone's, same run (ratios first)."""
    naive = "naive" in results["apps"]
    where = " (`benchmarks/naive_app.py`)" if naive else " (not in this run: add `--variant naive`)"
    out = ["## Ratios, measured in this run", "",
           (f"Each figure ÷ the naive app's at the same K{where} and ÷ the backends alone's (turns/s at the "
            "same K; time to first token and turn wall at K = 1). Below 1 is better, except turns/s."), ""]
    for name, rows in results["apps"].items():
        by_k = {r["users"]: r for r in rows}

        def cell(k: int, side: str, key: str, by_k: dict[int, dict[str, Any]] = by_k) -> str:
            return _x((by_k[k].get(side) or {}).get(key))

        out += [f"### `{name}`", "", *_ratio_rows(cell, sorted(by_k), naive and name != "naive"), ""]
    return out


def _spread(d: dict[str, Any] | None, runs: int, fmt: Callable[[float | None], str] = _x) -> str:
    """``median (min–max)``, and how many runs had the figure if not all."""
    if not d or d.get("median") is None:
        return "–"
    some = f", {d['n']} of {runs} runs" if d["n"] < runs else ""
    return f"{fmt(d['median'])} ({fmt(d['min'])}–{fmt(d['max'])}{some})"


def aggregate_markdown(combined: dict[str, Any]) -> str:
    """Median (min–max) over runs of every figure and ratio, then each run's own report."""
    agg = combined["aggregate"]
    variants = agg["variants"]
    naive = "naive" in variants
    out = [f"# Hermes Playground: load and latency, {agg['runs']} runs", "", f"`{combined['command']}`", "",
           (f"Every cell: median (min–max) over {agg['runs']} runs. Ratios first: each figure ÷ the naive app's "
            "(`benchmarks/naive_app.py`) and ÷ the backends alone's, both measured in the same run as the "
            "figure, then the ratios' spread taken over runs."), ""]
    for name, per_k in variants.items():
        ks = sorted(per_k, key=int)

        def cell(k: Any, side: str, key: str, per_k: dict[Any, Any] = per_k) -> str:
            return _spread(per_k[k][side][key], agg["runs"])

        out += [f"## Ratios: `{name}`", "", *_ratio_rows(cell, ks, naive and name != "naive"), ""]
    for name, per_k in variants.items():
        ks = sorted(per_k, key=int)
        out += [f"## Figures: `{name}`", "", "| K | " + " | ".join(map(str, ks)) + " |", "|---" * (len(ks) + 1) + "|"]
        out += [f"| {label} | " + " | ".join(_spread(per_k[k]["figures"][key], agg["runs"], fmt) for k in ks) + " |"
                for key, label, _, _, fmt in FIGURES]
        out += [""]
    for i, results in enumerate(combined["runs"], 1):
        out += [f"# Run {i} of {agg['runs']}", "", *["#" + line if line.startswith("#") else line
                                                     for line in markdown(results).splitlines()], ""]
    return "\n".join(out) + "\n"


def write_aggregate(combined: dict[str, Any], out_dir: Path) -> list[Path]:
    """``results.json`` (the aggregate and every run) and ``report.md`` of several runs into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(combined, indent=1, default=str), encoding="utf-8")
    (out_dir / "report.md").write_text(aggregate_markdown(combined), encoding="utf-8")
    return [out_dir / "results.json", out_dir / "report.md"]


def _table(rows: tuple[Row, ...], runs: list[dict[str, Any]]) -> list[str]:
    head = "| K (concurrent users) | " + " | ".join(str(r["users"]) for r in runs) + " |"
    lines = [head, "|---" * (len(runs) + 1) + "|"]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in runs) + " |")
    return lines


def _profile_lines(name: str, prof: dict[str, Any]) -> list[str]:
    cpu = prof["cpu_ms_per_turn"]
    lines = [f"### Profile: `{name}` at K = {prof['users']} ({prof['samples']} py-spy samples, "
             f"{cpu:.0f} ms app CPU per turn in that window)", "",
             "| stage (inclusive) | share | ms per turn |", "|---|---|---|"]
    lines += [f"| {k} | {v:.0%} | {v * cpu:.0f} |" for k, v in prof["stages"].items()]
    lines += ["", "| package of the running code (self) | share | ms per turn |", "|---|---|---|"]
    lines += [f"| {k} | {v:.0%} | {v * cpu:.0f} |" for k, v in prof["packages"].items() if v >= 0.005]
    lines += ["", "| hottest functions (self) | share |", "|---|---|"]
    lines += [f"| `{k}` | {v:.1%} |" for k, v in prof["functions"].items()]
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    """The human-readable report."""
    cfg, ref = results["config"], results["reference"]
    out = ["# Hermes Playground: load and latency", "",
           f"Run {results['started']} on {results['machine']['cores']} cores "
           f"(load average before: {results['machine']['loadavg_before']}). Backends: {cfg['panes']} "
           f"TGI-protocol test servers, {cfg['ttft']} s to first token, {cfg['rate']} tokens/s, "
           f"{cfg['tokens']} tokens per pane; each user clicks Send on a {cfg['panes']}-pane turn, back to back, "
           f"{cfg.get('turns_per_session', 1)} turns per conversation (session), chained listeners included. "
           f"Window {cfg['duration']} s after {cfg['warmup']} s of arrivals.",
           ""]
    busy = [f"{v} K={r['users']}" for v, runs in results["apps"].items() for r in runs if r["foreign_cores"] > 0.15]
    if busy:
        out += [f"**Noisy run:** other processes used > 0.15 cores during {', '.join(busy)}; compare only "
                "figures taken side by side.", ""]
    out += ratio_lines(results)
    out += ["## Backends alone (the denominator)", "",
            f"- time to first token (earliest of {cfg['panes']}): {ref['ttft_s'] * 1000:.0f} ms; "
            f"{cfg['panes']}-stream turn: {ref['turn_s']:.3f} s; slowest backend streamed alone: "
            f"{ref['slowest_pane_alone_s']:.3f} s (fan-out without the app: ×{ref['fanout_ratio']:.3f})", ""]
    if results["direct"]:
        out += _table(DIRECT_ROWS, results["direct"]) + [""]
    for name, runs in results["apps"].items():
        variant = results["variants"][name]
        env = " ".join(f"{k}={v}" for k, v in variant.get("env", {}).items())
        out += [f"## App `{name}` ({variant['directory']}, {variant['commit']}{', ' + env if env else ''})", ""]
        if variant.get("replicas", 1) > 1:
            out += [f"**{variant['replicas']} app processes**, one shared store, each user sticking to one "
                    "(CPU figures add the processes up; RSS is the largest one's).", ""]
        out += _table(APP_ROWS, runs) + [""]
        k1 = next((r for r in runs if r["users"] == 1), None)
        idle = results["stop_idle"].get(name)
        if name in results["idle_app_cores"]:
            out += [f"Idle app (started, nobody clicking): {results['idle_app_cores'][name]:.3f} cores."]
        if k1:
            out += [f"At K = 1: added time to first token p50 {_ms(k1['added_ttft_ms']['p50'])} ms; "
                    f"4-pane turn ÷ its slowest pane alone {_pair(k1['wall_over_slowest_pane'], _x)} (p50 / p95)."]
        if idle:
            out += [f"Stop on an idle app → all {cfg['panes']} backends disconnected: {_pair(idle)} ms "
                    f"(p50 / p95 of {idle['n']}; upper bound, polled every 5 ms)."]
        out += [""]
    for name, prof in results["profiles"].items():
        out += _profile_lines(name, prof)
    return "\n".join(out) + "\n"


CHART: tuple[tuple[str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("added TTFT p50 (ms)", lambda r: r["added_ttft_ms"]["p50"]),
    ("added TTFT p95 (ms)", lambda r: r["added_ttft_ms"]["p95"]),
    ("update gap p50 (ms)", lambda r: r["update_gap_ms"]["p50"]),
    ("update gap p95 (ms)", lambda r: r["update_gap_ms"]["p95"]),
    ("turn wall ÷ alone p50", lambda r: r["wall_ratio"]["p50"]),
    ("turns per second", lambda r: r["turns_per_s"]),
    ("app CPU ms per turn", lambda r: r["cpu_ms_per_turn"]["app"]),
    ("errors", lambda r: r["errors"]),
    ("app peak RSS (MB)", lambda r: r["app_peak_rss_mb"]),
    ("Stop → disconnect p50 (ms)", lambda r: (r["stop_ms"] or {}).get("p50")),
)


def chart(results: dict[str, Any], html: Path, png: Path | None) -> str | None:
    """Plot every figure against K (log axis), one line per app; returns why the PNG is missing, if it is."""
    from plotly.subplots import make_subplots

    cols = 5
    fig = make_subplots(rows=2, cols=cols, subplot_titles=[title for title, _ in CHART])
    for v, (name, runs) in enumerate(results["apps"].items()):
        ks = [r["users"] for r in runs]
        for i, (_, value) in enumerate(CHART):
            fig.add_scatter(x=ks, y=[value(r) for r in runs], name=name, legendgroup=name, showlegend=i == 0,
                            mode="lines+markers", line={"color": f"hsl({v * 137 % 360},60%,45%)"},
                            row=i // cols + 1, col=i % cols + 1)
    if results["direct"]:
        ks = [r["users"] for r in results["direct"]]
        fig.add_scatter(x=ks, y=[r["turns_per_s"] for r in results["direct"]], name="backends alone",
                        mode="lines+markers", line={"dash": "dot", "color": "grey"}, row=2, col=1)
    fig.update_xaxes(type="log", title_text="K")
    fig.update_layout(height=700, width=1600, title="Hermes Playground under load (x: concurrent users K)")
    fig.write_html(html, include_plotlyjs=True)
    if png is None:
        return "PNG not requested"
    try:
        fig.write_image(png)
    except Exception as exc:  # noqa: BLE001 — kaleido or its browser missing: the HTML is enough
        return f"no PNG ({type(exc).__name__}: {str(exc)[:200]})"
    return None


def write_all(results: dict[str, Any], out_dir: Path, png: bool = True) -> list[Path]:
    """Write JSON, Markdown and the chart into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(results), encoding="utf-8")
    written = [out_dir / "results.json", out_dir / "report.md"]
    if results["apps"]:
        why = chart(results, out_dir / "chart.html", out_dir / "chart.png" if png else None)
        written.append(out_dir / "chart.html")
        if why is None:
            written.append(out_dir / "chart.png")
        else:
            results["chart_note"] = why
    return written
