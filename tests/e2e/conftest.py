"""Browser fixtures: Playwright driving Debian's chromium binary (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.app_process import running_apps
from tests.support.tgi_server import DEFAULT_MODEL, TGITestServer, renew

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Waits, not speed checks: generous enough for a machine busy with other tests (the first page load
# builds the whole Gradio front end). A test that names its own timeout keeps it.
LOAD_TIMEOUT_MS = 120_000
ACTION_TIMEOUT_MS = 60_000
EXPECT_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium for one test module.

    Playwright's sync API keeps an event loop running in this thread while it is open, so
    it must close before asyncio tests run (module scope, and e2e runs last).
    """
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium package")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (own context) per test."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    context.set_default_navigation_timeout(LOAD_TIMEOUT_MS)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


# The apps e2e tests share (one start-up each, not one per test): backend labels and their servers' model ids.
APPS = {"alpha_beta": {"Alpha": DEFAULT_MODEL, "Beta": DEFAULT_MODEL},
        "four": dict.fromkeys(("First", "Second", "Third", "Fourth"), DEFAULT_MODEL),
        "blind_pair": {"Zephyr Seventy": "org/zephyr-seventy-model", "Quokka Three": "org/quokka-three-model"}}


class SharedApp(NamedTuple):
    """An app several e2e tests share: its test servers (one per backend, in order) and SQLite store."""

    url: str
    servers: list[TGITestServer]
    db: Path


@contextmanager
def shared(apps: dict[str, dict[str, str]], tmp: pytest.TempPathFactory) -> Iterator[dict[str, SharedApp]]:
    """Per name, an app over one test server per backend label (the value: the server's model id) with a store of
    its own; all start at once, so their start-ups overlap.

    Tests that share an app run one at a time, each in its own page (so its own session); the store is shared,
    so a test reads only the turns and votes it made."""
    with ExitStack() as stack:
        servers = {name: [stack.enter_context(TGITestServer(model_id=model)) for model in labels.values()]
                   for name, labels in apps.items()}
        dbs = {name: tmp.mktemp(f"e2e-{name}") / "store.db" for name in apps}
        configs = [([arg for label, server in zip(labels, servers[name], strict=True)
                     for arg in ("--backend", f"{label}={server.url}")] + ["--database-url", f"sqlite:///{dbs[name]}"],
                    None) for name, labels in apps.items()]
        running = stack.enter_context(running_apps(configs))
        yield {name: SharedApp(url, servers[name], dbs[name]) for name, (url, _) in zip(apps, running, strict=True)}


class SharedApps:
    """The shared apps by name (``APPS``), all started on the first use of one and stopped when the e2e tests end."""

    def __init__(self, stack: ExitStack, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._stack, self._tmp = stack, tmp_path_factory
        self._apps: dict[str, SharedApp] = {}

    def renewed(self, name: str) -> SharedApp:
        """The app, its servers renewed: nothing recorded, the default reply."""
        if not self._apps:
            self._apps = self._stack.enter_context(shared(APPS, self._tmp))
        renew(*self._apps[name].servers)
        return self._apps[name]


@pytest.fixture(scope="package")
def shared_apps(tmp_path_factory) -> Iterator[SharedApps]:
    """The e2e tests' shared apps (for one directory of tests: e2e runs last, on its own)."""
    with ExitStack() as stack:
        yield SharedApps(stack, tmp_path_factory)


@pytest.fixture
def alpha_beta(shared_apps: SharedApps) -> SharedApp:
    """An app over Alpha and Beta for every e2e test that needs no other configuration."""
    return shared_apps.renewed("alpha_beta")


@pytest.fixture
def four(shared_apps: SharedApps) -> SharedApp:
    """An app over four backends, First to Fourth, for the tests of 3 and 4 panes."""
    return shared_apps.renewed("four")


@pytest.fixture
def blind_pair(shared_apps: SharedApps) -> SharedApp:
    """An app over two backends whose names and model ids a blind battle must hide."""
    return shared_apps.renewed("blind_pair")
