"""The load harness's pieces against a real app: one turn and one Stop through the Gradio queue, the report."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx
import pytest

from benchmarks import report, summary
from benchmarks.direct import direct_repeats, single_streams
from benchmarks.gradio_queue import run_turn, send_event_from_config
from benchmarks.meters import read_window
from benchmarks.procs import ROOT, AppVariant, start_app
from benchmarks.users import drive_users, stop_trial
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

QUICK = Behavior(ttft=0.05, rate=100, tokens=8)


async def test_queue_client_turn_stop_and_report(tgi_server_factory, tmp_path):
    servers = [tgi_server_factory(behavior=QUICK) for _ in range(2)]
    urls = [s.url for s in servers]
    app = await asyncio.to_thread(start_app, AppVariant("smoke", ROOT, {"DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}),
                                  urls, tmp_path, "smoke")
    try:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client, httpx.AsyncClient(timeout=5) as probe:
            send = send_event_from_config((await client.get("/config")).json(), "Hello", panes=2)
            assert len(send.backend_ids) >= 2 and send.backend_ids[0] != send.backend_ids[1]
            turn = await run_turn(client, send)
            assert turn.ok, turn.error
            assert turn.t_join < turn.t_started < turn.t_first_token < turn.t_done
            for server in servers:
                server.behavior = Behavior(ttft=0.05, rate=20, tokens=400)
            trial = await stop_trial(client, probe, send, urls, streaming_s=0.1)
            assert trial.error is None and trial.latency_s < 400 / 20 / 2, trial  # half the 20 s stream it stopped
            for server in servers:
                server.behavior = QUICK

        ref = summary.reference(await direct_repeats(urls, 2, pause_s=0), await single_streams(urls, 1, pause_s=0))
        start = time.perf_counter()
        window = (start + 0.3, start + 1.5)
        run, readings = await asyncio.gather(drive_users([app.url], send, 2, window, drain_s=10),
                                             read_window({"app": [app.pid], "servers": []}, [app.pid], window))
    finally:
        await asyncio.to_thread(app.stop)
    row = summary.app_summary(2, run, readings, ref)
    assert row["errors"] == 0 and row["turns_per_s"] > 0 and row["cpu_ms_per_turn"]["app"] > 0
    results = {"started": "now", "command": "test", "machine": {"cores": 2, "loadavg_before": (0, 0, 0)},
               "config": {"panes": 2, "ttft": 0.05, "rate": 100, "tokens": 8, "duration": 1.2, "warmup": 0.3},
               "reference": summary.as_json(ref), "variants": {"smoke": {"directory": str(ROOT), "commit": "x"}},
               "direct": [], "apps": {"smoke": [row]}, "stop_idle": {"smoke": summary.stops_summary([trial])},
               "idle_app_cores": {}, "profiles": {}}
    files = report.write_all(results, tmp_path / "out", png=False)
    text = (tmp_path / "out" / "report.md").read_text()
    assert "added time to first token" in text and "Stop on an idle app" in text
    assert [f.name for f in files] == ["results.json", "report.md", "chart.html"]


def test_naive_variant_reported_side_by_side_with_ratios(tmp_path):
    """``--variant naive`` beside this checkout for a few seconds: the naive figures and every ratio."""
    command = [sys.executable, "-m", "benchmarks.load", "--variant", f"current={ROOT}", "--variant", "naive",
               "--users", "2", "--duration", "2", "--warmup", "0.5", "--drain", "30", "--panes", "2",
               "--ttft", "0.05", "--rate", "100", "--tokens", "8", "--reference-turns", "2", "--stop-trials", "0",
               "--idle", "0.2", "--no-direct", "--no-stop-under-load", "--profile-users", "0", "--no-png",
               "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "latest" / "results.json").read_text())
    naive, current = results["apps"]["naive"][0], results["apps"]["current"][0]
    assert results["variants"]["naive"]["script"] == "-m benchmarks.naive_app"
    assert naive["errors"] == 0 and naive["turns"] > 0
    assert naive["updates_per_turn"]["p50"] == 2 * 8  # the naive handler yields on every token of every pane
    assert set(current["vs_naive"]) == set(summary.FIGURES)
    assert current["vs_naive"]["app_cpu_ms_per_turn"] == pytest.approx(
        current["cpu_ms_per_turn"]["app"] / naive["cpu_ms_per_turn"]["app"])
    assert current["vs_naive"]["turns_per_s"] == pytest.approx(current["turns_per_s"] / naive["turns_per_s"])
    for row in (naive, current):
        backends_alone = 2 / results["reference"]["turn_s"]
        assert row["vs_backends"]["turns_per_s"] == pytest.approx(row["turns_per_s"] / backends_alone)
        assert row["vs_backends"]["wall_ratio_p50"] == row["wall_ratio"]["p50"]
    assert "app CPU per turn ÷ naive" in (tmp_path / "latest" / "report.md").read_text()
    spread = summary.aggregate([results, results])["variants"]["current"][2]["vs_naive"]["turns_per_s"]
    assert spread["n"] == 2 and spread["min"] == spread["median"] == spread["max"] == current["vs_naive"]["turns_per_s"]
