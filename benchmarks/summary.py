"""Raw timings -> the figures the report shows: medians and 95th percentiles, ratios to the backends alone."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

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
    return [(b - a) * 1000 for a, b in zip(times, times[1:])]


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
