"""Raw timings -> the figures the report shows: medians and 95th percentiles, ratios to the backends alone."""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.direct import DirectTurn, PaneTiming
from benchmarks.gradio_queue import TurnResult
from benchmarks.meters import WindowReadings
from benchmarks.users import StopTrial, UserRun


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100); ``None`` for no values.

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def dist(values: Sequence[float]) -> dict[str, float | int | None]:
    """``{"p50", "p95", "n"}`` of some values."""
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}


@dataclass
class Reference:
    """The backends alone at K = 1: the denominators of every ratio."""

    ttft_s: float  # 4 streams at once: first token of the earliest pane, median
    turn_s: float  # 4 streams at once: last final event, median
    slowest_pane_alone_s: float  # each backend streamed alone: the slowest backend's median
    fanout_ratio: float  # turn_s / slowest_pane_alone_s: what fan-out costs without any app


def reference(turns: Sequence[DirectTurn], singles: Sequence[Sequence[PaneTiming]]) -> Reference:
    """Medians of the K = 1 direct measurements (fails loudly if the backends alone failed)."""
    ok = [t for t in turns if t.ok]
    if not ok:
        raise RuntimeError("the backends alone produced no complete turn; see the server logs")
    ttft = statistics.median(t.first_token_s for t in ok)  # type: ignore[misc]
    turn = statistics.median(t.wall_s for t in ok)  # type: ignore[misc]
    per_backend = [statistics.median(p.total_s for p in runs if p.total_s is not None) for runs in singles]
    slowest = max(per_backend)
    return Reference(ttft, turn, slowest, turn / slowest)


def direct_summary(users: int, turns: Sequence[DirectTurn], window: tuple[float, float], ref: Reference
                   ) -> dict[str, Any]:
    """The backends alone under K users: throughput and wall time ÷ the K = 1 reference."""
    joined = [t for t in turns if window[0] <= t.t_start < window[1]]
    done = [t for t in turns if t.ok and window[0] <= t.t_start + t.wall_s < window[1]]  # type: ignore[operator]
    return {
        "users": users,
        "turns_per_s": len(done) / (window[1] - window[0]),
        "wall_ratio": dist([t.wall_s / ref.turn_s for t in joined if t.ok]),  # type: ignore[operator]
        "added_ttft_ms": dist([(t.first_token_s - ref.ttft_s) * 1000 for t in joined if t.first_token_s]),
        "errors": sum(not t.ok for t in joined),
        "turns": len(joined),
    }


def _gaps(turn: TurnResult) -> list[float]:
    times = [turn.t_first_token, *turn.updates] if turn.t_first_token is not None else []
    return [(b - a) * 1000 for a, b in pairwise(times)]


def stops_summary(stops: Sequence[StopTrial]) -> dict[str, Any]:
    """Stop → every backend saw its connection closed (ms), and failed trials."""
    return {**dist([s.latency_s * 1000 for s in stops if s.latency_s is not None]),
            "failed": [s.error for s in stops if s.error]}


def app_summary(users: int, run: UserRun, readings: WindowReadings, ref: Reference,
                direct_turn_s: float | None = None) -> dict[str, Any]:
    """Every figure of one (app, K) window; latencies of turns that joined in the window."""
    lo, hi = run.window
    joined = [t for t in run.turns if lo <= t.t_join < hi]
    ok = [t for t in joined if t.ok]
    completed = [t for t in run.turns if t.ok and lo <= t.t_done < hi]  # type: ignore[operator]
    per_turn = 1000 / max(len(completed), 1)
    walls = [t.t_done - t.t_join for t in ok]  # type: ignore[operator]
    gaps = [g for t in ok for g in _gaps(t)]
    return {
        "users": users,
        "turns": len(joined),
        "turns_per_s": len(completed) / (hi - lo),
        "added_ttft_ms": dist([(t.t_first_token - t.t_join - ref.ttft_s) * 1000 for t in ok if t.t_first_token]),
        "queue_wait_ms": dist([(t.t_started - t.t_join) * 1000 for t in ok if t.t_started]),
        "start_to_first_update_ms": dist([(t.t_first_update - t.t_started) * 1000 for t in ok
                                          if t.t_started and t.t_first_update]),
        "queue_rank_max": max((t.max_rank for t in joined), default=-1),
        "update_gap_ms": dist(gaps),
        "chained_ms": dist([(t.t_chain_done - t.t_done) * 1000 for t in ok if t.t_chain_done]),
        "updates_per_turn": dist([len(t.updates) + 1 for t in ok]),
        "wall_ratio": dist([w / ref.turn_s for w in walls]),
        "service_ratio": dist([(t.t_done - t.t_started) / ref.turn_s for t in ok if t.t_started]),  # type: ignore[operator]
        "wall_ratio_same_k": dist([w / direct_turn_s for w in walls]) if direct_turn_s else None,
        "wall_over_slowest_pane": dist([w / ref.slowest_pane_alone_s for w in walls]),
        "cpu_ms_per_turn": {name: s * per_turn for name, s in readings.cpu_s.items()},
        "cores": {name: s / readings.duration_s for name, s in readings.cpu_s.items()},
        "foreign_cores": readings.foreign_cores,
        "errors": len(joined) - len(ok) + run.unfinished,
        "error_samples": sorted({t.error for t in joined if t.error})[:5],
        "app_peak_rss_mb": readings.app_hwm_mb or readings.app_peak_rss_mb,
        "stop_ms": stops_summary(run.stops) if run.stops else None,
    }


