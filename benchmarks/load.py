"""The load and latency benchmark: one command, every figure of issue 5.

    python -m benchmarks.load                       # full run, default settings (≈ 10 min)
    python -m benchmarks.load --users 1,10 --duration 8 --warmup 2 --profile-users 0   # quick look
    python -m benchmarks.load --variant before=/tmp/wt-before --variant after=.      # A/B, side by side
    python -m benchmarks.load --variant current=. --variant naive --runs 3          # ÷ the naive app, 3 runs

Starts ``--panes`` TGI-protocol test servers, measures them alone (the denominator), then for
each K starts a fresh app per variant and drives K users through the real Gradio queue
(``benchmarks/gradio_queue.py``: raw HTTP/SSE, lean so the load generator stays cheap).
Every figure is also reported ÷ the naive app's (``--variant naive``: ``benchmarks/naive_app.py``) and
÷ the backends alone's, measured in the same run. Writes ``benchmarks/results/<time>/`` (report.md,
results.json, chart.html, chart.png, logs/); with ``--runs N``, one such folder per run under it and,
at its top, results.json and report.md of the median and spread (min–max) over the runs.
Every process it starts is stopped on exit, error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks import direct, pyspy, report, summary
from benchmarks.gradio_queue import SendEvent, run_turn, send_event_from_config
from benchmarks.meters import read_window
from benchmarks.procs import ROOT, AppVariant, Proc, cpu_seconds, family, start_app, start_tgi_servers
from benchmarks.users import drive_users, stop_trials

MESSAGE = "Compare yourself with the model in the next pane."


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line; every default is the issue's setting, so a bare run is comparable."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.splitlines()[0])
    p.add_argument("--users", default="1,10,25,40,100,200", help="comma-separated K values (default %(default)s)")
    p.add_argument("--duration", type=float, default=30.0, help="measured window per K, seconds")
    p.add_argument("--warmup", type=float, default=6.0, help="arrivals are spread over this many seconds first")
    p.add_argument("--drain", type=float, default=90.0, help="wait this long for turns still running after a window")
    p.add_argument("--panes", type=int, default=4, help="test servers = panes per turn")
    p.add_argument("--replicas", action="append", default=[], metavar="[NAME:]N",
                   help="app processes sharing one store, for every variant or for NAME (repeatable); "
                        "user i sticks to replica i %% N")
    p.add_argument("--ttft", type=float, default=0.2, help="test servers' time to first token, s")
    p.add_argument("--rate", type=float, default=20.0, help="test servers' tokens per second per stream")
    p.add_argument("--tokens", type=int, default=60, help="tokens per reply")
    p.add_argument("--server-keep-alive", type=float, default=5.0,
                   help="test servers close idle connections after this many seconds (uvicorn's default)")
    p.add_argument("--turns-per-session", type=int, default=4,
                   help="turns a user sends in one session (conversation) before opening a new one")
    p.add_argument("--reference-turns", type=int, default=8, help="K = 1 turns against the backends alone")
    p.add_argument("--stop-trials", type=int, default=10, help="Stop clicks on an idle app, per variant")
    p.add_argument("--no-stop-under-load", action="store_true", help="no extra user clicking Stop during windows")
    p.add_argument("--idle", type=float, default=5.0, help="seconds of an idle app's CPU to read, per variant")
    p.add_argument("--no-direct", action="store_true", help="measure the backends alone at K = 1 only")
    p.add_argument("--profile-users", type=int, default=25, help="extra py-spy window at this K (0: none)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=DIR",
                   help="an app checkout to measure, or 'naive' for the naive Gradio app (repeatable; "
                        "default: current=this checkout; with only 'naive', current too)")
    p.add_argument("--runs", type=int, default=1, help="repeat everything this many times; report median and spread")
    p.add_argument("--env", action="append", default=[], metavar="NAME:KEY=VALUE",
                   help="an environment variable for one variant's app (repeatable), e.g. to A/B a setting")
    p.add_argument("--app-args", action="append", default=[], metavar="NAME:ARGS",
                   help="extra command-line arguments of one variant's app, e.g. 'two:--processes 2'")
    p.add_argument("--python", action="append", default=[], metavar="NAME:PATH",
                   help="the interpreter one variant's app runs with (e.g. a venv with another dependency)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--no-png", action="store_true")
    return p.parse_args(list(argv))


def variants(specs: Sequence[str], envs: Sequence[str] = (), pythons: Sequence[str] = (),
             replicas: Sequence[str] = (), app_args: Sequence[str] = ()) -> list[AppVariant]:
    """``NAME=DIR``, ``NAME:KEY=VALUE``, ``NAME:PYTHON``, ``[NAME:]N`` and ``NAME:ARGS`` arguments to app variants."""
    out = []
    checkouts = [s for s in specs if s != summary.NAIVE]
    for spec in [*(checkouts or ["current=" + str(ROOT)]), *(s for s in specs if s == summary.NAIVE)]:
        if spec == summary.NAIVE:
            out.append(AppVariant(spec, ROOT, script=("-m", "benchmarks.naive_app")))
            continue
        name, _, directory = spec.partition("=")
        path = Path(directory or ".").resolve()
        if not (path / "app.py").is_file():
            raise SystemExit(f"--variant {spec}: no app.py in {path}")
        out.append(AppVariant(name, path))
    for item in envs:
        name, _, assignment = item.partition(":")
        key, eq, value = assignment.partition("=")
        variant = next((v for v in out if v.name == name), None)
        if variant is None or not eq or not key:
            raise SystemExit(f"--env {item}: expected NAME:KEY=VALUE with NAME one of the variants")
        variant.env[key] = value
    for item in pythons:
        name, _, python = item.partition(":")
        variant = next((v for v in out if v.name == name), None)
        if variant is None or not Path(python).is_file():
            raise SystemExit(f"--python {item}: expected NAME:PATH with NAME one of the variants")
        variant.python = python
    for item in app_args:
        name, _, words = item.partition(":")
        variant = next((v for v in out if v.name == name), None)
        if variant is None or not words.strip():
            raise SystemExit(f"--app-args {item}: expected NAME:ARGS with NAME one of the variants")
        variant.args = (*variant.args, *shlex.split(words))
    for item in replicas:
        name, _, count = item.rpartition(":")
        chosen = [v for v in out if not name or v.name == name]
        if not chosen or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--replicas {item}: expected N or NAME:N with NAME one of the variants")
        for variant in chosen:
            variant.replicas = int(count)
    return out


def _git(directory: Path) -> str:
    def run(*args: str) -> str:
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True).stdout.strip()
    dirty = " + uncommitted changes" if run("status", "--porcelain", "--untracked-files=no") else ""
    return (run("rev-parse", "--short", "HEAD") or "no git") + dirty


@contextlib.contextmanager
def stopped_on_exit(procs: list[Proc]) -> Iterator[list[Proc]]:
    """Stop every process in ``procs`` (as it is when leaving), whatever happens."""
    try:
        yield procs
    finally:
        for proc in reversed(procs):
            proc.stop()


async def _send_event(apps: list[Proc], panes: int) -> SendEvent:
    """The send event from the first replica's config, after two warm-up turns on every replica."""
    send = None
    for app in apps:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            if send is None:
                send = send_event_from_config((await client.get("/config")).json(), MESSAGE, panes)
            for _ in range(2):  # first-call costs stay out of the window
                warm = await run_turn(client, send)
                if not warm.ok:
                    raise RuntimeError(f"warm-up turn failed on {app.url}: {warm.error}; see {app.log}")
    assert send is not None
    return send


