"""Several app processes behind one port: ``python app.py --processes N`` (N app processes and nginx in front).

A browser's session (its ``gr.State``, its queued events and their SSE stream) lives in one
process, so nginx routes by a random ``hermes_route`` cookie it sets on the first response, and by
the client's address where there is no cookie yet (API clients): every request of one browser
reaches the same process, and browsers behind one address (a school, a NAT) still spread. The
processes share the preference store (a SQLite file in WAL mode, or PostgreSQL) and its key.
nginx is Debian's package (``apt-get install nginx``): a proxy written here would cost a Python
process's CPU on every streamed update, which is what the processes are there to share.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from playground.access.pseudonym import key_file_for, load_secret
from playground.settings import Settings, SettingsError

ROUTE_COOKIE = "hermes_route"
START_TIMEOUT_S = 180.0  # one process's start-up (store upgrade, Blocks) on a busy 2-core machine


def nginx_config(ports: Sequence[int], host: str, port: int, scratch: Path, max_body_bytes: int,
                 worker_user: str | None = None) -> str:
    """The nginx configuration for app processes on 127.0.0.1 ``ports``, served on ``host:port``.

    Example:
        >>> text = nginx_config([7861, 7862], "0.0.0.0", 8080, Path("/run/hp"), 2_000_000)
        >>> "hash $hermes_route_key consistent;" in text and "server 127.0.0.1:7862;" in text
        True
        >>> "listen 0.0.0.0:8080;" in text and "proxy_buffering off;" in text
        True
    """
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    user = f"user {worker_user};\n" if worker_user else ""
    temp = "\n".join(f"    {kind}_temp_path {scratch / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
    return f"""# Written by `python app.py --processes {len(ports)}` (playground/replicas.py).
{user}worker_processes auto;
pid {scratch / "nginx.pid"};
error_log stderr warn;
events {{ worker_connections 4096; }}

http {{
    access_log off;
{temp}
    client_max_body_size {max_body_bytes + 65536};  # the app answers an oversized call with its own message

    # Sticky: one browser, one process. The cookie is a routing key only (random, no credential).
    map $cookie_{ROUTE_COOKIE} $hermes_route_key {{
        "" $remote_addr;
        default $cookie_{ROUTE_COOKIE};
    }}
    map $cookie_{ROUTE_COOKIE} $hermes_route_set {{
        "" "{ROUTE_COOKIE}=$request_id; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}

    upstream hermes_playground {{
        hash $hermes_route_key consistent;
{servers}
        keepalive 64;
        keepalive_timeout 4s;  # under uvicorn's 5 s: nginx never reuses a connection the app is closing
    }}

    server {{
        listen {host}:{port};

        location / {{
            proxy_pass http://hermes_playground;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;       # token updates (SSE) pass through as they are sent
            proxy_read_timeout 3600s;  # a queued turn's stream may stay open a while
            add_header Set-Cookie $hermes_route_set always;
        }}
    }}
}}
"""


def find_nginx(path: str | None = None) -> str:
    """The nginx binary on ``path`` (default: ``$PATH`` and the sbin folders), or a SettingsError saying how."""
    search = path if path is not None else os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    found = shutil.which("nginx", path=search)
    if found is None:
        raise SettingsError("--processes needs nginx in front of the processes: install it (Debian: "
                            "apt-get install nginx), or run one process without --processes")
    return found


def child_argv(argv: Sequence[str], settings: Settings, port: int) -> list[str]:
    """One app process's command line: the user's arguments, then what the launcher decides (later wins).

    Example:
        >>> child_argv(["--backend", "a=http://x"], Settings(access="public", proxy_hops=1), 7861)[2:]
        ['--backend', 'a=http://x', '--processes', '1', '--host', '127.0.0.1', '--port', '7861', '--access', \
'public', '--proxy-hops', '2']
    """
    return [sys.executable, str(Path(__file__).resolve().parents[1] / "app.py"), *argv, "--processes", "1",
            "--host", "127.0.0.1", "--port", str(port), "--access", settings.access,
            "--proxy-hops", str(settings.proxy_hops + 1)]


def shared_secret_env(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """The environment that gives every process the same pseudonym key.

    A SQLite store keeps its key in a file beside it: made here once, before the processes race
    to make it. Any other store without ``$secret_env`` gets one random key for this launch.
    """
    key_file = key_file_for(settings.database_url)
    if env.get(settings.secret_env) or key_file is None:
        return {} if env.get(settings.secret_env) else {settings.secret_env: secrets.token_hex(32)}
    load_secret(env, settings.secret_env, key_file)
    return {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies, even by SIGKILL (Linux prctl)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _wait_up(url: str, proc: subprocess.Popen[bytes], name: str = "an app process") -> None:
    """Until ``url`` answers, or a SettingsError if the process ended or the start-up took too long."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SettingsError(f"{name} ended while starting (exit code {proc.returncode}); "
                                "its messages are above")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5):
                return
        time.sleep(0.2)
    raise SettingsError(f"{name} did not answer {url} within {START_TIMEOUT_S:.0f} s")


