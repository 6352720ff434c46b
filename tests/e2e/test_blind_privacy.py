"""A blind battle leaks nothing before the vote: everything chromium receives after Send (the DOM of the
Compare tab and every response body) is searched for the backends' labels, model ids, URLs and speed figures."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Response, expect

from tests.e2e.conftest import SharedApp
from tests.support.tgi_protocol import Behavior

pytestmark = pytest.mark.e2e

LABELS = ("Zephyr Seventy", "Quokka Three")
SPEED = re.compile(r"tok/s|TTFT \d")


def send(page: Page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()


def test_nothing_received_before_the_vote_names_the_models(page: Page, blind_pair: SharedApp):
    servers = blind_pair.servers  # Zephyr Seventy (org/zephyr-seventy-model), Quokka Three (org/quokka-three-model)
    for i, server in enumerate(servers):
        server.behavior = Behavior(text=f"Answer number {i}.", ttft=0.1)
    secrets = [*LABELS, "org/zephyr-seventy-model", "org/quokka-three-model", "zephyr-seventy", "quokka-three",
               *(s.url for s in servers), *(s.url.split("//")[1] for s in servers)]
    bodies: list[str] = []
    recording = {"on": False}

    def keep(response: Response) -> None:
        if recording["on"] and "/gradio_api/" in response.url:
            try:
                bodies.append(response.text())
            except Exception:  # noqa: BLE001 — a stream cut by navigation has no body to read
                pass

    page.on("response", keep)
    page.goto(blind_pair.url)
    page.locator("#blind").get_by_role("checkbox").check()
    expect(page.locator("#pane-0-backend")).to_be_hidden()
    recording["on"] = True
    send(page, "Who are you?")
    expect(page.locator("#vote-a")).to_be_visible()
    page.locator("#pane-0-inspector").click()  # opening the inspector must not reveal it either
    page.wait_for_timeout(1500)
    compare = page.locator("#pane-0-chat").locator("xpath=ancestor::div[contains(@class,'tabitem')]").first
    shown = compare.inner_html() if compare.count() else page.content()
    received = "\n".join(bodies)
    assert "Answer number 0." in received or "Answer number 1." in received, "the turn's stream was captured"
    for secret in secrets:
        assert secret not in shown, f"{secret!r} in the page before the vote"
        assert secret not in received, f"{secret!r} sent to the browser before the vote"
    assert not SPEED.search(shown) and not SPEED.search(received), "speed figures before the vote"
    expect(page.locator("#pane-0-chat")).to_contain_text("Model A")

    page.locator("#vote-a").click()
    expect(page.locator("#vote-status")).to_contain_text("Vote saved")
    expect(page.locator("#vote-reveal")).to_contain_text(LABELS[0])
    for label in LABELS:  # on the pane headers, once the inspector's own update (queued) has landed too
        expect(page.locator("#panes [data-testid='block-label']", has_text=f"· {label}")).to_have_count(1)
    assert SPEED.search(page.locator("#pane-0-metrics").inner_text()), "speed figures appear after the reveal"
