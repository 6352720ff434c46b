"""The Compare view as one screen, in chromium at 1440×900 and 390×844: the message box pinned in view,
Enter to send, pane headers with health, mode editors beside the Mode switch, WCAG AA contrast computed
from computed styles, the seed on the wire, an empty Send, readable table headers, provisional ratings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.app_process import running_apps
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer, renew

pytestmark = pytest.mark.e2e

DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
CONTRAST_JS = """(el) => {
  const parse = (c) => {
    if (c.startsWith("color(srgb")) {
      const p = c.slice(11, -1).split(/[ /]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    const p = c.slice(c.indexOf("(") + 1, -1).split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  let bg = [255, 255, 255];
  for (const l of layers.reverse()) bg = bg.map((v, i) => l[i] * l[3] + v * (1 - l[3]));
  const f = parse(getComputedStyle(el).color);
  const fg = bg.map((v, i) => f[i] * f[3] + v * (1 - f[3]));
  const lum = (c) => c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
                      .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}"""
BROKEN_WORDS_JS = """(table) => {
  const broken = [];
  for (const th of table.querySelectorAll("th")) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


@pytest.fixture
def app(alpha_beta) -> tuple[str, TGITestServer, TGITestServer]:
    """The e2e tests' shared app (conftest.py): its url, and its servers Alpha and Beta, renewed."""
    return alpha_beta.url, *alpha_beta.servers


@pytest.fixture(scope="module")
def own_apps(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The urls of this module's apps of their own configuration (``half_down``, ``one_vote``), started together
    so their start-ups overlap."""
    db = tmp_path_factory.mktemp("one-vote") / "store.db"
    with TGITestServer() as up, TGITestServer(behavior=Behavior(text="One.")) as a, \
            TGITestServer(behavior=Behavior(text="Two.")) as b:
        configs = [(["--backend", f"Hermes 3 Llama 3.1 8B={up.url}", "--backend", "Gone=http://127.0.0.1:9"], None),
                   (["--backend", f"Alpha={a.url}", "--backend", f"Beta={b.url}", "--database-url", f"sqlite:///{db}"],
                    None)]
        with running_apps(configs) as ((half_down_url, _), (one_vote_url, _)):
            yield half_down_url, one_vote_url


@pytest.fixture
def half_down(own_apps: tuple[str, str]) -> str:
    """An app over a long-named backend that answers and one that is down (pane B's default)."""
    return own_apps[0]


@pytest.fixture
def one_vote(own_apps: tuple[str, str]) -> str:
    """An app over Alpha (answers "One.") and Beta ("Two.") whose store holds the one vote its test casts."""
    return own_apps[1]


@pytest.fixture
def open_page(browser: Browser) -> Iterator:
    """``open_page(url, viewport)``: a fresh page at that size, loaded, with the backends probed."""
    contexts = []

    def open_at(url: str, viewport: dict[str, int]) -> Page:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        expect(page.locator("#pane-0-head")).not_to_contain_text("checking", timeout=15_000)
        return page

    yield open_at
    for context in contexts:
        context.close()


def in_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None, selector
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5 \
        and box["y"] + box["height"] <= size["height"] + 0.5


def wire_params(server, index: int = -1) -> dict:
    return server.requests[index]["body"]["parameters"]


def test_box_and_send_stay_in_view_while_a_long_reply_streams_and_the_page_scrolls(open_page, app):
    url, a, b = app
    renew(a, b, behavior=Behavior(ttft=0.05, rate=400, tokens=600))
    page = open_page(url, DESKTOP)
    assert in_viewport(page, "#message textarea") and in_viewport(page, "#send")
    page.locator("#message textarea").fill("Tell me a long story")
    page.locator("#send").click()
    expect(page.locator("#pane-0-metrics")).to_contain_text("finish", timeout=20_000)
    expect(page.locator("#pane-1-metrics")).to_contain_text("finish", timeout=20_000)
    for y in (0, 400, 10_000):  # top, middle and end of the page
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(150)
        assert in_viewport(page, "#message textarea"), f"message box out of view at scroll {y}"
        assert in_viewport(page, "#send"), f"Send out of view at scroll {y}"
    # The pane's title sits above its messages, never over them, once the chat has scrolled.
    page.evaluate("window.scrollTo(0, 0)")
    label = page.locator("#pane-0-chat label[data-testid='block-label']")
    expect(label).to_contain_text("Pane A · Alpha")
    scroller_top = page.locator("#pane-0-chat").evaluate(
        "(c) => { const s = [...c.querySelectorAll('*')].find((e) => e.scrollHeight > e.clientHeight + 20"
        " && /(auto|scroll)/.test(getComputedStyle(e).overflowY)); return s.getBoundingClientRect().top; }")
    label_box = label.bounding_box()
    assert label_box is not None and label_box["y"] + label_box["height"] <= scroller_top + 1


def test_enter_sends_and_shift_enter_adds_a_line(open_page, app):
    url, a, b = app
    renew(a, b, behavior=Behavior(text="Got it."))
    page = open_page(url, DESKTOP)
    expect(page.locator("#message-hint")).to_contain_text("Enter sends · Shift+Enter adds a line")
    box = page.locator("#message textarea")
    box.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    page.wait_for_timeout(300)
    assert a.requests == [] and b.requests == [], "Shift+Enter sent the message"
    page.keyboard.press("Enter")
    assert a.wait_for_requests(1, timeout=15.0) and b.wait_for_requests(1, timeout=15.0)
    assert "first line\nsecond line<|im_end|>" in a.requests[0]["body"]["inputs"]
    expect(box).to_have_value("", timeout=10_000)


def test_phone_width_stacks_the_panes_keeps_the_box_reachable_and_every_tab_in_sight(open_page, app):
    url, *servers = app
    renew(*servers, behavior=Behavior(tokens=200, rate=400))
    page = open_page(url, PHONE)
    for name in ("Compare", "Data", "Leaderboard", "Judge", "Backends"):
        assert in_viewport(page, f"button[role='tab']:has-text('{name}')"), f"tab {name} out of sight"
    expect(page.get_by_label("More tabs")).to_have_count(0)
    a, b = page.locator("#pane-0").bounding_box(), page.locator("#pane-1").bounding_box()
    assert a and b and b["y"] >= a["y"] + a["height"] - 1 and abs(a["x"] - b["x"]) < 2, "panes do not stack"
    assert in_viewport(page, "#message textarea") and in_viewport(page, "#send")
    page.locator("#message textarea").fill("Hi")
    page.locator("#send").click()
    expect(page.locator("#pane-1-metrics")).to_contain_text("finish", timeout=20_000)
    page.locator("#pane-1-metrics").scroll_into_view_if_needed()
    assert in_viewport(page, "#message textarea") and in_viewport(page, "#send")


@pytest.mark.parametrize(("mode", "editor"), [("Function calling", "#tools-box"), ("JSON mode", "#json-box")])
def test_mode_editors_open_in_view_beside_the_mode_switch(open_page, app, mode, editor):
    url, _, _ = app
    page = open_page(url, DESKTOP)
    page.locator("#mode").get_by_label(mode).check()
    expect(page.locator(editor)).to_be_visible()
    switch, box = page.locator("#mode").bounding_box(), page.locator(editor).bounding_box()
    assert switch and box and box["y"] < DESKTOP["height"], f"{editor} opens below the fold at y={box}"
    assert 0 <= box["y"] - (switch["y"] + switch["height"]) < 40, "the editor is not right under the switch"


def test_pane_headers_show_health_and_whose_system_prompt(open_page, half_down):
    page = open_page(half_down, DESKTOP)
    expect(page.locator("#pane-0-head")).to_contain_text("up")
    expect(page.locator("#pane-1-head .down")).to_contain_text("down")
    expect(page.locator("#pane-1-head")).to_contain_text("shared system prompt")
    page.locator("#pane-1-system-box").get_by_text("System prompt for this pane").click()
    page.locator("#pane-1-own-system").get_by_role("checkbox").check()
    expect(page.locator("#pane-1-head")).to_contain_text("own system prompt")
    page.locator("#pane-1-backend input").click()
    page.get_by_role("option", name="Hermes 3 Llama 3.1 8B").click()
    expect(page.locator("#pane-1-head .down")).to_have_count(0)
    page.locator("#blind").get_by_role("checkbox").check()  # a blind battle says nothing of the models
    expect(page.locator("#pane-0-head .up")).to_have_count(0)


def test_labels_send_and_hints_meet_wcag_aa_contrast(open_page, app):
    url, _, _ = app
    page = open_page(url, DESKTOP)
    checked = {"pane label": "#pane-0-chat label[data-testid='block-label']", "Send": "#send",
               "block title": "#mode span[data-testid='block-info']", "hint": "#message-hint .hint",
               "health badge": "#pane-0-head .up", "prompt badge": "#pane-0-head .shared-system"}
    ratios = {name: page.locator(sel).first.evaluate(CONTRAST_JS) for name, sel in checked.items()}
    print("contrast", {k: round(v, 2) for k, v in ratios.items()})
    assert all(r >= 4.5 for r in ratios.values()), ratios
    page.locator("#send").hover()
    assert page.locator("#send").evaluate(CONTRAST_JS) >= 4.5


def test_blank_seed_is_never_sent_and_a_typed_one_follows_the_toggle(open_page, app):
    url, a, b = app
    a.behavior, b.behavior = Behavior(text="A."), Behavior(text="B.")
    page = open_page(url, DESKTOP)
    page.get_by_text("Sampling (Nous reference defaults)").click()
    seed = page.locator("#seed textarea, #seed input").first
    expect(seed).to_have_value("")

    def send(text: str, n: int) -> None:
        page.locator("#message textarea").fill(text)
        page.locator("#send").click()
        assert a.wait_for_requests(n, timeout=15.0) and b.wait_for_requests(n, timeout=15.0)
        expect(page.locator("#pane-1-metrics")).to_contain_text("finish", timeout=15_000)

    send("No seed", 1)
    assert "seed" not in wire_params(a) and "seed" not in wire_params(b)
    page.locator("#regenerate").click()
    assert a.wait_for_requests(2, timeout=15.0) and b.wait_for_requests(2, timeout=15.0)
    assert "seed" not in wire_params(a) and "seed" not in wire_params(b)
    expect(page.locator("#pane-1-metrics")).to_contain_text("finish", timeout=15_000)
    seed.fill("41")
    send("Same seed", 3)
    assert wire_params(a)["seed"] == 41 and wire_params(b)["seed"] == 41
    page.locator("#same-seed").get_by_role("checkbox").uncheck()
    send("Seed per pane", 4)
    assert wire_params(a)["seed"] == 41 and wire_params(b)["seed"] == 42
    seed.fill("")
    send("Random again", 5)
    assert "seed" not in wire_params(a) and "seed" not in wire_params(b)


def test_an_empty_send_shows_a_hint_and_no_error(open_page, app):
    url, a, b = app
    page = open_page(url, DESKTOP)
    page.locator("#send").click()
    expect(page.locator("#message-hint")).to_contain_text("Type a message first.")
    page.locator("#message textarea").fill("   ")
    page.locator("#message textarea").press("Enter")
    page.wait_for_timeout(800)
    assert page.locator(".error:visible, .toast-body:visible").count() == 0, "an error badge or toast appeared"
    assert a.requests == [] and b.requests == []
    page.locator("#message textarea").fill("Now a real one")
    expect(page.locator("#message-hint")).to_contain_text("Enter sends")
    page.locator("#message textarea").press("Enter")
    assert a.wait_for_requests(1, timeout=15.0)


def test_backends_table_headers_break_between_words_only(open_page, half_down):
    for viewport in (DESKTOP, PHONE):
        page = open_page(half_down, viewport)
        page.get_by_role("tab", name="Backends").click()
        table = page.locator("#backends-table")
        expect(table).to_contain_text("Latency")
        assert table.evaluate(BROKEN_WORDS_JS) == [], f"a header breaks mid-word at {viewport}"


def test_a_few_battles_show_as_provisional_without_rating_or_rank(open_page, one_vote):
    """Its own app: the store must hold this one vote only."""
    page = open_page(one_vote, DESKTOP)
    page.locator("#blind").get_by_role("checkbox").check()
    page.locator("#message textarea").fill("Which is better?")
    page.locator("#send").click()
    expect(page.locator("#vote-a")).to_be_visible(timeout=20_000)
    page.locator("#vote-a").click()
    expect(page.locator("#vote-status")).to_contain_text("Vote saved")
    page.get_by_role("tab", name="Leaderboard").click()
    table = page.locator("#lb-table")
    expect(table).to_contain_text("provisional", timeout=20_000)
    cells = [c.strip() for c in table.inner_text().split("\n") if c.strip()]
    rows = [cells[k:k + 9] for k in range(9, len(cells), 9)]  # the header row, then one row per model
    assert sorted(r[1] for r in rows) == ["Alpha", "Beta"], cells
    for row in rows:
        assert row[0] == "—" and row[2] == "—", row  # no rank, no rating
        assert row[-1].startswith("provisional: 1 of 20 battles"), row
