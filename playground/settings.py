"""One typed ``Settings`` object built from the backends file, the environment and the CLI.

Secrets stay server-side: a backend records only the *name* of the environment variable
holding its token (``token_env``); the token is read when the backend client is built and
never enters ``Settings``, the page or the logs.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playground.types import BackendSpec

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_BACKENDS_FILE = ASSETS_DIR / "backends.toml"

# Environment variables the app reads (besides each backend's url_env / token_env).
ENV_BACKENDS_FILE = "HERMES_BACKENDS_FILE"
ENV_EXTRA_BACKENDS = "HERMES_BACKENDS"  # "label=URL;label=openai:URL" like --backend
ENV_DATABASE_URL = "DATABASE_URL"
ENV_DATASET_REPO = "HERMES_DATASET_REPO"  # Hub dataset repo that receives the preference data
ENV_MAX_TURNS = "HERMES_MAX_TURNS"  # turns streaming at once in one app process
ENV_HUB_TOKEN = "HF_TOKEN"  # name of the variable holding the Hub write token (never its value)


class SettingsError(ValueError):
    """The configuration is wrong; the message says which entry and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to start; built by :func:`load_settings`."""

    backends: tuple[BackendSpec, ...] = ()
    database_url: str = "sqlite:///data/playground.db"
    host: str = "127.0.0.1"
    port: int = 7860
    request_timeout_s: float = 120.0
    max_panes: int = 4
    concurrency_limit: int = 256
    max_turns: int = 40  # turns streaming at once; more wait in the queue with their position shown
    max_sessions: int = 1000  # browser sessions kept in memory (Gradio keeps ~0.3 MB of config each)
    assets_dir: Path = field(default=ASSETS_DIR)
    dataset_repo: str | None = None
    hub_token_env: str = ENV_HUB_TOKEN
    space_id: str | None = None

    def backend(self, backend_id: str) -> BackendSpec:
        """Return the backend with this id (``KeyError`` if unknown)."""
        for spec in self.backends:
            if spec.id == backend_id:
                return spec
        raise KeyError(backend_id)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "backend"


def parse_backend_arg(value: str) -> BackendSpec:
    """Parse ``label=URL`` or ``label=openai:URL`` (``tgi:`` is the default kind).

    >>> parse_backend_arg("Local 8B=http://127.0.0.1:8080").kind
    'tgi'
    """
    label, sep, target = value.partition("=")
    if not sep or not label.strip() or not target.strip():
        raise SettingsError(f"--backend {value!r}: expected LABEL=URL, e.g. 'Hermes 3 8B=http://127.0.0.1:8080'")
    kind = "tgi"
    for prefix in ("tgi:", "openai:"):
        if target.startswith(prefix):
            kind, target = prefix[:-1], target[len(prefix):]
    if not re.match(r"^https?://[^\s/]+", target):
        raise SettingsError(f"--backend {value!r}: {target!r} is not an http(s) URL")
    return BackendSpec(id=_slug(label), label=label.strip(), base_url=target.rstrip("/"), kind=kind)  # type: ignore[arg-type]


def _spec_from_entry(entry: Mapping[str, object], env: Mapping[str, str], source: str) -> BackendSpec | None:
    """Build one backend from a file entry; ``None`` when its URL variable is unset."""
    try:
        backend_id = str(entry["id"])
    except KeyError:
        raise SettingsError(f"{source}: every [[backends]] entry needs an id") from None
    url = str(entry.get("url") or env.get(str(entry.get("url_env", "")), "")).strip()
    if not url:
        return None
    kind = entry.get("kind", "tgi")
    role = entry.get("tool_response_role", "tool")
    if kind not in ("tgi", "openai"):
        raise SettingsError(f"{source}: backend {backend_id!r} has kind {kind!r}; use 'tgi' or 'openai'")
    if role not in ("tool", "user"):
        raise SettingsError(f"{source}: backend {backend_id!r} has tool_response_role {role!r}; use 'tool' or 'user'")
    window = entry.get("context_window")
    return BackendSpec(
        id=backend_id,
        label=str(entry.get("label", backend_id)),
        base_url=url.rstrip("/"),
        kind=kind,  # type: ignore[arg-type]
        model_id=str(entry.get("model_id", "")),
        token_env=str(entry["token_env"]) if entry.get("token_env") else None,
        tool_response_role=role,  # type: ignore[arg-type]
        context_window=int(window) if window else None,  # type: ignore[call-overload]
    )


def read_backends_file(path: Path, env: Mapping[str, str]) -> list[BackendSpec]:
    """Read ``[[backends]]`` entries from a TOML file, keeping those with a URL."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"backends file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"backends file {path}: {exc}") from None
    specs = (_spec_from_entry(entry, env, str(path)) for entry in data.get("backends", []))
    return [spec for spec in specs if spec is not None]


