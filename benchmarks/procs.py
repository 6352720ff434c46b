"""Subprocesses of the load harness: TGI-protocol test servers, the app, /proc readings.

Everything listens on 127.0.0.1 only. Every wait here is bounded in time.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.app_process import free_port, wait_until_serving  # the test servers' helpers too

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def family(pid: int) -> list[int]:
    """``pid`` and every process below it (``python app.py --processes N``: its apps and nginx), from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text("ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += parents.get(found[-1], [])
    return found


def status_kb(pid: int, key: str) -> int | None:
    """A ``kB`` line of /proc/PID/status (VmHWM = peak RSS, VmRSS = current)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0, ``echo 5 > clear_refs``); False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


@dataclass
class Proc:
    """A started subprocess and where it listens."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout_s)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the harness dies, even by SIGKILL (Linux prctl)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _spawn(name: str, args: Sequence[str], cwd: Path, log_dir: Path,
           env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = log_dir / f"{name}.log"
    handle = open(log, "wb")  # noqa: SIM115 — owned by the child for its lifetime
    full_env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **env}
    popen = subprocess.Popen(list(args), cwd=cwd, env=full_env, stdout=handle, stderr=subprocess.STDOUT,
                             preexec_fn=_die_with_parent)
    handle.close()
    return popen, log


def start_tgi_servers(n: int, ttft: float, rate: float, tokens: int, log_dir: Path,
                      keep_alive_s: float = 5.0, module: str = "tests.support.tgi_server",
                      name: str = "tgi") -> list[Proc]:
    """Start ``n`` TGI-protocol test servers (one process each, ``python -m module``) and wait for /health.

    They close idle connections after ``keep_alive_s`` (5: uvicorn's default, so vLLM's).
    """
    procs = []
    for i in range(n):
        port = free_port()
        popen, log = _spawn(f"{name}-{i}", [sys.executable, "-m", module, "--port", str(port),
                                            "--ttft", str(ttft), "--rate", str(rate), "--tokens", str(tokens),
                                            "--keep-alive", str(keep_alive_s)],
                            ROOT, log_dir, {})
        procs.append(Proc(f"{name}-{i}", popen, f"http://127.0.0.1:{port}", log))
    try:
        for proc in procs:
            wait_until_serving(f"{proc.url}/health", proc.popen, time.monotonic() + 30)
    except BaseException:
        for proc in procs:
            proc.stop()
        raise
    return procs


@dataclass
class AppVariant:
    """Which app to benchmark: a checkout directory and extra environment (for A/B runs)."""

    name: str
    directory: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    python: str = sys.executable  # another interpreter (a virtual environment) to A/B a dependency
    replicas: int = 1  # app processes sharing one store, each user sticking to one (the scale-out)
    script: tuple[str, ...] = ("app.py",)  # what the interpreter runs (the naive app: -m benchmarks.naive_app)


def start_app(variant: AppVariant, backend_urls: Sequence[str], log_dir: Path, tag: str) -> Proc:
    """``python app.py --backend A=URL …`` (or the variant's script) from its directory on a free port."""
    port = free_port()
    args = [variant.python, *variant.script, "--port", str(port)]
    for i, url in enumerate(backend_urls):
        args += ["--backend", f"{chr(65 + i)}={url}"]
    env = {"HERMES_BACKENDS_FILE": str(ROOT / "benchmarks" / "no_backends.toml"), **variant.env}
    popen, log = _spawn(f"app-{variant.name}-{tag}", [*args, *variant.args], variant.directory, log_dir, env)
    proc = Proc(f"app-{variant.name}", popen, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_serving(f"{proc.url}/gradio_api/info", popen, time.monotonic() + 90)
    except BaseException:
        proc.stop()
        raise
    return proc
