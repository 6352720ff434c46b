"""The vote bar in chromium at 1440×900: in view with the message box after a turn, its keys (A or ←, B or →,
T tie, X both bad; none while typing), 3 panes ranked by clicking them, and the names on the pane headers
only after a blind vote. Every vote is read back from the SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from playground.store.db import VoteFilter, iter_votes_with_turns, open_store
from playground.types import Vote
from tests.e2e.conftest import SharedApp
from tests.e2e.test_compare_layout import DESKTOP, in_viewport
from tests.support.tgi_protocol import Behavior

pytestmark = pytest.mark.e2e

BAR = ("#vote-a", "#vote-b", "#vote-tie", "#vote-bothbad")


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    """A fresh page at 1440×900."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(60_000)
    context.set_default_navigation_timeout(120_000)
    yield context.new_page()
    context.close()


def send(page: Page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()


def votes(db: str, message: str) -> list[Vote]:
    """The stored votes on the turn that asked ``message``."""
    store = open_store(db, create=False)
    try:
        return [v.vote for v in iter_votes_with_turns(store, VoteFilter()) if v.turn.messages[-1].content == message]
    finally:
        store.close()


def test_the_bar_is_in_view_with_the_message_box_after_a_turn(desktop: Page, alpha_beta: SharedApp):
    a, b = alpha_beta.servers
    a.behavior, b.behavior = Behavior(text="A long reply. " * 120), Behavior(text="Another long reply. " * 120)
    desktop.goto(alpha_beta.url)
    expect(desktop.locator("#vote-a")).to_be_hidden()  # no bar before a turn
    send(desktop, "Tell me a lot")
    expect(desktop.locator("#vote-a")).to_be_visible()
    expect(desktop.locator("#vote-prompt")).to_contain_text("A or ← · B or → · T tie · X both bad")
    for y in (0, 300, 10_000):  # top, middle and end of the page
        desktop.evaluate(f"window.scrollTo(0, {y})")
        desktop.wait_for_timeout(150)
        for selector in (*BAR, "#message textarea", "#send"):
            assert in_viewport(desktop, selector), f"{selector} out of view at scroll {y}"
    bar, box = desktop.locator("#vote-a").bounding_box(), desktop.locator("#message textarea").bounding_box()
    assert bar and box and bar["y"] + bar["height"] <= box["y"], "the bar is under the panes, above the box"
    assert bar["height"] >= 40, "large buttons"


def test_each_key_records_its_vote_and_none_fires_while_typing(desktop: Page, alpha_beta: SharedApp):
    a, b = alpha_beta.servers
    a.behavior, b.behavior = Behavior(text="One."), Behavior(text="Two.")
    db = f"sqlite:///{alpha_beta.db}"  # shared: votes() reads only this test's turn
    desktop.goto(alpha_beta.url)
    send(desktop, "Keys please")
    expect(desktop.locator("#vote-a")).to_be_visible()
    status = desktop.locator("#vote-status")
    for key, kind, words in (("a", "a", "A is better"), ("t", "tie", "Tie"), ("b", "b", "B is better"),
                             ("x", "bothbad", "Both are bad"), ("ArrowLeft", "a", "A is better"),
                             ("ArrowRight", "b", "B is better")):
        desktop.locator("body").press(key)
        expect(status).to_contain_text(f"Vote saved: {words}")
        assert [v.kind for v in votes(db, "Keys please")] == [kind], key  # one vote, replaced each time

    box = desktop.locator("#message textarea")
    box.click()
    for key in ("a", "t", "x", "ArrowLeft"):  # typing in the message box votes nothing
        desktop.keyboard.press(key)
    expect(box).to_have_value("atx")
    desktop.wait_for_timeout(1000)
    expect(status).to_contain_text("Vote saved: B is better")
    assert [v.kind for v in votes(db, "Keys please")] == ["b"]


def test_three_panes_ranked_by_clicking_them_store_that_ranking(desktop: Page, four: SharedApp):
    for name, server in zip("ABC", four.servers[:3], strict=True):
        server.behavior = Behavior(text=f"Reply {name}.")
    db = f"sqlite:///{four.db}"  # shared: votes() reads only this test's turn
    desktop.goto(four.url)
    desktop.get_by_role("radio", name="3").check()
    send(desktop, "Rank us")
    marks = [desktop.locator(f"#pane-{i}-rank") for i in range(3)]
    for mark in marks:
        expect(mark).to_have_text("Rank")
    expect(desktop.locator("#vote-a")).to_have_count(0)  # no pair buttons for three panes
    desktop.locator("#pane-2-chat").click(position={"x": 120, "y": 80})  # C is best
    expect(marks[2]).to_have_text("1st")
    assert votes(db, "Rank us") == [], "nothing is saved before the ranking is complete"
    desktop.locator("#pane-0-head").click()  # then A (its header); B is left: last
    expect(desktop.locator("#vote-status")).to_contain_text("Vote saved: C > A > B")
    assert [m.inner_text() for m in marks] == ["2nd", "3rd", "1st"]
    assert [v.ranking for v in votes(db, "Rank us")] == [((2,), (0,), (1,))]

    desktop.locator("#rank-undo").click()  # A loses its place; the saved vote stays until a new one is complete
    expect(marks[0]).to_have_text("Rank")
    desktop.locator("body").press("b")  # the key for pane B
    expect(desktop.locator("#vote-status")).to_contain_text("Vote saved: C > B > A")
    assert [v.ranking for v in votes(db, "Rank us")] == [((2,), (1,), (0,))]
    desktop.locator("#rank-reset").click()
    for mark in marks:
        expect(mark).to_have_text("Rank")


def test_blind_names_reach_the_pane_headers_only_after_the_vote(desktop: Page, blind_pair: SharedApp):
    labels = ("Zephyr Seventy", "Quokka Three")
    for i, server in enumerate(blind_pair.servers):
        server.behavior = Behavior(text=f"Answer {i}.")
    desktop.goto(blind_pair.url)
    desktop.locator("#blind").get_by_role("checkbox").check()
    expect(desktop.locator("#pane-0-backend")).to_be_hidden()  # the toggle (and the Clear it starts) landed
    send(desktop, "Who are you?")
    expect(desktop.locator("#vote-a")).to_be_visible()
    heads = [desktop.locator(f"#pane-{i}-chat label[data-testid='block-label']") for i in range(2)]
    expect(heads[0]).to_have_text("Model A")
    expect(heads[1]).to_have_text("Model B")
    shown = desktop.locator("#panes").inner_text()
    assert not any(label in shown for label in labels), shown
    desktop.locator("body").press("t")
    expect(desktop.locator("#vote-status")).to_contain_text("Vote saved: Tie")
    for i, head in enumerate(heads):
        expect(head).to_contain_text(f"Pane {'AB'[i]} · ")
    named = [head.inner_text() for head in heads]
    assert sorted(name.split(" · ")[1] for name in named) == sorted(labels), named
