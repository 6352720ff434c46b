"""Turn races sent by a script (issue 14, item 4): mid-turn, a regenerate, send or tool result is refused,
a Clear ends the streams and resets the session in one step (no cancel needed), a pane's 🗑 is refused and,
after the turn, forgets that pane's history. Over the raw Gradio API, and past the request guard on
``compare.actions.Turns`` itself (two joins that race past the guard meet the handler's check)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from playground.backends.registry import build_backends
from playground.compare.actions import BUSY, Turns
from playground.compare.prepare import TurnChoices, TurnSetupError
from playground.compare.state import CompareSession
from playground.settings import load_settings
from playground.types import SamplingParams
from tests.support import raw_gradio as raw
from tests.support.app_process import running_app
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer, renew

pytest_plugins = ["tests.support.fixtures"]

ENDLESS = Behavior(ttft=0.1, rate=5, tokens=400)  # far longer than any wait here
USER = re.compile(r"<\|im_start\|>user\n(.*?)<\|im_end\|>", re.S)
CHAT = TurnChoices(mode="chat", sampling=SamplingParams(max_new_tokens=500), system=None)


def prompts(server: TGITestServer) -> list[str]:
    return [r["body"]["inputs"] for r in server.requests if isinstance(r["body"], dict) and "inputs" in r["body"]]


def users_sent(server: TGITestServer) -> list[str]:
    return USER.findall(prompts(server)[-1])


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[tuple[httpx.Client, list[TGITestServer]]]:
    """One app for the module's scripts (one start-up); each script is its own session."""
    with TGITestServer() as a, TGITestServer() as b, running_app(
            ["--backend", f"A={a.url}", "--backend", f"B={b.url}",
             "--database-url", f"sqlite:///{tmp_path_factory.mktemp('races') / 'store.db'}"]) as (url, _):
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client, [a, b]


@pytest.fixture
def app(shared) -> Iterator[tuple[Script, list[TGITestServer]]]:
    """A new session's script on the shared app, whose servers reply endlessly; afterwards the session is
    cleared, which ends any stream it left running, before the next test renews the servers."""
    client, servers = shared
    renew(*servers, behavior=ENDLESS)
    script = Script(client)
    yield script, servers
    assert script.call("clear", "click").success
    assert wait(lambda: all(s.active == 0 for s in servers)), "a stream outlived the test"


class Script:
    """One scripted session: the page's listeners found by their trigger's elem_id, called with page defaults."""

    def __init__(self, client: httpx.Client) -> None:
        self.client, self.conf, self.session = client, raw.config(client), raw.new_session()
        self.ids = {c.get("props", {}).get("elem_id"): c["id"] for c in self.conf["components"]}

    def dep(self, elem_id: str, event: str) -> dict[str, Any]:
        """The listener of ``elem_id``'s ``event`` that updates the panes (not the buttons or the vote panel)."""
        return next(d for d in self.conf["dependencies"] if [self.ids[elem_id], event] in d["targets"]
                    and self.ids["pane-0-chat"] in d["outputs"])

    def data(self, dep: dict[str, Any], message: str = "") -> list[Any]:
        data = raw.defaults(self.conf, dep)
        if self.ids["message"] in dep["inputs"]:
            data[dep["inputs"].index(self.ids["message"])] = message
        return data

    def join(self, elem_id: str, event: str, message: str = "") -> httpx.Response:
        """Join the queue without reading the stream (the turn runs on)."""
        dep = self.dep(elem_id, event)
        return self.client.post("/gradio_api/queue/join", json={
            "data": self.data(dep, message), "event_data": None, "fn_index": dep["id"], "trigger_id": None,
            "session_hash": self.session})

    def call(self, elem_id: str, event: str, message: str = "") -> raw.RawResult:
        dep = self.dep(elem_id, event)
        return raw.call(self.client, dep, self.data(dep, message), self.session)


