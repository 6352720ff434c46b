"""End to end: Stop during a 4-pane long stream, in Debian's chromium against 4 test servers."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import SharedApp
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import renew

pytestmark = pytest.mark.e2e

PANES = 4


def stop_handler_fn(url: str) -> int:
    """The fn_index of the Stop button's own handler (not the cancel Gradio adds for ``cancels=``)."""
    config = httpx.get(f"{url}/config", timeout=30).json()
    stop = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == "stop")
    return next(d["id"] for d in config["dependencies"]
                if [stop, "click"] in [list(t) for t in d["targets"]] and d.get("backend_fn"))


def test_stop_reaches_all_four_backends_before_its_own_handler_and_the_next_send_works(page: Page, four: SharedApp):
    servers, url = four.servers, four.url
    renew(*servers, behavior=Behavior(ttft=0.1, rate=20, tokens=700))
    handler = stop_handler_fn(url)
    sent: list[tuple[str, int | None]] = []  # (path, fn_index) of the page's API calls, in the order sent

    def note(request: Request) -> None:
        if "/gradio_api/" in request.url and request.method == "POST":
            body = json.loads(request.post_data or "{}") if request.post_data else {}
            sent.append((request.url.split("/gradio_api/")[1].split("?")[0], body.get("fn_index")))

    page.on("request", note)
    page.goto(url)
    page.get_by_label("4", exact=True).check()
    page.locator("#message textarea").fill("Tell me a long story.")
    page.locator("#send").click()
    for i in range(PANES):
        expect(page.locator(f"#pane-{i}-chat")).to_contain_text("tok3")
    assert all(s.disconnects == 0 for s in servers)

    clicked = len(sent)
    page.locator("#stop").click()
    for i, server in enumerate(servers):
        assert server.wait_for_disconnects(1, timeout=60.0), f"Stop did not close backend {i}'s stream"
    for i in range(PANES):
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("finish: stopped")
        assert "tok699" not in page.locator(f"#pane-{i}-chat").inner_text()
    after = sent[clicked:]
    cancel_at = next((i for i, (p, _) in enumerate(after) if p == "cancel"), None)
    assert cancel_at is not None, f"no cancel request after Stop: {after}"
    handler_at = next((i for i, (p, fn) in enumerate(after) if p.startswith("run/") and fn == handler), None)
    assert handler_at is not None, f"Stop's handler was not called: {after}"
    assert cancel_at < handler_at, f"the cancel waited for Stop's own request: {after}"

    # The session's turn slot is free again: the next Send streams into every pane, nothing refused.
    for server in servers:
        server.behavior = Behavior(text="A fresh short answer.")
    page.locator("#message textarea").fill("Again, briefly.")
    page.locator("#send").click()
    for i in range(PANES):
        expect(page.locator(f"#pane-{i}-chat")).to_contain_text("A fresh short answer.")
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("finish: eos_token")
    assert "already running" not in page.content()