@contextlib.contextmanager
def _stopped_on_exit(procs: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Every process started is stopped when the launcher leaves: nginx first, then the apps."""
    try:
        yield
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def serve_processes(settings: Settings, argv: Sequence[str], processes: int) -> int:
    """Start ``processes`` app processes and nginx on ``settings.host:port``; return when one of them ends."""
    nginx = find_nginx()
    if settings.dataset_repo:
        raise SettingsError("--processes cannot push to a Hub dataset (each process would push its own log): "
                            "run one process, or leave out --dataset-repo")
    env = {**os.environ, **shared_secret_env(settings, os.environ)}
    ports = [_free_port() for _ in range(processes)]
    procs: list[subprocess.Popen[bytes]] = []
    # A normal exit, Ctrl-C or SIGTERM stops every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with _stopped_on_exit(procs), tempfile.TemporaryDirectory(prefix="hermes-nginx-") as scratch:
        for group in (ports[:1], ports[1:]):  # the first alone: it upgrades the store before the others open it
            started = [subprocess.Popen(child_argv(argv, settings, port), env=env, preexec_fn=_die_with_parent)
                       for port in group]
            procs += started
            for port, proc in zip(group, started, strict=True):
                _wait_up(f"http://127.0.0.1:{port}/gradio_api/info", proc)
        user = None
        if os.geteuid() == 0:  # nginx's workers drop root; nginx makes its temporary folders theirs, inside this one
            user = f"nobody {grp.getgrgid(pwd.getpwnam('nobody').pw_gid).gr_name}"
            os.chmod(scratch, 0o755)
        conf = Path(scratch) / "nginx.conf"
        conf.write_text(nginx_config(ports, settings.host, settings.port, Path(scratch), settings.max_request_bytes,
                                     user), "utf-8")
        procs.append(subprocess.Popen([nginx, "-p", scratch, "-e", "stderr", "-c", str(conf), "-g", "daemon off;"],
                                      preexec_fn=_die_with_parent))
        _wait_up(f"http://{_loopback(settings.host)}:{settings.port}/gradio_api/info", procs[-1], "nginx")
        print(f"* Hermes Playground: {processes} processes behind http://{settings.host}:{settings.port} "
              f"(nginx, sticky by browser); Ctrl-C stops them all", flush=True)
        try:
            while all(proc.poll() is None for proc in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0
        ended = next(i for i, proc in enumerate(procs) if proc.poll() is not None)
        name = "nginx" if ended == len(ports) else f"app process {ended + 1} of {processes}"
        print(f"* {name} ended (exit code {procs[ended].returncode}): stopping the others", file=sys.stderr)
        return 1


def _loopback(host: str) -> str:
    """Where the launcher itself reaches ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
