"""End to end in chromium: a blind battle, a vote, the names revealed, the export downloaded and checked."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from playground.store.db import get_turn, open_store, turns
from tests.e2e.conftest import SharedApp
from tests.support.app_process import free_port, running_app
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]
pytestmark = pytest.mark.e2e

REPLIES = {"Alpha": "Rayleigh scattering favours short wavelengths.", "Beta": "The sky reflects the ocean."}
TRL_KEYS = {"prompt", "chosen", "rejected"}


def send(page: Page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()


def pane_text(page: Page, index: int) -> str:
    return page.locator(f"#pane-{index}-chat").inner_text()


def test_blind_vote_reveals_names_and_the_export_matches_the_panes(page: Page, tgi_server_factory, tmp_path):
    servers = {name: tgi_server_factory(behavior=Behavior(text=text), model_id=f"test/{name.lower()}")
               for name, text in REPLIES.items()}
    secret = "hf_e2e_secret_token_0123456789"
    args = [a for name, s in servers.items() for a in ("--backend", f"{name}={s.url}")]
    args += ["--database-url", f"sqlite:///{tmp_path / 'store.db'}", "--dataset-repo", "me/prefs"]
    env = {"HF_TOKEN": secret, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}  # the Hub is unreachable here
    with running_app(args, env=env) as (url, proc):
        page.goto(url)
        page.locator("#blind").get_by_role("checkbox").check()
        expect(page.locator("#pane-0-backend")).to_be_hidden()  # the toggle (and the Clear it starts) landed
        send(page, "Why is the sky blue?")
        expect(page.locator("#vote-a")).to_be_visible()
        shown = [pane_text(page, 0), pane_text(page, 1)]
        by_pane = [next(name for name, text in REPLIES.items() if text in shown[i]) for i in (0, 1)]
        reveal = page.locator("#vote-reveal")
        expect(reveal).to_contain_text("names are hidden")
        expect(page.locator("#pane-0-backend")).to_be_hidden()
        for name in REPLIES:
            assert name not in reveal.inner_text() and name not in shown[0] + shown[1]

        page.locator("#vote-a").click()
        expect(page.locator("#vote-status")).to_contain_text("Vote saved: A is better")
        expect(reveal).to_contain_text(f"Pane A was {by_pane[0]} (test/{by_pane[0].lower()})")
        expect(reveal).to_contain_text(f"Pane B was {by_pane[1]}")

        page.get_by_role("tab", name="Data").click()
        page.locator("#data-blind").get_by_role("checkbox").check()
        expect(page.locator("#data-count")).to_contain_text("1 vote matches")
        page.locator("#export-dpo-jsonl").click()
        link = page.locator("#export-file a").first
        expect(link).to_be_visible()
        with page.expect_download() as download:
            link.click()
        path = download.value.path()
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
        assert len(rows) == 1
        row = rows[0]
        assert TRL_KEYS <= set(row) and "prompt" in row and not isinstance(row["prompt"], str)
        assert row["prompt"][-1] == {"role": "user", "content": "Why is the sky blue?"}
        assert row["chosen"] == [{"role": "assistant", "content": REPLIES[by_pane[0]]}]
        assert row["rejected"] == [{"role": "assistant", "content": REPLIES[by_pane[1]]}]
        assert row["chosen_backend"] == by_pane[0].lower() and row["chosen_model"] == f"test/{by_pane[0].lower()}"
        assert row["blind"] is True

        page.get_by_text("Push to a Hugging Face dataset").click()
        expect(page.locator("#hub-target")).to_contain_text("me/prefs")  # set on the server, not editable
        page.locator("#hub-push").click()  # fails (no Hub here), and the token never shows
        expect(page.get_by_text("Push to me/prefs failed").first).to_be_visible(timeout=30_000)
        assert secret not in page.content()

        page.get_by_role("tab", name="Leaderboard").click()
        expect(page.locator("#lb-table")).to_contain_text(by_pane[0])
        proc.terminate()
        logs = proc.communicate(timeout=10)[0]
    assert secret not in logs


def test_a_stopped_turn_is_stored_but_offers_no_vote(page: Page, alpha_beta: SharedApp):
    fast, slow = alpha_beta.servers
    fast.behavior, slow.behavior = Behavior(text="Done quickly."), Behavior(ttft=0.1, rate=5, tokens=400)
    page.goto(alpha_beta.url)
    send(page, "Take your time")
    expect(page.locator("#pane-1-chat")).to_contain_text("tok1")
    page.locator("#stop").click()
    expect(page.locator("#vote-status")).to_contain_text("Voting is off for this turn: pane B was stopped")
    expect(page.locator("#vote-a")).to_be_hidden()
    store = open_store(f"sqlite:///{alpha_beta.db}", create=False)  # shared: this test's turn is the one asked
    try:
        with store.engine.connect() as conn:
            ids = conn.execute(turns.select().with_only_columns(turns.c.id)).scalars().all()
        (turn,) = [t for t in (get_turn(store, i) for i in ids) if t.messages[-1].content == "Take your time"]
    finally:
        store.close()
    assert [p.status for p in turn.panes] == ["done", "stopped"]
    assert turn.panes[0].output == "Done quickly." and turn.panes[1].output.startswith(" tok0")

    slow.behavior = Behavior(text="Quick now.")
    send(page, "Now quickly")  # the next turn is votable again
    expect(page.locator("#vote-a")).to_be_visible()
