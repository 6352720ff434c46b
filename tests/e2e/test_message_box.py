"""The message box around a turn (issue 14): Send empties it at once, what is typed while the replies stream
stays, a refused turn gives the text back, and a stopped one does not bring the sent text back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.tgi_protocol import Behavior

pytestmark = pytest.mark.e2e

SLOW = Behavior(ttft=0.1, rate=10, tokens=40)  # ~4 s of streaming: many updates while the user types


def test_typing_during_a_stream_is_kept_and_stop_does_not_bring_the_sent_text_back(page: Page, alpha_beta):
    for server in alpha_beta.servers:
        server.behavior = SLOW
    page.goto(alpha_beta.url)
    box = page.locator("#message textarea")
    box.fill("first question")
    page.locator("#send").click()
    expect(box).to_have_value("")  # emptied as the request left
    expect(page.locator("#pane-0-chat")).to_contain_text("tok1")
    box.press_sequentially("next one", delay=150)  # typed while updates keep arriving
    for i in range(2):
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("finish:", timeout=60_000)
    expect(box).to_have_value("next one")
    assert [len(s.requests) > 0 for s in alpha_beta.servers] == [True, True]

    box.fill("")
    box.fill("stopped question")
    page.locator("#send").click()
    expect(box).to_have_value("")
    expect(page.locator("#pane-0-chat")).to_contain_text("stopped question")
    page.locator("#stop").click()
    for i in range(2):
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("finish:")
    expect(page.locator("#send")).to_be_enabled()
    expect(box).to_have_value("")  # the stopped turn was sent: its text is in the panes, not back in the box