async def _app_window(apps: list[Proc], send: SendEvent, servers: list[Proc], users: int, args: argparse.Namespace,
                      ref: summary.Reference, direct_turn_s: float | None, profile_to: Path | None = None
                      ) -> dict[str, Any]:
    start = time.perf_counter()
    window = (start + args.warmup, start + args.warmup + args.duration)
    groups = {"app": [pid for a in apps for pid in family(a.pid)], "servers": [s.pid for s in servers]}
    urls = [s.url for s in servers]
    stopper = users > 1 and not args.no_stop_under_load and profile_to is None
    spy = None
    if profile_to is not None:
        await asyncio.sleep(args.warmup)
        spy = pyspy.start_recording(apps[0].pid, args.duration, profile_to)
    try:
        run, readings = await asyncio.gather(
            drive_users([a.url for a in apps], send, users, window, args.drain, urls, stopper, args.turns_per_session),
            read_window(groups, groups["app"], window))
    finally:
        if spy is not None:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
    return summary.app_summary(users, run, readings, ref, direct_turn_s)


def _start(variant: AppVariant, urls: list[str], log_dir: Path, tag: str, replicas: int, procs: list[Proc]
           ) -> list[Proc]:
    """Fresh app processes for one phase, sharing one throw-away preference store; added to ``procs``."""
    env = {"DATABASE_URL": f"sqlite:///{log_dir}/store-{variant.name}-{tag}.db", **variant.env}
    apps = []
    for r in range(replicas):
        app = start_app(dataclasses.replace(variant, env=env, replicas=replicas),
                        urls, log_dir, f"{tag}-r{r}" if replicas > 1 else tag)
        procs.append(app)
        apps.append(app)
    return apps


def _stop(apps: list[Proc], procs: list[Proc]) -> None:
    for app in apps:
        app.stop()
        procs.remove(app)


def idle_cores(app: Proc, seconds: float) -> float:
    """Cores the app burns with a page's worth of nothing to do (queue polling, timers)."""
    before = cpu_seconds(app.pid)
    time.sleep(seconds)
    return (cpu_seconds(app.pid) - before) / seconds


def _direct_at(users: int, urls: list[str], args: argparse.Namespace, ref: summary.Reference) -> dict[str, Any]:
    start = time.perf_counter()
    window = (start + args.warmup, start + args.warmup + args.duration)
    turns = asyncio.run(direct.direct_load(urls, users, window, args.drain))
    return summary.direct_summary(users, turns, window, ref)


