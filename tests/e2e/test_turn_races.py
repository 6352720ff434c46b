"""Turn races in the browser (issue 14, item 4): Regenerate, Clear, a pane's own 🗑, Send and Enter while a
turn streams. No path loses, duplicates or replays a turn: what each pane shows is what its next request
carries (the test servers record every prompt), and SQLite holds each finished turn once."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from playground.store.schema import turn_panes, turns
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer

pytestmark = pytest.mark.e2e

ENDLESS = Behavior(ttft=0.1, rate=5, tokens=400)  # streams far longer than any wait here: only Stop or Clear end it
USER = re.compile(r"<\|im_start\|>user\n(.*?)<\|im_end\|>", re.S)
ASSISTANT = re.compile(r"<\|im_start\|>assistant\n(.*?)<\|im_end\|>", re.S)


class RaceApp(NamedTuple):
    """The shared app (backends Alpha and Beta, a SQLite store) as one test sees it."""

    url: str
    servers: list[TGITestServer]
    db: Path
    earlier: int  # turns stored before this test

    def open(self, page: Page, behavior: Behavior) -> list[TGITestServer]:
        """Every server answers this way; the page opens the app. The servers, for the test to script."""
        answer(self.servers, behavior)
        page.goto(self.url)
        return self.servers

    def stored_turns(self, n: int) -> list[list[str]]:
        """This test's stored turns (user messages each), once ``n`` are stored (a wait: storing follows
        the turn), or after 60 s whatever is there."""
        deadline = time.monotonic() + 60
        while len(found := stored_turns(self.db)[self.earlier:]) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return found

    def pane_prompts(self, position: int, n: int) -> list[list[str]]:
        """Pane ``position``'s stored prompts in this test, once ``n`` turns are stored."""
        self.stored_turns(n)
        return pane_prompts(self.db, position)[self.earlier:]


@pytest.fixture
def app(alpha_beta) -> RaceApp:
    """The e2e tests' shared app (conftest.py), its servers renewed."""
    return RaceApp(alpha_beta.url, alpha_beta.servers, alpha_beta.db, len(stored_turns(alpha_beta.db)))


def send(page: Page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()


def users_shown(page: Page, pane: int) -> list[str]:
    return [t.strip() for t in page.locator(f"#pane-{pane}-chat [data-testid=user]").all_inner_texts()]


def prompts(server: TGITestServer) -> list[str]:
    """Every generation prompt the server was sent, in order."""
    return [r["body"]["inputs"] for r in server.requests if isinstance(r["body"], dict) and "inputs" in r["body"]]


def users_sent(server: TGITestServer) -> list[str]:
    return USER.findall(prompts(server)[-1])


def wait_finished(page: Page, panes: int = 2) -> None:
    for i in range(panes):
        expect(page.locator(f"#pane-{i}-metrics")).to_contain_text("finish:")


def finished_turn(page: Page, text: str) -> None:
    """Send ``text``; wait until both panes have finished and the vote panel offers the turn."""
    send(page, text)
    wait_finished(page)
    expect(page.locator("#vote-panel")).to_be_visible()


def streaming_turn(page: Page, text: str) -> None:
    """Send ``text``; wait until both panes stream it."""
    send(page, text)
    for i in range(2):
        expect(page.locator(f"#pane-{i}-chat")).to_contain_text("tok1")


def stop_turn(page: Page) -> None:
    """Press Stop; wait until both panes have stopped and Send is on again."""
    page.locator("#stop").click()
    wait_finished(page)
    expect(page.locator("#send")).to_be_enabled()


def answer(servers: list[TGITestServer], behavior: Behavior) -> None:
    """Every server answers the next requests this way."""
    for s in servers:
        s.behavior = behavior


def stored_turns(db: Path) -> list[list[str]]:
    """Each stored turn's user messages, oldest first; turn ids must be unique (the primary key)."""
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(turns.c.messages).order_by(turns.c.created_at)).scalars().all()
    engine.dispose()
    return [[m["content"] for m in messages] for messages in rows]


def pane_prompts(db: Path, position: int) -> list[list[str]]:
    """Pane ``position``'s stored prompt (message contents, no system turn) per turn, oldest first."""
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(turn_panes.c.prompt_messages).join(turns, turns.c.id == turn_panes.c.turn_id)
                            .where(turn_panes.c.position == position).order_by(turns.c.created_at)).scalars().all()
    engine.dispose()
    return [[m["content"] for m in messages if m["role"] != "system"] for messages in rows]


