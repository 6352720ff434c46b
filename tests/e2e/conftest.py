"""Browser fixtures: Playwright driving Debian's chromium binary (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

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
