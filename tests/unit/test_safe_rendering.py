"""Model, backend and user text in a pane renders no live HTML, while Markdown and the app's sections still do.

Oracle: each chat message is rendered by markdown-it-py with raw HTML on (as the browser's
Markdown renderer does) and the resulting elements and attributes are checked.
"""

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from playground.compare.state import Exchange, PaneState
from playground.hermes.jsonmode import JsonCheck
from playground.safe_markdown import inert_markdown
from playground.types import Message, PaneMetrics, ToolStep
from playground.ui.panes import awaiting_line, chat_messages, pane_summary
from tests.support.payloads import ATTACKER, PAYLOADS

ALLOWED = {"details", "summary", "code", "pre", "p", "em", "strong", "a", "ul", "ol", "li", "blockquote", "br",
           "hr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "s"}
RENDER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def elements(markdown: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = Elements()
    parser.feed(RENDER.render(markdown))
    return parser.found


def assert_inert(markdown: str) -> None:
    for tag, attrs in elements(markdown):
        assert tag in ALLOWED, (tag, markdown)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag, name, markdown)
            assert ATTACKER not in (value or "") or (tag == "a" and name == "href"), (tag, name, markdown)
            assert not (value or "").lower().startswith("javascript:") or tag != "a", markdown


def all_texts(pane: PaneState) -> list[str]:
    out = []
    for message in chat_messages(pane):
        out += [message["content"], message.get("metadata", {}).get("title", "")]
    return [*out, pane_summary(pane)]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_anywhere_in_a_pane_renders_no_live_html(payload):
    step = ToolStep(1, payload, {"q": payload}, payload, False, result=payload, error=payload)
    exchanges = [
        Exchange(user=payload, reply=f"Sure. {payload}\n\n**bold** and `code`", status="done"),
        Exchange(user="x", reply=f"<PLAN>{payload}</PLAN>{payload}<REFLECTION>{payload}", status="done"),
        Exchange(user="x", reply=f'<tool_call>\n{{"name": "{payload}", "arguments": {{}}}}\n</tool_call>',
                 status="done", tool_steps=(step,)),
        Exchange(user="x", reply=payload, status="done", json_check=JsonCheck(False, path=payload, reason=payload)),
        Exchange(user="x", reply="", status="error", error=payload),
    ]
    pane = PaneState("b", "B", transcript=exchanges, status="streaming", user=payload,
                     reply=f'<tool_call>\n{{"name": "{payload}", "arguments": {{"a": "{payload}"', note=payload,
                     metrics=PaneMetrics(ttft_s=0.1, finish_reason=payload))
    for text in [*all_texts(pane), awaiting_line(step)]:
        assert_inert(text)


def test_markdown_code_blocks_and_the_app_sections_still_render():
    reply = ("# Title\n\n**bold** *it* [link](https://example.org)\n\n```python\nif a<b and c>d:\n    x = '<div>'\n```"
             "\n\n- item `List<T>`\n\n> quoted")
    shown = inert_markdown(reply)
    assert "```python\nif a<b and c>d:\n    x = '<div>'\n```" in shown  # the code block, byte for byte
    tags = [tag for tag, _ in elements(shown)]
    assert {"h1", "strong", "em", "a", "pre", "code", "ul", "blockquote"} <= set(tags)
    assert "List&lt;T&gt;" in RENDER.render(shown)  # the code span still reads List<T>

    pane = PaneState("b", "B", transcript=[Exchange(user="u", reply="<PLAN>step `x<y`</PLAN>Done.", status="done")])
    reasoning = chat_messages(pane)[1]["content"]
    assert [t for t, _ in elements(reasoning) if t in ("details", "summary")] == ["details", "summary"] * 2


def test_stored_texts_stay_exact_only_the_view_is_inert():
    payload = PAYLOADS[0]
    pane = PaneState("b", "B", history=[Message("assistant", payload)],
                     transcript=[Exchange(user=payload, reply=payload, status="done")])
    chat_messages(pane)
    assert pane.transcript[0].reply == payload and pane.history[0].content == payload