def test_regenerate_is_off_while_a_turn_streams_and_no_turn_vanishes(page: Page, app: RaceApp):
    servers = app.open(page, Behavior(text="Reply one."))
    finished_turn(page, "first")
    answer(servers, ENDLESS)
    streaming_turn(page, "second")
    expect(page.locator("#regenerate")).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#vote-panel")).to_be_hidden()  # no vote on turn one while turn two runs
    stop_turn(page)
    expect(page.locator("#regenerate")).to_be_enabled()
    answer(servers, Behavior(text="Regenerated."))
    page.locator("#regenerate").click()
    expect(page.locator("#pane-0-chat")).to_contain_text("Regenerated.")
    expect(page.locator("#pane-1-chat")).to_contain_text("Regenerated.")
    wait_finished(page)
    for i, s in enumerate(servers):
        assert users_shown(page, i) == ["first", "second"]
        assert users_sent(s) == ["first", "second"], "the regenerated turn answers the shown conversation"
    send(page, "third")
    expect(page.locator("#pane-0-chat [data-testid=user]")).to_have_count(3)
    wait_finished(page)
    for i, s in enumerate(servers):
        assert users_shown(page, i) == ["first", "second", "third"]
        assert users_sent(s) == ["first", "second", "third"]
        assert ASSISTANT.findall(prompts(s)[-1]) == ["Reply one.", "Regenerated."]
    expect(page.locator("#vote-panel")).to_be_visible()
    assert app.stored_turns(4) == [["first"], ["first", "second"], ["first", "second"], ["first", "second", "third"]]


def test_clear_mid_stream_ends_it_and_the_old_conversation_never_returns(page: Page, app: RaceApp):
    servers = app.open(page, ENDLESS)
    streaming_turn(page, "old message")
    page.locator("#clear").click()
    for s in servers:
        assert s.wait_for_disconnects(1), "Clear did not end the backend stream"
    for i in range(2):
        expect(page.locator(f"#pane-{i}-chat [data-testid=user]")).to_have_count(0)
        expect(page.locator(f"#pane-{i}-metrics")).not_to_contain_text("streaming")
    expect(page.locator("#send")).to_be_enabled()
    answer(servers, Behavior(text="Fresh."))
    send(page, "new message")
    expect(page.locator("#pane-0-chat")).to_contain_text("Fresh.")
    wait_finished(page)
    for i, s in enumerate(servers):
        assert users_shown(page, i) == ["new message"]
        assert users_sent(s) == ["new message"], "the cleared conversation came back in the next request"
    expect(page.locator("#vote-panel")).to_be_visible()
    assert app.stored_turns(1) == [["new message"]], "a cleared turn is not stored"


def test_a_panes_own_clear_button_forgets_that_panes_history(page: Page, app: RaceApp):
    servers = app.open(page, Behavior(text="Reply one."))
    finished_turn(page, "first")
    page.locator("#pane-0-chat button[aria-label='Clear']").click()
    expect(page.locator("#pane-0-chat [data-testid=user]")).to_have_count(0)
    expect(page.locator("#vote-panel")).to_be_hidden()  # the turn shown is no longer whole: no vote on it
    assert users_shown(page, 1) == ["first"]
    answer(servers, Behavior(text="Reply two."))
    finished_turn(page, "second")
    assert users_shown(page, 0) == ["second"] and users_sent(servers[0]) == ["second"]
    assert users_shown(page, 1) == ["first", "second"] and users_sent(servers[1]) == ["first", "second"]
    assert [p[-1] for p in app.pane_prompts(0, 2)] == ["first", "second"]
    assert [len(p) for p in app.pane_prompts(0, 2)] == [1, 1], "pane A's stored prompt starts after its 🗑"
    assert [len(p) for p in app.pane_prompts(1, 2)] == [1, 3]


def test_a_panes_own_clear_button_is_refused_while_a_turn_streams(page: Page, app: RaceApp):
    servers = app.open(page, ENDLESS)
    streaming_turn(page, "first")
    page.locator("#pane-1-chat button[aria-label='Clear']").click()
    expect(page.get_by_text("A turn is running")).to_be_visible()
    expect(page.locator("#pane-1-chat [data-testid=user]")).to_have_count(1)  # shown again, and kept
    stop_turn(page)
    answer(servers, Behavior(text="Reply two."))
    finished_turn(page, "second")
    for i, s in enumerate(servers):
        assert users_shown(page, i) == ["first", "second"] == users_sent(s)
    assert app.stored_turns(2) == [["first"], ["first", "second"]]


def test_send_and_enter_while_a_turn_streams_start_no_second_turn(page: Page, app: RaceApp):
    servers = app.open(page, ENDLESS)
    streaming_turn(page, "one")
    expect(page.locator("#send")).to_be_disabled()
    for i in range(2):
        expect(page.locator(f"#pane-{i}-tool-send")).to_be_hidden()
    box = page.locator("#message textarea")
    box.fill("two")
    box.press("Enter")  # the box stays editable; Enter is refused with a message, the text kept
    expect(page.get_by_text("already running")).to_be_visible()
    expect(box).to_have_value("two")
    assert [len(prompts(s)) for s in servers] == [1, 1], "a second turn reached the backends"
    stop_turn(page)
    answer(servers, Behavior(text="Reply two."))
    page.locator("#send").click()
    expect(page.locator("#pane-0-chat")).to_contain_text("Reply two.")
    wait_finished(page)
    for i, s in enumerate(servers):
        assert users_shown(page, i) == ["one", "two"] == users_sent(s)
    expect(page.locator("#vote-panel")).to_be_visible()
    assert app.stored_turns(2) == [["one"], ["one", "two"]]