def measure(args: argparse.Namespace, apps: list[AppVariant], out_dir: Path, procs: list[Proc]) -> dict[str, Any]:
    """Run every phase; ``procs`` collects what is running so the caller can always stop it."""
    log_dir = out_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    ks = [int(k) for k in args.users.split(",") if k.strip()]
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": " ".join(["python -m benchmarks.load", *sys.argv[1:]]),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cores": os.cpu_count(), "loadavg_before": os.getloadavg()},
        "variants": {a.name: {"directory": str(a.directory), "commit": _git(a.directory), "env": a.env,
                              "python": a.python, "replicas": a.replicas, "script": " ".join(a.script),
                              "args": " ".join(a.args)}
                     for a in apps},
        "direct": [], "apps": {a.name: [] for a in apps}, "stop_idle": {}, "idle_app_cores": {},
        "profiles": {},
    }
    servers = start_tgi_servers(args.panes, args.ttft, args.rate, args.tokens, log_dir, args.server_keep_alive)
    procs += servers
    urls = [s.url for s in servers]
    print(f"servers up: {', '.join(urls)}", flush=True)
    ref = summary.reference(asyncio.run(direct.direct_repeats(urls, args.reference_turns)),
                            asyncio.run(direct.single_streams(urls, max(3, args.reference_turns // 2))))
    results["reference"] = summary.as_json(ref)
    print(f"backends alone: turn {ref.turn_s:.3f} s, first token {ref.ttft_s * 1000:.0f} ms", flush=True)
    for k in ks:
        direct_turn_s = None
        if not args.no_direct and k > 1:
            row = _direct_at(k, urls, args, ref)
            results["direct"].append(row)
            direct_turn_s = (row["wall_ratio"]["p50"] or 0) * ref.turn_s or None
            print(f"K={k} backends alone: {row['turns_per_s']:.2f} turns/s", flush=True)
        for variant in apps:
            running = _start(variant, urls, log_dir, f"k{k}", variant.replicas, procs)
            try:
                send = asyncio.run(_send_event(running, args.panes))
                if k == min(ks):
                    results["idle_app_cores"][variant.name] = idle_cores(running[0], args.idle)
                row = asyncio.run(_app_window(running, send, servers, k, args, ref, direct_turn_s))
                results["apps"][variant.name].append(row)
                if k == min(ks) and args.stop_trials:
                    stops = asyncio.run(stop_trials(running[0].url, send, urls, args.stop_trials))
                    results["stop_idle"][variant.name] = summary.stops_summary(stops)
            finally:
                _stop(running, procs)
            print(f"K={k} {variant.name}: {row['turns_per_s']:.2f} turns/s, "
                  f"{row['cpu_ms_per_turn']['app']:.0f} ms app CPU/turn, "
                  f"added TTFT p50 {row['added_ttft_ms']['p50'] or float('nan'):.0f} ms, "
                  f"errors {row['errors']}", flush=True)
    if args.profile_users and pyspy.available():
        for variant in apps:
            running = _start(variant, urls, log_dir, "profile", 1, procs)
            try:
                send = asyncio.run(_send_event(running, args.panes))
                raw = out_dir / f"profile-{variant.name}-k{args.profile_users}.txt"
                row = asyncio.run(_app_window(running, send, servers, args.profile_users, args, ref, None, raw))
                prof = pyspy.summarize(pyspy.read_stacks(raw))
                results["profiles"][variant.name] = {**summary.as_json(prof), "users": args.profile_users,
                                                     "cpu_ms_per_turn": row["cpu_ms_per_turn"]["app"], "raw": raw.name}
            finally:
                _stop(running, procs)
    elif args.profile_users:
        results["profile_note"] = "py-spy not installed (pip install py-spy): no profile"
    results["machine"]["loadavg_after"] = os.getloadavg()
    summary.add_ratios(results)
    return results


def _sigterm_to_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    apps = variants(args.variant, args.env, args.python, args.replicas, args.app_args)
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    out_dir = args.out / time.strftime("%Y%m%d-%H%M%S")
    runs = []
    for i in range(1, args.runs + 1):
        run_dir = out_dir / f"run-{i}" if args.runs > 1 else out_dir
        with stopped_on_exit([]) as procs:
            try:
                runs.append(measure(args, apps, run_dir, procs))
            except KeyboardInterrupt:
                print("interrupted: stopping everything", file=sys.stderr)
                return 130
        files = report.write_all(runs[-1], run_dir, png=not args.no_png)
    if args.runs > 1:
        combined = {"command": runs[0]["command"], "aggregate": summary.aggregate(runs), "runs": runs}
        files = report.write_aggregate(combined, out_dir)
    latest = args.out / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(out_dir.name)
    print("\n".join(["", *map(str, files)]))
    print(report.aggregate_markdown(combined) if args.runs > 1 else report.markdown(runs[-1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