def wait(ok: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    """Poll ``ok`` until it holds (a wait, not a bound)."""
    deadline = time.monotonic() + timeout_s
    while not ok():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def start_endless_turn(script: Script, servers: list[TGITestServer], text: str) -> None:
    asked = [len(prompts(s)) for s in servers]
    assert script.join("send", "click", text).status_code == 200
    reached = wait(lambda: all(len(prompts(s)) > n for s, n in zip(servers, asked, strict=True)))
    assert reached, "the turn never reached a backend"


def test_a_script_regenerate_send_or_tool_result_mid_turn_is_refused(app):
    script, servers = app
    start_endless_turn(script, servers, "first")
    for elem_id, event in (("regenerate", "click"), ("send", "click"), ("message", "submit"),
                           ("pane-0-tool-send", "click")):
        refused = script.join(elem_id, event, "sneaky")
        assert refused.status_code == 429 and "already running" in refused.json()["detail"], (elem_id, refused.text)
    assert [len(prompts(s)) for s in servers] == [1, 1], "a second turn reached the backends"
    assert all(s.disconnects == 0 for s in servers), "the running turn was disturbed"


def test_a_script_clear_mid_turn_ends_the_streams_and_the_next_turn_starts_afresh(app):
    script, servers = app
    start_endless_turn(script, servers, "old message")
    assert script.call("clear", "click").success  # no cancel sent: Clear alone must end the turn
    for s in servers:
        assert s.wait_for_disconnects(1), "Clear left the backend streaming"
        s.behavior = Behavior(text="Fresh.")
    assert wait(lambda: script.call("send", "click", "new message").success), "no turn after Clear"
    assert [users_sent(s) for s in servers] == [["new message"], ["new message"]]


def test_a_script_pane_clear_is_refused_mid_turn_and_after_it_forgets_that_pane(app):
    script, servers = app
    start_endless_turn(script, servers, "first")
    refused = script.call("pane-1-chat", "clear")
    assert "A turn is running" in refused.text
    assert script.call("stop", "click").success
    for s in servers:
        assert s.wait_for_disconnects(1)
        s.behavior = Behavior(text="Reply.")
    assert script.call("pane-0-chat", "clear").success
    assert wait(lambda: script.call("send", "click", "second").success)
    assert users_sent(servers[0]) == ["second"], "pane A's cleared history was sent"
    assert users_sent(servers[1]) == ["first", "second"], "the refused 🗑 forgot pane B's history"


@pytest.fixture
def turns(tgi_server_factory) -> tuple[Turns, list[TGITestServer]]:
    servers = [tgi_server_factory(behavior=ENDLESS) for _ in range(2)]
    settings = load_settings([a for i, s in enumerate(servers) for a in ("--backend", f"{'AB'[i]}={s.url}")], {})
    return Turns.for_app(settings, build_backends(settings)), servers


async def test_past_the_guard_the_turn_machinery_refuses_a_second_turn_and_clear_ends_the_first(turns):
    turns_, servers = turns
    session = CompareSession()
    stream = turns_.start(session, CHAT, "first", ["a", "b"], blind=False)
    async for shown in stream:
        if all("tok1" in p.reply for p in shown.panes):
            break
    shown_before = [p.transcript[:] for p in session.panes]
    for attempt in (lambda: turns_.regenerate(session, CHAT),
                    lambda: turns_.start(session, CHAT, "second", ["a", "b"], blind=False),
                    lambda: turns_.continue_after_tool(session, 0, "{}"),
                    lambda: turns_.clear_pane(session, 0)):
        with pytest.raises(TurnSetupError, match=re.escape(BUSY)):
            attempt()
    assert [p.transcript for p in session.panes] == shown_before and [p.user for p in session.panes] == ["first"] * 2
    turns_.clear(session)
    rest = [shown async for shown in stream]
    assert len(rest) <= 1 and session.panes == [] and session.turn_id == "", "the cleared turn streamed on"
    assert all(s.wait_for_disconnects(1) for s in servers)