def _unique_ids(specs: Sequence[BackendSpec]) -> tuple[BackendSpec, ...]:
    """Give CLI/env backends whose slug collides a numbered id; file ids must already be unique."""
    seen: set[str] = set()
    out = []
    for spec in specs:
        new_id, n = spec.id, 2
        while new_id in seen:
            new_id, n = f"{spec.id}-{n}", n + 1
        seen.add(new_id)
        out.append(spec if new_id == spec.id else BackendSpec(**{**spec.__dict__, "id": new_id}))
    return tuple(out)


def _positive_int(name: str, value: object) -> int:
    """``value`` as an integer of at least 1, or a SettingsError naming where it came from."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise SettingsError(f"{name} must be at least 1, got {number}")
    return number


def build_arg_parser() -> argparse.ArgumentParser:
    """The command line of ``python app.py``."""
    parser = argparse.ArgumentParser(description="Hermes Playground: compare Hermes models side by side.")
    parser.add_argument("--backend", action="append", default=[], metavar="LABEL=URL",
                        help="add a backend (repeatable); prefix the URL with openai: for chat-completions servers")
    parser.add_argument("--backends-file", type=Path, help=f"TOML backends file (default: {DEFAULT_BACKENDS_FILE})")
    parser.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1; 0.0.0.0 on Spaces)")
    parser.add_argument("--port", type=int, default=None, help="port (default 7860 or $GRADIO_SERVER_PORT)")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL of the preference store")
    parser.add_argument("--max-turns", type=int, default=None, metavar="N",
                        help=f"turns streaming at once; more wait in the queue (default 40 or ${ENV_MAX_TURNS})")
    parser.add_argument("--dataset-repo", default=None, metavar="USER/NAME",
                        help=f"Hub dataset repo for the preference data (default ${ENV_DATASET_REPO})")
    return parser


def load_settings(argv: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from CLI arguments and environment variables.

    File backends come first, then ``$HERMES_BACKENDS`` entries, then ``--backend`` ones.
    """
    env = dict(os.environ) if env is None else env
    args = build_arg_parser().parse_args(list(argv))
    path = args.backends_file or Path(env.get(ENV_BACKENDS_FILE) or DEFAULT_BACKENDS_FILE)
    specs = read_backends_file(path, env)
    extra = [item for item in env.get(ENV_EXTRA_BACKENDS, "").split(";") if item.strip()]
    specs += [parse_backend_arg(item.strip()) for item in [*extra, *args.backend]]
    on_spaces = bool(env.get("SPACE_ID"))
    return Settings(
        backends=_unique_ids(specs),
        database_url=args.database_url or env.get(ENV_DATABASE_URL) or "sqlite:///data/playground.db",
        host=args.host or env.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_spaces else "127.0.0.1"),
        port=args.port or int(env.get("GRADIO_SERVER_PORT") or 7860),
        max_turns=_positive_int("--max-turns", args.max_turns) if args.max_turns is not None
        else _positive_int(f"${ENV_MAX_TURNS}", env.get(ENV_MAX_TURNS) or 40),
        dataset_repo=args.dataset_repo or env.get(ENV_DATASET_REPO) or None,
        space_id=env.get("SPACE_ID") or None,
    )
