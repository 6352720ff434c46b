"""A public deployment of the real app for integration tests: two echo test servers, a fake Hub, ``--access public``."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.support.app_process import running_app
from tests.support.tgi_server import TGITestServer

SECRET = "test-secret-" + "x" * 20
REPO = "owner/preferences"
HUB_TOKEN = "hf_test_write_token_do_not_leak"


def public_config(servers: dict[str, TGITestServer], hub: Any, tmp: Path, *extra: str,
                  env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], str]:
    """(args, environment, store URL) of a public app over ``servers`` (alpha, beta) pushing to ``hub``."""
    db = f"sqlite:///{tmp / 'store.db'}"
    args = ["--backend", f"Alpha={servers['alpha'].url}", "--backend", f"Beta={servers['beta'].url}",
            "--database-url", db, "--access", "public", "--dataset-repo", REPO,
            "--quota-sessions-per-address", "5000/hour", *extra]  # calling every listener opens ~80 sessions
    return args, {"HERMES_SECRET": SECRET, "HF_ENDPOINT": hub.url, "HF_TOKEN": HUB_TOKEN, **(env or {})}, db


def start(stack: ExitStack, servers: dict[str, TGITestServer], hub: Any, tmp: Path, *extra: str,
          env: dict[str, str] | None = None) -> tuple[str, str]:
    """Start a public app (``public_config``) until ``stack`` closes; return (url, store URL)."""
    args, full_env, db = public_config(servers, hub, tmp, *extra, env=env)
    url, _ = stack.enter_context(running_app(args, env=full_env, timeout_s=120))
    return url, db
