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
from typing import Literal

from playground.access.identity import Access
from playground.access.quotas import QuotaSettings
from playground.backends.registry import (
    BACKENDS,
    DEFAULT_KIND,
    UnknownBackendKind,
    kind_class,
)
from playground.limits import TextLimits, limit_env, limit_option
from playground.types import BackendSpec

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_BACKENDS_FILE = ASSETS_DIR / "backends.toml"

# Environment variables the app reads (besides each backend's url_env / token_env).
ENV_BACKENDS_FILE = "HERMES_BACKENDS_FILE"
ENV_EXTRA_BACKENDS = "HERMES_BACKENDS"  # "label=URL;label=openai:URL" like --backend
ENV_DATABASE_URL = "DATABASE_URL"
ENV_DATASET_REPO = "HERMES_DATASET_REPO"  # Hub dataset repo that receives the preference data
ENV_MAX_TURNS = "HERMES_MAX_TURNS"  # turns streaming at once in one app process
ENV_PROCESSES = "HERMES_PROCESSES"  # app processes behind one port (nginx in front)
ENV_HUB_TOKEN = "HF_TOKEN"  # name of the variable holding the Hub write token (never its value)
ENV_ACCESS = "HERMES_ACCESS"  # local | public
ENV_VOTE_POLICY = "HERMES_VOTE_POLICY"  # anyone | signed-in
ENV_OPERATORS = "HERMES_OPERATORS"  # comma-separated Hugging Face (or users-file) names
ENV_OPERATOR_ORGS = "HERMES_OPERATOR_ORGS"  # comma-separated Hugging Face organisations
ENV_USERS_FILE = "HERMES_USERS_FILE"
ENV_SECRET = "HERMES_SECRET"  # name of the variable holding the pseudonym key (never its value)
ENV_PROXY_HOPS = "HERMES_PROXY_HOPS"
ENV_QUEUE_SIZE = "HERMES_QUEUE_SIZE"
ENV_RECHECK_RATE = "HERMES_RECHECK_RATE"  # share of votes followed by a consistency check
JUDGE_ENV = {"judge": "HERMES_JUDGE", "judge_prompt": "HERMES_JUDGE_PROMPT",
             "judge_prompt_file": "HERMES_JUDGE_PROMPT_FILE", "judge_when": "HERMES_JUDGE_WHEN",
             "judge_concurrency": "HERMES_JUDGE_CONCURRENCY"}
JUDGE_WHEN = ("off", "every-turn", "on-demand")
QUOTA_ENV = {name: f"HERMES_QUOTA_{name.upper()}" for name in vars(QuotaSettings())}


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
    processes: int = 1  # app processes behind one port (playground/replicas.py starts them and nginx)
    max_sessions: int = 1000  # browser sessions kept in memory (Gradio keeps ~0.3 MB of config each)
    assets_dir: Path = field(default=ASSETS_DIR)
    dataset_repo: str | None = None
    dataset_private: bool = True  # visibility of the dataset repo when a push creates it
    hub_token_env: str = ENV_HUB_TOKEN
    space_id: str | None = None
    access: Access = "local"  # local: one operator on this machine; public: sign-in, roles, quotas
    vote_policy: Literal["anyone", "signed-in"] = "anyone"
    operators: tuple[str, ...] = ()
    operator_orgs: tuple[str, ...] = ()
    users_file: Path | None = None
    secret_env: str = ENV_SECRET
    proxy_hops: int = 0  # trusted proxies in front of the app (X-Forwarded-For entries believed)
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    queue_size: int = 200  # events waiting in the queue at most; more are refused with a message
    max_request_bytes: int = 2_000_000  # body of one listener call
    limits: TextLimits = field(default_factory=TextLimits)  # sizes of texts and values users send
    recheck_rate: float = 0.1  # share of votes followed by a swapped re-show of a past pair (0 = never)
    judge: str | None = None  # backend id of the LLM judge (README, "Hermes as judge")
    judge_prompt: str = "pairwise"  # preset id in assets/judge
    judge_prompt_file: Path | None = None  # an edited judge prompt (TOML like the presets), instead of the preset
    judge_when: Literal["off", "every-turn", "on-demand"] = "off"
    judge_concurrency: int = 2  # judge requests at once

    @property
    def oauth(self) -> bool:
        """Sign in with Hugging Face (on a Space)."""
        return self.space_id is not None

    def backend(self, backend_id: str) -> BackendSpec:
        """Return the backend with this id (``KeyError`` if unknown)."""
        for spec in self.backends:
            if spec.id == backend_id:
                return spec
        raise KeyError(backend_id)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "backend"


