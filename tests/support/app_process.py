"""Launch the real app (``python app.py``) on a free port for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(args: Sequence[str], env: dict[str, str] | None = None, timeout_s: float = 120.0, *,
                cwd: Path = ROOT, prefix: Sequence[str] = ()) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``[PREFIX] python app.py ARGS`` in ``cwd`` on a free port; yield (url, process); stop it afterwards.

    The app starts in a few seconds; ``timeout_s`` leaves room for a machine busy with other tests.
    """
    with running_apps([(args, env)], timeout_s, cwd=cwd, prefix=prefix) as (app,):
        yield app


@contextmanager
def running_apps(configs: Sequence[tuple[Sequence[str], dict[str, str] | None]], timeout_s: float = 120.0, *,
                 cwd: Path = ROOT, prefix: Sequence[str] = ()) -> Iterator[list[tuple[str, subprocess.Popen[str]]]]:
    """``running_app`` for several apps (ARGS, ENV each) started at once: on two cores their start-ups overlap."""
    procs: list[subprocess.Popen[str]] = []
    try:
        urls = []
        for args, env in configs:
            port = free_port()
            full_env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
            procs.append(subprocess.Popen([*prefix, sys.executable, "app.py", "--port", str(port), *args], cwd=cwd,
                                          env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + timeout_s
        for url, proc in zip(urls, procs, strict=True):
            wait_until_serving(f"{url}/gradio_api/info", proc, deadline, ok=(200, 401))  # 401: sign-in required
        yield list(zip(urls, procs, strict=True))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until_serving(url: str, proc: subprocess.Popen[Any], deadline: float, ok: Collection[int] = (200,)) -> None:
    """Poll ``url`` until it answers a status in ``ok``; raise if ``proc`` exits or ``deadline`` (monotonic) passes."""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n"
                               f"{proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=1.0).status_code in ok:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer in time")
        time.sleep(0.1)