def as_json(value: Any) -> Any:
    """Dataclasses to dicts, recursively, for ``json.dumps``."""
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


# The figures every run also reports as ratios (issue 11), and how to read each from an app row.
FIGURES: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "app_cpu_ms_per_turn": lambda r: r["cpu_ms_per_turn"]["app"],
    "turns_per_s": lambda r: r["turns_per_s"],
    "added_ttft_p50_ms": lambda r: r["added_ttft_ms"]["p50"],
    "added_ttft_p95_ms": lambda r: r["added_ttft_ms"]["p95"],
    "wall_ratio_p50": lambda r: r["wall_ratio"]["p50"],
    "wall_ratio_p95": lambda r: r["wall_ratio"]["p95"],
    "errors": lambda r: r["errors"],
    "peak_rss_mb": lambda r: r["app_peak_rss_mb"],
}
NAIVE = "naive"


def _ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``; ``None`` without ``b > 0`` (an added TTFT within noise of 0 makes no denominator)."""
    return None if a is None or b is None or b <= 0 else a / b


def vs_backends(row: dict[str, Any], ref: dict[str, Any], direct: dict[str, Any] | None) -> dict[str, float | None]:
    """The figures that have a backends-alone counterpart, ÷ it (K = 1 reference, or the same K if measured).

    Turns/s: ÷ the backends alone at the same K (without ``--no-direct``), else ÷ K back-to-back users
    at the K = 1 turn time; time to first token (whole, not added) ÷ the backends alone's; turn wall is
    already ÷ the backends alone. CPU, errors and RSS have none (no app there): ``None``.
    """
    alone_tps = direct["turns_per_s"] if direct else row["users"] / ref["turn_s"]
    alone_added = (direct["added_ttft_ms"] if direct else {"p50": 0.0, "p95": 0.0})
    out: dict[str, float | None] = dict.fromkeys(FIGURES)
    out["turns_per_s"] = _ratio(row["turns_per_s"], alone_tps)
    for q in ("p50", "p95"):
        added = row["added_ttft_ms"][q]
        base = ref["ttft_s"] * 1000 + (alone_added[q] or 0.0)
        out[f"added_ttft_{q}_ms"] = None if added is None else _ratio(ref["ttft_s"] * 1000 + added, base)
        out[f"wall_ratio_{q}"] = row["wall_ratio"][q]
    return out


def add_ratios(results: dict[str, Any]) -> None:
    """Give every app row ``vs_naive`` (each figure ÷ the naive app's at the same K, same run; ``None``
    where the naive figure is ≤ 0 or missing) and ``vs_backends`` (see ``vs_backends``)."""
    naive = {r["users"]: r for r in results["apps"].get(NAIVE, [])}
    direct = {r["users"]: r for r in results["direct"]}
    for rows in results["apps"].values():
        for row in rows:
            base = naive.get(row["users"])
            row["vs_naive"] = {k: _ratio(f(row), f(base)) for k, f in FIGURES.items()} if base else None
            row["vs_backends"] = vs_backends(row, results["reference"], direct.get(row["users"]))


def spread(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Median and min–max of the values that exist (``n`` of them).

    >>> spread([3.0, None, 1.0, 2.0])
    {'median': 2.0, 'min': 1.0, 'max': 3.0, 'n': 3}
    """
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(present), "min": min(present), "max": max(present), "n": len(present)}


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median and spread over runs of every figure and ratio, per variant and K."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(n for r in runs for n in r["apps"]):
        ks = sorted({row["users"] for r in runs for row in r["apps"].get(name, [])})
        per_k = {}
        for k in ks:
            rows = [row for r in runs for row in r["apps"].get(name, []) if row["users"] == k]
            per_k[k] = {
                "figures": {f: spread([get(row) for row in rows]) for f, get in FIGURES.items()},
                **{side: {f: spread([(row.get(side) or {}).get(f) for row in rows]) for f in FIGURES}
                   for side in ("vs_naive", "vs_backends")},
            }
        out[name] = per_k
    return {"runs": len(runs), "variants": out}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.summary RUN_DIR…``: median and spread over runs (their results.json)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.summary", description=main.__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run folders (or results.json files) of benchmarks.load")
    p.add_argument("--out", type=Path, help="write results.json and report.md of the aggregate here")
    args = p.parse_args(argv)
    runs = []
    for path in args.runs:
        results = json.loads((path / "results.json" if path.is_dir() else path).read_text(encoding="utf-8"))
        runs += results.get("runs") or [results]
    for results in runs:
        add_ratios(results)  # again: runs from before the ratios existed have none
    combined = {"command": " ".join(["python -m benchmarks.summary", *map(str, args.runs)]),
                "aggregate": aggregate(runs), "runs": runs}
    if args.out:
        report.write_aggregate(combined, args.out)
    print(report.aggregate_markdown(combined))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