def parse_backend_arg(value: str) -> BackendSpec:
    """Parse ``label=URL`` or ``label=KIND:URL`` (a kind of ``registry.BACKENDS``; ``tgi`` by default).

    >>> parse_backend_arg("Local 8B=http://127.0.0.1:8080").kind
    'tgi'
    >>> parse_backend_arg("vLLM=openai:http://127.0.0.1:8000").kind
    'openai'
    """
    label, sep, target = value.partition("=")
    if not sep or not label.strip() or not target.strip():
        raise SettingsError(f"--backend {value!r}: expected LABEL=URL, e.g. 'Hermes 3 8B=http://127.0.0.1:8080'")
    kind, colon, rest = target.partition(":")
    if colon and not rest.startswith("//") and re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        target = rest
    else:
        kind = DEFAULT_KIND
    try:
        capabilities = kind_class(kind, _slug(label)).capabilities
    except UnknownBackendKind as exc:
        raise SettingsError(f"--backend {value!r}: {exc} (before an http(s) URL)") from None
    if not re.match(r"^https?://[^\s/]+", target):
        raise SettingsError(f"--backend {value!r}: {target!r} is not an http(s) URL")
    return BackendSpec(id=_slug(label), label=label.strip(), base_url=target.rstrip("/"), kind=kind,
                       tool_response_role=capabilities.tool_response_role)


def _spec_from_entry(entry: Mapping[str, object], env: Mapping[str, str], source: str) -> BackendSpec | None:
    """Build one backend from a file entry; ``None`` when its URL variable is unset."""
    try:
        backend_id = str(entry["id"])
    except KeyError:
        raise SettingsError(f"{source}: every [[backends]] entry needs an id") from None
    url = str(entry.get("url") or env.get(str(entry.get("url_env", "")), "")).strip()
    if not url:
        return None
    kind = str(entry.get("kind", DEFAULT_KIND))
    try:
        capabilities = kind_class(kind, backend_id).capabilities
    except UnknownBackendKind as exc:
        raise SettingsError(f"{source}: {exc}") from None
    role = entry.get("tool_response_role", capabilities.tool_response_role)
    if role not in ("tool", "user"):
        raise SettingsError(f"{source}: backend {backend_id!r} has tool_response_role {role!r}; use 'tool' or 'user'")
    window = entry.get("context_window")
    return BackendSpec(
        id=backend_id,
        label=str(entry.get("label", backend_id)),
        base_url=url.rstrip("/"),
        kind=kind,
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


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an integer of at least ``minimum``, or a SettingsError naming where it came from."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {number}")
    return number


