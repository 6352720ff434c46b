"""Stop latency and the page's main-thread time, measured in the browser (issue 14, item 3).

    python -m benchmarks.stop_latency                               # K = 0 and 40, 10 trials each (≈ 5 min)
    python -m benchmarks.stop_latency --users 0 --trials 3 --no-longtask   # quick look

Starts 4 TGI-protocol test servers with long replies (``benchmarks/stop_backend.py``: they log
when a client hangs up), 4 more for the load, and the app with both sets (panes A–D default to
the long ones). Drives Debian's chromium (Playwright): per trial a 4-pane turn of ``--tokens``
tokens at ``--rate`` tokens/s, Stop clicked ``--stop-after`` s after the 4 requests reached the
servers, and the time from the click (a real mouse event) to the last of the 4 disconnects the
servers logged — one clock, the machine's monotonic one. The page's side is kept too: how long
the click waited for the main thread, and when the cancel request left. At each K > 0 a
subprocess (this module, ``--drive-load``) runs K simulated users (``benchmarks.users``) on the
other 4 servers for the whole phase. Last, one turn streams all its tokens in 4 panes while a
PerformanceObserver records the page's long tasks. Writes ``--out/<time>/results.json`` and
``report.md``; every process it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright

from benchmarks.gradio_queue import send_event_from_config
from benchmarks.load import _git, stopped_on_exit
from benchmarks.procs import ROOT, AppVariant, Proc, _spawn, start_app, start_tgi_servers
from benchmarks.summary import dist
from benchmarks.users import drive_users

PANES = 4
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# Installed before the page's own scripts: long tasks, and when the Stop click reached the page.
PAGE_PROBES = """
window.__longtasks = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
})
  .observe({type: 'longtask', buffered: true});
document.addEventListener('click', e => {
  if (e.target.closest && e.target.closest('#stop')) window.__stopClick = [e.timeStamp, performance.now()];
}, true);
"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stop_latency", description=__doc__.splitlines()[0])
    p.add_argument("--users", default="0,40", help="comma-separated K values of simulated users (default %(default)s)")
    p.add_argument("--trials", type=int, default=10, help="Stop clicks per K")
    p.add_argument("--tokens", type=int, default=1000, help="tokens per reply of the long-reply servers")
    p.add_argument("--rate", type=float, default=50.0, help="their tokens per second per stream")
    p.add_argument("--ttft", type=float, default=0.2, help="their time to first token, s")
    p.add_argument("--stop-after", type=float, default=2.0, help="seconds of streaming before Stop")
    p.add_argument("--no-longtask", action="store_true", help="skip the full-length turn that measures long tasks")
    p.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout whose app.py runs (A/B)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "stop")
    p.add_argument("--drive-load", metavar="APP_URL", help=argparse.SUPPRESS)  # the load subprocess
    p.add_argument("--seconds", type=float, default=600.0, help=argparse.SUPPRESS)
    return p.parse_args(list(argv))


# --- the load subprocess ----------------------------------------------------------------------


def drive_load(app_url: str, users: int, seconds: float) -> None:
    """K users clicking Send back to back on panes E–H (the load servers) until ``seconds`` pass."""
    config = httpx.get(f"{app_url}/config", timeout=30).json()
    for component in config["components"]:  # panes 0–3 then pick backends 4–7: the load servers
        props = component["props"]
        if (props.get("elem_id") or "").endswith("-backend") and props.get("choices"):
            props["choices"] = props["choices"][PANES:]
    send = send_event_from_config(config, "Compare yourself with the model in the next pane.", PANES)
    start = time.perf_counter()
    run = asyncio.run(drive_users([app_url], send, users, (start + 5.0, start + seconds), drain_s=10.0))
    print(json.dumps({"turns": len(run.turns), "errors": sum(not t.ok for t in run.turns)}), flush=True)


# --- the browser side -------------------------------------------------------------------------


def _server_logs(client: httpx.Client, servers: Sequence[Proc]) -> list[dict[str, Any]]:
    return [client.get(f"{s.url}/disconnects").json() for s in servers]


