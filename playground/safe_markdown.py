"""Model, backend and user text -> Markdown that renders no live HTML (pure, no I/O).

Why here and not in the browser: ``gr.Chatbot``'s ``sanitize_html`` (Gradio 6.31) runs the
*amuchina* sanitizer with its default allowlist, which keeps ``<form>``, ``<input>``,
``<button>`` and ``style=`` (it only drops ``action``/``href`` URLs that start with
``javascript:``/``data:``, and event handlers). So a reply holding a form rendered a working
form. Why not an HTML sanitizer such as nh3 on the message: the message is Markdown, and an
HTML sanitizer re-serializes its text (``<`` -> ``&lt;``, ``>`` -> ``&gt;``), which breaks
code blocks (they would show ``&lt;``) and block quotes. So untrusted text is made inert at
the Markdown level, and the app adds its own markup (``<details>``/``<summary>``) around it:

* Fenced code blocks (also in lists and quotes) and indented ones at the top level, found
  with markdown-it-py (the CommonMark parser Gradio already depends on), are kept byte for
  byte: Markdown shows them literally. An unclosed fence is closed, so it cannot swallow
  markup that follows.
* Everywhere else, every ``<`` that could open a tag, comment or autolink becomes ``&lt;``
  (it still reads ``<``), so no raw HTML exists; ``![`` becomes ``!\\[`` so no image (a
  request to any URL) is loaded. An inline code span holding ``<`` or ``![`` is written as
  ``<code>`` with its text escaped, so it reads the same whether or not a renderer agrees
  that it was a code span.

Example:
    >>> inert_markdown('Hi <form action="//x"><input name=q></form> `a<b` ![t](//x/p.png)')
    'Hi &lt;form action="//x">&lt;input name=q>&lt;/form> <code>a&lt;b</code> !\\\\[t](//x/p.png)'
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])  # configured once, never changed
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_IMAGE = re.compile(r"!\[")
# A fence needs ``` or ~~~, an indented code block a line that starts with 4 spaces or a tab.
_MAY_HOLD_CODE_BLOCK = re.compile(r"```|~~~|^(?: {4}|\t)", re.MULTILINE)
_MARKUP = re.compile(r"([\\`*~|!\[\]])")  # what links, images, code, emphasis or tables start with
# CommonMark code span: a backtick run closed by the next run of the same length. Hand-written because
# markdown-it-py gives no positions inside a paragraph; a wrong guess only changes how a span looks.
_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)


def escape_inline(text: str) -> str:
    """A short value (a title, an error, a name) as Markdown that shows exactly its text, on one line.

    Example:
        >>> escape_inline("<b>bad</b> *x* &amp;\\nnext")
        '&lt;b>bad&lt;/b> \\\\*x\\\\* &amp;amp; next'
    """
    flat = " ".join(text.splitlines())
    return _MARKUP.sub(r"\\\1", flat).replace("&", "&amp;").replace("<", "&lt;")


def code_span(text: str) -> str:
    """``text`` as an inline code span that no backtick inside it can close.

    Example:
        >>> code_span("a`b")
        '`` a`b ``'
    """
    flat = " ".join(text.splitlines())
    ticks = "`" * (1 + max((len(m) for m in re.findall(r"`+", flat)), default=0))
    return f"{ticks} {flat} {ticks}" if "`" in flat else f"{ticks}{flat}{ticks}"


def _inert_prose(text: str) -> str:
    """Text outside code blocks: code spans that need it become ``<code>``, the rest loses tags and images."""
    if "`" not in text:  # no code span (the span search costs ~0.1 ms per kB even then)
        return _no_tags(text)
    out, pos = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_no_tags(text[pos:match.start()]))
        span = match.group(0)
        risky = _TAG_START.search(span) or _IMAGE.search(span)
        out.append(f"<code>{escape_inline(match.group(2))}</code>" if risky else span)
        pos = match.end()
    out.append(_no_tags(text[pos:]))
    return "".join(out)


def _no_tags(text: str) -> str:
    return _IMAGE.sub(r"!\\[", _TAG_START.sub("&lt;", text))


def inert_markdown(text: str) -> str:
    """Untrusted Markdown as Markdown with no raw HTML and no images; top-level code blocks kept exactly.

    Example:
        >>> inert_markdown("```html\\n<form>\\n```\\n<form>")
        '```html\\n<form>\\n```\\n&lt;form>'
    """
    if not _MAY_HOLD_CODE_BLOCK.search(text):  # the parse below finds no code block: skip it (most replies)
        return _inert_prose(text)
    lines = text.splitlines(keepends=True)
    out, pos = [], 0
    for token in _PARSER.parse(text):
        if token.map is None or not (token.type == "fence" or token.type == "code_block" and token.level == 0):
            continue
        start, end = token.map
        out.append(_inert_prose("".join(lines[pos:start])))
        block = "".join(lines[start:end])
        out.append(block)
        if token.type == "fence" and not _closes(lines[start:end], token.markup):
            indent = lines[start][: lines[start].index(token.markup)]  # a list's spaces, a quote's "> "
            out.append(("" if block.endswith("\n") else "\n") + indent + token.markup)
        pos = end
    out.append(_inert_prose("".join(lines[pos:])))
    return "".join(out)


def _closes(block: list[str], markup: str) -> bool:
    """Does this fenced block end with a closing fence (at least as long as the opening one)?"""
    last = block[-1].strip() if len(block) > 1 else ""
    return last.startswith(markup) and set(last) == {markup[0]}