def build_arg_parser() -> argparse.ArgumentParser:
    """The command line of ``python app.py``."""
    parser = argparse.ArgumentParser(description="Hermes Playground: compare Hermes models side by side.")
    parser.add_argument("--backend", action="append", default=[], metavar="LABEL=URL",
                        help="add a backend (repeatable); prefix the URL with its kind, one of "
                             f"{', '.join(f'{kind}:' for kind in BACKENDS)} (default {DEFAULT_KIND}:)")
    parser.add_argument("--backends-file", type=Path, help=f"TOML backends file (default: {DEFAULT_BACKENDS_FILE})")
    parser.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1; 0.0.0.0 on Spaces)")
    parser.add_argument("--port", type=int, default=None, help="port (default 7860 or $GRADIO_SERVER_PORT)")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL of the preference store")
    parser.add_argument("--max-turns", type=int, default=None, metavar="N",
                        help=f"turns streaming at once; more wait in the queue (default 40 or ${ENV_MAX_TURNS})")
    parser.add_argument("--processes", type=int, default=None, metavar="N",
                        help="app processes behind the one port, sticky per browser; needs nginx "
                             f"(default 1 or ${ENV_PROCESSES}; not on a Space)")
    parser.add_argument("--dataset-repo", default=None, metavar="USER/NAME",
                        help=f"Hub dataset repo for the preference data (default ${ENV_DATASET_REPO})")
    parser.add_argument("--dataset-public", action="store_true", default=None,
                        help="create the dataset repo public on first push (default private; $HERMES_DATASET_PUBLIC=1)")
    parser.add_argument("--access", choices=["local", "public"], default=None,
                        help="local: everyone reaching this machine's loopback is the operator; public: sign-in, "
                             f"roles and quotas (default: public on a Space or off 127.0.0.1; ${ENV_ACCESS})")
    parser.add_argument("--vote-policy", choices=["anyone", "signed-in"], default=None,
                        help=f"who may vote (default: signed-in on a Space, else anyone; ${ENV_VOTE_POLICY})")
    parser.add_argument("--operators", default=None, metavar="NAME,NAME",
                        help=f"names who may browse, export and push data (${ENV_OPERATORS})")
    parser.add_argument("--operator-orgs", default=None, metavar="ORG,ORG",
                        help=f"Hugging Face organisations whose members are operators (${ENV_OPERATOR_ORGS})")
    parser.add_argument("--users-file", type=Path, default=None,
                        help=f"TOML file of users with scrypt password hashes: sign-in off Spaces (${ENV_USERS_FILE})")
    parser.add_argument("--proxy-hops", type=int, default=None, metavar="N",
                        help=f"trusted proxies in front of the app (default 1 on a Space, else 0; ${ENV_PROXY_HOPS})")
    parser.add_argument("--queue-size", type=int, default=None, metavar="N",
                        help=f"events waiting in the queue at most (default 200; ${ENV_QUEUE_SIZE})")
    parser.add_argument("--recheck-rate", default=None, metavar="P",
                        help="share of votes followed by a consistency check: a past pair re-shown swapped "
                             f"(0 to 1, default 0.1, 0 = never; ${ENV_RECHECK_RATE})")
    parser.add_argument("--judge", default=None, metavar="BACKEND_ID",
                        help=f"backend that judges pairs (any configured backend id; ${JUDGE_ENV['judge']})")
    parser.add_argument("--judge-prompt", default=None, metavar="PRESET",
                        help="judge prompt preset in assets/judge: pairwise (default), single, reference "
                             f"(${JUDGE_ENV['judge_prompt']})")
    parser.add_argument("--judge-prompt-file", type=Path, default=None, metavar="PATH",
                        help="an edited judge prompt (TOML like assets/judge/*.toml) "
                             f"(${JUDGE_ENV['judge_prompt_file']})")
    parser.add_argument("--judge-when", choices=JUDGE_WHEN, default=None,
                        help=f"judge every finished turn, on demand (operator Judge tab), or off (default; "
                             f"${JUDGE_ENV['judge_when']})")
    parser.add_argument("--judge-concurrency", type=int, default=None, metavar="N",
                        help=f"judge requests at once (default 2; ${JUDGE_ENV['judge_concurrency']})")
    for name, default in vars(QuotaSettings()).items():
        parser.add_argument(f"--quota-{name.replace('_', '-')}", dest=f"quota_{name}", default=None, metavar="N/PERIOD",
                            help=f"quota, e.g. {default} (default; ${QUOTA_ENV[name]})")
    for name, default in vars(TextLimits()).items():
        parser.add_argument(limit_option(name), dest=f"limit_{name}", type=int, default=None, metavar="N",
                            help=f"input limit (default {default}; ${limit_env(name)}); see README, Limits")
    return parser


def _limit_settings(args: argparse.Namespace, env: Mapping[str, str]) -> TextLimits:
    """Input limits from the CLI, else the environment, else the defaults."""
    values = {}
    for name, default in vars(TextLimits()).items():
        given = getattr(args, f"limit_{name}")
        source = limit_option(name) if given is not None else f"${limit_env(name)}"
        values[name] = _positive_int(source, given if given is not None else env.get(limit_env(name)) or default)
    return TextLimits(**values)