def _wait(predicate: Any, timeout_s: float, what: str, poll_s: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(poll_s)
    raise TimeoutError(f"{what} within {timeout_s} s")


def open_page(page: Page, app_url: str, tokens: int) -> None:
    """Load the app, show 4 panes, set Max new tokens to ``tokens``."""
    page.goto(app_url)
    page.get_by_label("4", exact=True).check()
    page.locator("#sampling-box").get_by_text("Sampling").first.click()
    number = page.get_by_label("number input for Max new tokens")
    number.fill(str(tokens))
    number.press("Tab")
    expect(page.locator("#pane-3-chat")).to_be_visible()


def _send(page: Page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()


def _clear(page: Page) -> None:
    page.locator("#clear").click()
    expect(page.locator("#pane-0-chat")).not_to_contain_text("tok", timeout=60_000)


def stop_trial(page: Page, client: httpx.Client, servers: Sequence[Proc], stop_after_s: float) -> dict[str, Any]:
    """One Send, Stop after ``stop_after_s`` of streaming: click → disconnects, and the page's timings."""
    before = [log["requests"] for log in _server_logs(client, servers)]
    page.evaluate("performance.clearResourceTimings(); window.__stopClick = null")
    _send(page, "Tell me a long story.")
    _wait(lambda: all(log["requests"] > n for log, n in zip(_server_logs(client, servers), before, strict=True)), 120,
          "the 4 requests did not reach the servers")
    time.sleep(stop_after_s)
    box = page.locator("#stop").bounding_box()
    assert box is not None
    offset = time.time() - time.monotonic()  # browser wall-clock ms -> this machine's monotonic s
    clicked = time.monotonic()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    done = [log["completed"] for log in _server_logs(client, servers)]

    def ended() -> list[dict[str, Any]] | None:  # every stream cut after the click, or finished anyway
        logs = _server_logs(client, servers)
        cut = [any(t >= clicked for t in log["disconnects"]) for log in logs]
        return logs if all(c or log["completed"] > n for c, log, n in zip(cut, logs, done, strict=True)) else None

    logs = _wait(ended, 60, "the backends neither disconnected nor finished")
    seen = [min(t for t in log["disconnects"] if t >= clicked) for log in logs
            if any(t >= clicked for t in log["disconnects"])]
    if len(seen) < len(servers):  # Stop came too late: a stream ended on its own first
        _clear(page)
        return {"click_to_disconnect_s": None, "first_disconnect_s": None, "click_to_handler_s": None,
                "click_to_cancel_sent_s": None, "finished_before_stop": len(servers) - len(seen)}
    for i in range(len(servers)):
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("stopped", timeout=60_000)
    browser = page.evaluate("""() => ({origin: performance.timeOrigin, click: window.__stopClick,
        requests: performance.getEntriesByType('resource').filter(e => e.name.includes('/gradio_api/'))
          .map(e => [new URL(e.name).pathname, e.startTime])})""")
    to_mono = lambda ms: (browser["origin"] + ms) / 1000 - offset  # noqa: E731 — one formula, used thrice
    cancel = next((to_mono(t) for path, t in browser["requests"] if path.endswith("/cancel")), None)
    handled = to_mono(browser["click"][1]) if browser["click"] else None
    _clear(page)
    return {"click_to_disconnect_s": max(seen) - clicked, "first_disconnect_s": min(seen) - clicked,
            "click_to_handler_s": None if handled is None else handled - clicked,
            "click_to_cancel_sent_s": None if cancel is None else cancel - clicked,
            "requests_after_click": [p for p, t in browser["requests"] if to_mono(t) >= clicked - 0.05]}


def longtask_turn(page: Page, tokens: int, rate: float) -> dict[str, Any]:
    """One turn streaming ``tokens`` tokens in 4 panes to the end; the page's long tasks meanwhile."""
    page.evaluate("window.__longtasks = []")
    began = time.monotonic()
    start_ms = page.evaluate("performance.now()")
    _send(page, "Tell me a long story.")
    for i in range(PANES):
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("finish:", timeout=int((tokens / rate + 120) * 1000))
    tasks = [d for t, d in page.evaluate("window.__longtasks") if t >= start_ms]
    _clear(page)
    return {"longest_task_ms": max(tasks, default=0.0), "long_tasks": len(tasks),
            "long_task_total_ms": sum(tasks), "turn_s": time.monotonic() - began}


# --- the run ------------------------------------------------------------------------------------


def summarize(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """p50 / p95 (ms) of each timing over the trials."""
    keys = ("click_to_disconnect_s", "first_disconnect_s", "click_to_handler_s", "click_to_cancel_sent_s")
    out: dict[str, Any] = {}
    for key in keys:
        values = [t[key] * 1000 for t in trials if t.get(key) is not None]
        out[key.removesuffix("_s") + "_ms"] = dist(values)
    out["too_late"] = sum(t.get("finished_before_stop", 0) > 0 for t in trials)  # a stream ended before Stop acted
    out["errors"] = [t["error"] for t in trials if "error" in t]
    return out


def measure(args: argparse.Namespace, out_dir: Path, procs: list[Proc]) -> dict[str, Any]:
    """Every phase; ``procs`` collects what runs so the caller can always stop it."""
    log_dir = out_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    long = start_tgi_servers(PANES, args.ttft, args.rate, args.tokens, log_dir, module="benchmarks.stop_backend",
                             name="long")
    procs += long
    load = start_tgi_servers(PANES, 0.2, 20.0, 60, log_dir, name="load")
    procs += load
    app = start_app(AppVariant("current", directory=args.app_dir), [s.url for s in (*long, *load)], log_dir, "stop")
    procs.append(app)
    results: dict[str, Any] = {"command": " ".join(["python -m benchmarks.stop_latency", *sys.argv[1:]]),
                               "started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "config": {
                                   k: str(v) for k, v in vars(args).items() if k not in ("drive_load", "seconds")},
                               "commit": _git(args.app_dir), "loadavg_before": os.getloadavg(),
                               "stop": {}, "longtask": None}
    with sync_playwright() as pw, httpx.Client(timeout=10) as client:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.set_default_timeout(120_000)
        page.add_init_script(PAGE_PROBES)
        open_page(page, app.url, args.tokens)
        stop_trial(page, client, long, args.stop_after)  # warm-up: first-call costs stay out
        for k in (int(k) for k in args.users.split(",") if k.strip()):
            driver = None
            if k:
                popen, log = _spawn(f"load-k{k}", [sys.executable, "-m", "benchmarks.stop_latency", "--drive-load",
                                                   app.url, "--users", str(k)], ROOT, log_dir, {})
                driver = Proc(f"load-k{k}", popen, app.url, log)
                procs.append(driver)
                time.sleep(8.0)  # the users' ramp (5 s) and their first turns
            trials = []
            for n in range(args.trials):
                try:
                    trials.append(stop_trial(page, client, long, args.stop_after))
                except (TimeoutError, AssertionError, PlaywrightError) as exc:  # kept as a failed trial; next one anew
                    trials.append({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
                    open_page(page, app.url, args.tokens)
                print(f"K={k} trial {n + 1}: {trials[-1]}", flush=True)
            results["stop"][str(k)] = {"summary": summarize(trials), "trials": trials}
            print(f"K={k}: click -> all 4 disconnected (ms) {_pair(results['stop'][str(k)]['summary'])}", flush=True)
            if driver is not None:
                driver.stop()
        if not args.no_longtask:
            results["longtask"] = longtask_turn(page, args.tokens, args.rate)
            print(f"longest main-thread task {results['longtask']['longest_task_ms']:.0f} ms", flush=True)
        browser.close()
    results["loadavg_after"] = os.getloadavg()
    return results


def _pair(summary: dict[str, Any], key: str = "click_to_disconnect_ms") -> str:
    """``p50 / p95`` of one timing, and how many trials Stop came too late in (a stream ended first)."""
    d = summary[key]
    text = f"{d['p50']:.0f} / {d['p95']:.0f}" if d["p50"] is not None else "–"
    late, errors = (summary["too_late"], len(summary["errors"])) if key == "click_to_disconnect_ms" else (0, 0)
    return (text + (f" ({late} too late: a stream finished before Stop acted)" if late else "")
            + (f" ({errors} failed, see results.json)" if errors else ""))


def report(results: dict[str, Any]) -> str:
    """The results as a short markdown report."""
    lines = ["# Stop latency and main-thread time (browser)", "", f"`{results['command']}` at {results['commit']}, "
             f"{results['started']}; load average before / after {results['loadavg_before'][0]:.1f} / "
             f"{results['loadavg_after'][0]:.1f} on {os.cpu_count()} cores (a shared machine)", "",
             "| K users | trials | click → 4 disconnects p50 / p95 (ms) | "
             "first disconnect p50 | click → page handler p50 / p95 | click → cancel sent p50 / p95 |",
             "|---|---|---|---|---|---|"]
    for k, row in results["stop"].items():
        s = row["summary"]
        lines.append(f"| {k} | {len(row['trials'])} | {_pair(s)} | {_pair(s, 'first_disconnect_ms')} | "
                     f"{_pair(s, 'click_to_handler_ms')} | {_pair(s, 'click_to_cancel_sent_ms')} |")
    if results["longtask"]:
        lt = results["longtask"]
        lines += ["", f"Full turn, 4 panes × {results['config']['tokens']} tokens at {results['config']['rate']} "
                  f"tok/s ({lt['turn_s']:.1f} s): longest main-thread task **{lt['longest_task_ms']:.0f} ms**, "
                  f"{lt['long_tasks']} long tasks (> 50 ms), {lt['long_task_total_ms']:.0f} ms in them."]
    return "\n".join(lines) + "\n"


def _sigterm_to_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--drive-load``, be its load); returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    if args.drive_load:
        try:
            drive_load(args.drive_load, int(args.users), args.seconds)
        except KeyboardInterrupt:
            pass
        return 0
    out_dir = args.out / time.strftime("%Y%m%d-%H%M%S")
    with stopped_on_exit([]) as procs:
        try:
            results = measure(args, out_dir, procs)
        except KeyboardInterrupt:
            print("interrupted: stopping everything", file=sys.stderr)
            return 130
    (out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(report(results), encoding="utf-8")
    print(report(results))
    print(out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
