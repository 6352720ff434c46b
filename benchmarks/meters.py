"""CPU and memory readings over a measured window, for the app and everything around it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.procs import CLK_TCK, cpu_seconds, status_kb


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from the first line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class WindowReadings:
    """CPU seconds spent by each group of processes during the window, and the app's memory."""

    cpu_s: dict[str, float]  # group name -> CPU seconds in the window ("harness" = this process)
    machine_busy_s: float  # every process on the machine, ours included
    machine_cores: int
    duration_s: float
    app_peak_rss_mb: float | None  # max VmRSS seen while sampling
    app_hwm_mb: float | None  # VmHWM at the end (peak since start or since the last reset)

    @property
    def foreign_cores(self) -> float:
        """Cores used by processes this run did not start (other people's work: noise)."""
        ours = sum(self.cpu_s.values())
        return max(0.0, self.machine_busy_s - ours) / self.duration_s


def _group_cpu(groups: Mapping[str, list[int]]) -> dict[str, float]:
    out = {}
    for name, pids in groups.items():
        total = 0.0
        for pid in pids:
            try:
                total += cpu_seconds(pid)
            except OSError:
                pass
        out[name] = total
    out["harness"] = time.process_time()
    return out


async def read_window(groups: Mapping[str, list[int]], app_pids: list[int], window: tuple[float, float],
                      rss_every_s: float = 0.25) -> WindowReadings:
    """Sleep until ``window[0]``, then read CPU of each group and sample the apps' RSS until ``window[1]``.

    With several app processes, the memory figures are those of the largest one.
    """
    await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
    cpu0, (busy0, _), t0 = _group_cpu(groups), machine_cpu_seconds(), time.perf_counter()
    peak = 0
    while (now := time.perf_counter()) < window[1]:
        peak = max(peak, *(status_kb(pid, "VmRSS") or 0 for pid in app_pids))
        await asyncio.sleep(min(rss_every_s, window[1] - now))
    cpu1, (busy1, _), t1 = _group_cpu(groups), machine_cpu_seconds(), time.perf_counter()
    hwm = max((status_kb(pid, "VmHWM") or 0 for pid in app_pids), default=0)
    return WindowReadings(
        cpu_s={k: cpu1[k] - cpu0[k] for k in cpu1}, machine_busy_s=busy1 - busy0,
        machine_cores=os.cpu_count() or 1, duration_s=t1 - t0,
        app_peak_rss_mb=peak / 1024 if peak else None, app_hwm_mb=hwm / 1024 if hwm else None)