def _rate(name: str, value: object) -> float:
    """``value`` as a share between 0 and 1, or a SettingsError naming where it came from."""
    try:
        rate = float(value)  # type: ignore[arg-type]
    except ValueError:
        raise SettingsError(f"{name} must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise SettingsError(f"{name} must be between 0 and 1, got {rate}")
    return rate


def _judge_settings(args: argparse.Namespace, env: Mapping[str, str], backends: Sequence[BackendSpec]
                    ) -> dict[str, object]:
    """The LLM judge's settings (README, "Hermes as judge"), each checked with a message that says what to fix."""
    given = {name: getattr(args, name) if getattr(args, name) is not None else env.get(var) or None
             for name, var in JUDGE_ENV.items()}
    judge, when, preset = given["judge"], given["judge_when"] or "off", given["judge_prompt"] or "pairwise"
    ids = [spec.id for spec in backends]
    if judge is not None and judge not in ids:
        raise SettingsError(f"--judge {judge!r} is not a configured backend; use one of: {', '.join(ids) or '(none)'}")
    if when not in JUDGE_WHEN:
        raise SettingsError(f"${JUDGE_ENV['judge_when']} must be one of {', '.join(JUDGE_WHEN)}, got {when!r}")
    if when == "every-turn" and judge is None:
        raise SettingsError("--judge-when every-turn needs a judge: add --judge BACKEND_ID")
    presets = sorted(p.stem for p in (ASSETS_DIR / "judge").glob("*.toml"))
    if preset not in presets:
        raise SettingsError(f"--judge-prompt {preset!r} is not a preset; use one of: {', '.join(presets)}")
    prompt_file = Path(str(given["judge_prompt_file"])) if given["judge_prompt_file"] else None
    if prompt_file is not None and not prompt_file.is_file():
        raise SettingsError(f"--judge-prompt-file {prompt_file} does not exist; copy one of assets/judge/*.toml")
    return {"judge": judge, "judge_prompt": preset, "judge_prompt_file": prompt_file, "judge_when": when,
            "judge_concurrency": _positive_int(
                "--judge-concurrency", 2 if given["judge_concurrency"] is None else given["judge_concurrency"])}


def _names(value: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _access_settings(args: argparse.Namespace, env: Mapping[str, str], host: str) -> dict[str, object]:
    """The sign-in, role and quota settings (see the README, "Hosting in public")."""
    on_spaces = bool(env.get("SPACE_ID"))
    access = args.access or env.get(ENV_ACCESS) or (
        "local" if not on_spaces and host in ("127.0.0.1", "localhost", "::1") else "public")
    policy = args.vote_policy or env.get(ENV_VOTE_POLICY) or ("signed-in" if on_spaces else "anyone")
    if access not in ("local", "public"):
        raise SettingsError(f"${ENV_ACCESS} must be 'local' or 'public', got {access!r}")
    if policy not in ("anyone", "signed-in"):
        raise SettingsError(f"${ENV_VOTE_POLICY} must be 'anyone' or 'signed-in', got {policy!r}")
    quotas = QuotaSettings(**{name: getattr(args, f"quota_{name}") or env.get(QUOTA_ENV[name]) or default
                              for name, default in vars(QuotaSettings()).items()})
    try:
        quotas.check()
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    hops = args.proxy_hops if args.proxy_hops is not None else env.get(ENV_PROXY_HOPS) or (1 if on_spaces else 0)
    users_file = args.users_file or (Path(env[ENV_USERS_FILE]) if env.get(ENV_USERS_FILE) else None)
    return {
        "dataset_private": not (args.dataset_public or env.get("HERMES_DATASET_PUBLIC") in ("1", "true", "yes")),
        "access": access, "vote_policy": policy, "quotas": quotas, "users_file": users_file,
        "operators": _names(args.operators if args.operators is not None else env.get(ENV_OPERATORS)),
        "operator_orgs": _names(args.operator_orgs if args.operator_orgs is not None else env.get(ENV_OPERATOR_ORGS)),
        "proxy_hops": _positive_int("--proxy-hops", hops, minimum=0),
        "queue_size": _positive_int("--queue-size", args.queue_size if args.queue_size is not None
                                    else env.get(ENV_QUEUE_SIZE) or 200),
    }


def _processes(given: int | None, env: Mapping[str, str]) -> int:
    """How many app processes: more than one only on a machine of one's own (a Space runs one)."""
    processes = _positive_int("--processes" if given is not None else f"${ENV_PROCESSES}",
                              given if given is not None else env.get(ENV_PROCESSES) or 1)
    if processes > 1 and env.get("SPACE_ID"):
        raise SettingsError("--processes is for a machine of your own: a Space runs one process (leave it out)")
    return processes


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
    specs = list(_unique_ids(specs))
    on_spaces = bool(env.get("SPACE_ID"))
    host = args.host or env.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_spaces else "127.0.0.1")
    return Settings(
        backends=tuple(specs),
        database_url=args.database_url or env.get(ENV_DATABASE_URL) or "sqlite:///data/playground.db",
        host=host,
        port=args.port or int(env.get("GRADIO_SERVER_PORT") or 7860),
        max_turns=_positive_int("--max-turns", args.max_turns) if args.max_turns is not None
        else _positive_int(f"${ENV_MAX_TURNS}", env.get(ENV_MAX_TURNS) or 40),
        processes=_processes(args.processes, env),
        dataset_repo=args.dataset_repo or env.get(ENV_DATASET_REPO) or None,
        space_id=env.get("SPACE_ID") or None,
        **_access_settings(args, env, host),  # type: ignore[arg-type]
        limits=_limit_settings(args, env),
        recheck_rate=_rate("--recheck-rate", args.recheck_rate) if args.recheck_rate is not None
        else _rate(f"${ENV_RECHECK_RATE}", env.get(ENV_RECHECK_RATE) or 0.1),
        **_judge_settings(args, env, specs),  # type: ignore[arg-type]
    )
