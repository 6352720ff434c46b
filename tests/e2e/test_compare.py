"""End to end: the real app on a free port, driven in Debian's chromium, streaming from test servers."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from typing import NamedTuple

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SharedApp
from tests.support.app_process import free_port, running_apps
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer, renew

pytestmark = pytest.mark.e2e


def pane_text(page: Page, index: int) -> str:
    return page.locator(f"#pane-{index}-chat").inner_text()


def metrics_text(page: Page, index: int) -> str:
    return page.locator(f"#pane-{index}-metrics").inner_text()


def send(page: Page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()


def test_two_panes_fill_at_the_same_time(page: Page, alpha_beta: SharedApp):
    renew(*alpha_beta.servers, behavior=Behavior(ttft=0.2, rate=8, tokens=24))
    page.goto(alpha_beta.url)
    sent = time.monotonic()
    send(page, "Count for me")
    both_streaming = False
    first_seen: dict[int, float] = {}  # seconds from Send until the page showed a pane's first token
    deadline = time.monotonic() + 60  # a wait: the streams take ~3 s
    while time.monotonic() < deadline and not both_streaming:
        texts = [pane_text(page, 0), pane_text(page, 1)]
        for i, text in enumerate(texts):
            if "tok" in text:
                first_seen.setdefault(i, time.monotonic() - sent)
        both_streaming = all("tok2" in t and "tok23" not in t for t in texts)
        time.sleep(0.05)
    assert both_streaming, "never saw both panes part-way through their replies at once"
    for i in (0, 1):
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("finish: eos_token", timeout=30_000)
        assert "tok23" in pane_text(page, i)
        assert "tok/s" in metrics_text(page, i)
        # Shown TTFT: no earlier than the server's 0.2 s delay, no later than the page showed the token.
        ttft = float(re.search(r"TTFT (\d+\.\d+) s", metrics_text(page, i)).group(1))
        assert 0.2 <= ttft + 0.005 <= first_seen[i] + 0.01, (ttft, first_seen)


def test_stop_a_slow_pane_while_a_failing_pane_shows_its_own_error(page: Page, four: SharedApp):
    fast, slow, broken, _ = four.servers
    fast.behavior = Behavior(ttft=0.1, text="A quick complete answer.")
    slow.behavior = Behavior(ttft=0.2, rate=4, tokens=400)
    broken.behavior = Behavior(failure="http_429")
    page.goto(four.url)
    page.get_by_label("3").check()
    page.locator("#pane-2-backend input").click()
    page.get_by_role("option", name="Third").click()  # broken's
    send(page, "Hello")
    expect(page.locator("#pane-0-metrics")).to_contain_text("finish: eos_token", timeout=10_000)
    expect(page.locator("#pane-2-chat")).to_contain_text("Backend overloaded", timeout=10_000)
    expect(page.locator("#pane-1-chat")).to_contain_text("tok1", timeout=10_000)
    assert slow.disconnects == 0
    page.locator("#stop").click()
    assert slow.wait_for_disconnects(1, timeout=30.0), "Stop did not close the slow backend's connection"
    expect(page.locator("#pane-1-metrics")).to_contain_text("finish: stopped")
    assert "tok399" not in pane_text(page, 1)
    assert "overloaded" not in pane_text(page, 0).lower() and "overloaded" not in pane_text(page, 1).lower()
    assert "A quick complete answer." in pane_text(page, 0)
    # The page is still usable: the next turn streams into every pane again.
    slow.behavior = Behavior(text="Now I am quick too.")
    broken.behavior = Behavior(text="And I recovered.")
    send(page, "Again")
    expect(page.locator("#pane-1-chat")).to_contain_text("Now I am quick too.", timeout=10_000)
    expect(page.locator("#pane-2-chat")).to_contain_text("And I recovered.", timeout=10_000)


SECRET = "sk-test-0123456789-secret"


class OwnApps(NamedTuple):
    """This module's apps of their own configuration: (url, process) of each, and the keyed app's server."""

    keyed: tuple[str, subprocess.Popen[str]]
    keyed_server: TGITestServer
    empty: tuple[str, subprocess.Popen[str]]
    gone: tuple[str, subprocess.Popen[str]]


@pytest.fixture(scope="module")
def own_apps(tmp_path_factory) -> Iterator[OwnApps]:
    """Started together (their start-ups overlap): ``keyed`` over a server that wants a token (read from the
    environment), ``empty`` with no backend configured, ``gone`` with one backend that never answers."""
    tmp = tmp_path_factory.mktemp("compare-own")
    backends, empty = tmp / "backends.toml", tmp / "none.toml"
    empty.write_text("", encoding="utf-8")
    with TGITestServer(behavior=Behavior(text="Authorised reply."), api_key=SECRET) as server:
        backends.write_text(f'[[backends]]\nid = "keyed"\nlabel = "Keyed"\nurl = "{server.url}"\n'
                            'token_env = "KEYED_TOKEN"\n', encoding="utf-8")
        configs = [(["--backends-file", str(backends)], {"KEYED_TOKEN": SECRET}),
                   (["--backends-file", str(empty)], None),
                   (["--backends-file", str(empty), "--backend", f"Gone=http://127.0.0.1:{free_port()}"], None)]
        with running_apps(configs) as (keyed, no_backend, gone):
            yield OwnApps(keyed, server, no_backend, gone)


def test_tokens_never_reach_the_page_config_or_logs(page: Page, own_apps: OwnApps):
    url, proc = own_apps.keyed
    config = httpx.get(f"{url}/config", timeout=10).text
    assert "KEYED_TOKEN" not in config or SECRET not in config
    assert SECRET not in config
    page.goto(url)
    page.get_by_label("2").check()
    send(page, "Hi")
    expect(page.locator("#pane-0-chat")).to_contain_text("Authorised reply.", timeout=10_000)
    assert SECRET not in page.content()
    page.get_by_role("tab", name="Backends").click()
    expect(page.locator("#backends-table")).to_contain_text("up", timeout=10_000)
    assert SECRET not in page.content()
    assert own_apps.keyed_server.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    proc.terminate()
    logs = proc.communicate(timeout=10)[0]
    assert SECRET not in logs


def test_with_no_backend_the_page_explains_how_to_start_one(page: Page, own_apps: OwnApps):
    page.goto(own_apps.empty[0])
    help_box = page.locator("#setup-help")
    expect(help_box).to_contain_text("text-generation-inference")
    expect(help_box).to_contain_text("HERMES_8B_URL=http://127.0.0.1:8080 python app.py")


def test_with_no_backend_answering_the_page_says_which_and_how_to_start_one(page: Page, own_apps: OwnApps):
    page.goto(own_apps.gone[0])
    help_box = page.locator("#setup-help")
    expect(help_box).to_contain_text("None of the configured backends answers", timeout=10_000)
    expect(help_box).to_contain_text("Gone")
    expect(help_box).to_contain_text("Cannot connect")
    expect(help_box).to_contain_text("text-generation-inference")
