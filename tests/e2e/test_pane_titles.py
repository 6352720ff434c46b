"""Compare pane titles and columns in chromium: a pane's title follows its model dropdown at once (not at
the next Send; never in a blind battle), and 3 panes sit side by side at 1440×900 (4 at 1920, 2 rows of
2 at 1440, stacked at 390)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SharedApp
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def app(alpha_beta: SharedApp) -> tuple[str, TGITestServer, TGITestServer]:
    """The e2e tests' shared app (conftest.py) over Alpha and Beta (pane A starts on Alpha, pane B on Beta),
    its servers renewed, each answering with its name."""
    alpha, beta = alpha_beta.servers
    alpha.behavior, beta.behavior = Behavior(text="From Alpha."), Behavior(text="From Beta.")
    return alpha_beta.url, alpha, beta


def open_compare(browser: Browser, url: str, width: int, height: int) -> Page:
    """A fresh page at this size with the Compare tab loaded and the backends probed."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(url)
    expect(page.locator("#pane-0-head")).not_to_contain_text("checking")
    return page


def title(page: Page, i: int):
    return page.locator(f"#pane-{i}-chat label[data-testid='block-label']")


def pick(page: Page, i: int, model: str) -> None:
    page.locator(f"#pane-{i}-backend input").click()
    page.get_by_role("option", name=model, exact=True).click()


def send(page: Page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()
    expect(page.locator("#pane-1-metrics")).to_contain_text("finish")


def test_a_pane_title_follows_its_dropdown_at_once_and_after_send(browser, app):
    url, alpha, beta = app
    page = open_compare(browser, url, 1440, 900)
    try:
        send(page, "Hello")
        expect(title(page, 1)).to_have_text("Pane B · Beta")
        asked = len(alpha.requests)
        pick(page, 1, "Alpha")
        expect(title(page, 1)).to_have_text("Pane B · Alpha")  # before any Send
        expect(title(page, 0)).to_have_text("Pane A · Alpha")
        # A new model starts afresh: the pane shows no conversation its next request would not carry.
        expect(page.locator("#pane-1-chat [data-testid=user]")).to_have_count(0)
        expect(page.locator("#pane-0-chat [data-testid=user]")).to_have_count(1)
        page.wait_for_timeout(300)
        assert len(alpha.requests) == asked, "picking a model sent a request"
        send(page, "Again")  # the new model answers and the title stays its name
        assert alpha.wait_for_requests(asked + 2, timeout=15.0)
        expect(page.locator("#pane-1-chat")).to_contain_text("From Alpha.")
        expect(title(page, 1)).to_have_text("Pane B · Alpha")
        sent = [r["body"]["inputs"] for r in alpha.requests[asked:] if "inputs" in (r["body"] or {})]
        assert sorted("Hello" in prompt for prompt in sent) == [False, True], "pane A keeps its history, B not"
        expect(page.locator("#pane-1-chat [data-testid=user]")).to_have_count(1)
        pick(page, 1, "Beta")
        expect(title(page, 1)).to_have_text("Pane B · Beta")
        page.locator("#blind").get_by_role("checkbox").check()  # a blind battle names no model
        expect(page.locator("#pane-1-backend")).to_be_hidden()
        send(page, "Battle")
        expect(title(page, 0)).to_have_text("Model A")
        expect(title(page, 1)).to_have_text("Model B")
    finally:
        page.context.close()


def pane_rows(page: Page, n: int) -> list[list[dict[str, float]]]:
    """The first ``n`` pane columns' boxes, grouped in rows by their top y; asserts none overlap."""
    boxes = [page.locator(f"#pane-{i}").bounding_box() for i in range(n)]
    assert all(boxes), boxes
    for k, a in enumerate(boxes):
        for b in boxes[k + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] + 0.5 or b["x"] + b["width"] <= a["x"] + 0.5
                     or a["y"] + a["height"] <= b["y"] + 0.5 or b["y"] + b["height"] <= a["y"] + 0.5)
            assert apart, f"panes overlap: {a} {b}"
    rows: dict[int, list[dict[str, float]]] = {}
    for box in boxes:
        rows.setdefault(round(box["y"]), []).append(box)
    return [rows[y] for y in sorted(rows)]


@pytest.mark.parametrize(("width", "height", "n", "per_row"), [
    (1440, 900, 3, [3]), (1440, 900, 4, [2, 2]), (1920, 1080, 4, [4]), (390, 844, 3, [1, 1, 1])])
def test_panes_sit_side_by_side_on_wide_screens_and_stack_on_a_phone(browser, app, width, height, n, per_row):
    page = open_compare(browser, app[0], width, height)
    try:
        page.locator("#compare-bar").get_by_label(str(n), exact=True).check()
        expect(page.locator(f"#pane-{n - 1}")).to_be_visible()
        rows = pane_rows(page, n)
        assert [len(r) for r in rows] == per_row, rows
        for i in range(n):  # a pane's badges stay inside it, never over the next pane
            right = page.locator(f"#pane-{i}").evaluate("(p) => p.getBoundingClientRect().right")
            badges = page.locator(f"#pane-{i}-head .badge").evaluate_all(
                "(bs) => bs.map((b) => b.getBoundingClientRect().right)")
            assert badges and max(badges) <= right + 0.5, (i, badges, right)
        settings = page.locator("#compare-settings").bounding_box()
        assert settings is not None
        if width >= 900:  # the settings column stays beside the panes, not below them
            assert all(b["x"] + b["width"] <= settings["x"] + 0.5 for r in rows for b in r), (rows, settings)
    finally:
        page.context.close()
