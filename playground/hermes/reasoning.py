"""Split Hermes structured-reasoning tags out of a reply for display (PROTOCOLS.md §4).

Decisions:

* Only the tags Hermes is trained on (plus the report's code-prompt tags, numbered
  ``<THOUGHT_N>`` / ``<STEP_N>`` / ``<SCHEMA_N>``, lowercase ``<scratch_pad>`` and
  ``<think>``) open a section; anything else (``List<T>``, HTML) stays text.
* Only *outermost* tags become sections; tags nested inside are kept raw in the content.
  The same tag nested inside itself is depth-counted, so its own closing tag does not end
  the outer section early.
* An opening tag with no closing tag yet gives a section with ``closed=False`` running to the
  end of the text (a tag still streaming, or a reply that never closed it).
* A stray closing tag is kept as text.
* :func:`split_reasoning` is faithful: ``"".join(s.raw for s in sections) == text`` always.
  A partial tag at the very end of a stream (``"...<REAS"``) is therefore kept raw there;
  :func:`render_reasoning_markdown` with ``streaming=True`` holds it back from display
  until the next token decides whether it is a tag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from playground.safe_markdown import inert_markdown

TAGS: tuple[str, ...] = (
    "SCRATCHPAD", "REASONING", "INNER_MONOLOGUE", "PLAN", "EXECUTION", "REFLECTION",
    "THINKING", "SOLUTION", "EXPLANATION", "UNIT_TEST", "RESTATEMENT", "PYDANTIC_SCHEMAS",
    "DIAGRAM", "scratch_pad", "think",
)
NUMBERED_TAGS: tuple[str, ...] = ("THOUGHT", "STEP", "SCHEMA")

_NAME = "|".join(TAGS) + "|(?:" + "|".join(NUMBERED_TAGS) + r")_\d{1,6}"
_OPEN_RE = re.compile(rf"<({_NAME})>")


@dataclass(frozen=True)
class Section:
    """A run of plain text (``kind="text"``, ``tag=None``) or one tagged section."""

    kind: Literal["text", "tag"]
    tag: str | None
    content: str
    closed: bool = True

    @property
    def raw(self) -> str:
        """The exact source text of this section.

        Example:
            >>> Section("tag", "PLAN", "x", closed=False).raw
            '<PLAN>x'
        """
        if self.kind == "text":
            return self.content
        return f"<{self.tag}>{self.content}" + (f"</{self.tag}>" if self.closed else "")


def _find_close(text: str, tag: str, pos: int) -> int | None:
    """Index of the ``</tag>`` matching an opening tag that ended at ``pos``."""
    open_tok, close_tok = f"<{tag}>", f"</{tag}>"
    depth = 1
    while True:
        close = text.find(close_tok, pos)
        if close < 0:
            return None
        reopen = text.find(open_tok, pos, close)
        if reopen >= 0:
            depth += 1
            pos = reopen + len(open_tok)
            continue
        depth -= 1
        if depth == 0:
            return close
        pos = close + len(close_tok)


def split_reasoning(text: str) -> list[Section]:
    """Split a reply (finished or streaming) into text and outermost tagged sections.

    Example:
        >>> for section in split_reasoning("<PLAN>a</PLAN>Done <REASONING>b"):
        ...     print(section)
        Section(kind='tag', tag='PLAN', content='a', closed=True)
        Section(kind='text', tag=None, content='Done ', closed=True)
        Section(kind='tag', tag='REASONING', content='b', closed=False)
    """
    sections: list[Section] = []
    pos = 0
    while pos < len(text):
        match = _OPEN_RE.search(text, pos)
        if match is None:
            sections.append(Section("text", None, text[pos:]))
            break
        if match.start() > pos:
            sections.append(Section("text", None, text[pos : match.start()]))
        tag = match.group(1)
        close = _find_close(text, tag, match.end())
        if close is None:
            sections.append(Section("tag", tag, text[match.end() :], closed=False))
            break
        sections.append(Section("tag", tag, text[match.end() : close]))
        pos = close + len(tag) + 3
    return sections


def has_reasoning(text: str) -> bool:
    """True if the text opens at least one reasoning tag.

    Example:
        >>> has_reasoning("<THOUGHT_2>hm"), has_reasoning("List<T>")
        (True, False)
    """
    return _OPEN_RE.search(text) is not None


def section_title(tag: str) -> str:
    """Human title for a tag: ``INNER_MONOLOGUE`` -> ``Inner monologue``, ``STEP_3`` -> ``Step 3``.

    Example:
        >>> section_title("scratch_pad"), section_title("THOUGHT_12")
        ('Scratch pad', 'Thought 12')
    """
    words = tag.lower().split("_")
    return " ".join(words).capitalize()


def _is_tag_prefix(fragment: str) -> bool:
    if not fragment.startswith("<") or ">" in fragment:
        return False
    rest = fragment[1:]
    rest = rest[1:] if rest.startswith("/") else rest
    if any(name.startswith(rest) for name in TAGS):
        return True
    for name in NUMBERED_TAGS:
        if f"{name}_".startswith(rest) or re.fullmatch(rf"{name}_\d{{1,6}}", rest):
            return True
    return False


def partial_tag_suffix(text: str) -> int:
    """Length of a trailing incomplete reasoning tag (``"<REAS"``, ``"</PL"``, ``"<"``), else 0.

    Example:
        >>> partial_tag_suffix("Sure <REAS"), partial_tag_suffix("a < b")
        (5, 0)
    """
    start = text.rfind("<", max(0, len(text) - 32))
    if start < 0:
        return 0
    return len(text) - start if _is_tag_prefix(text[start:]) else 0


def render_reasoning_markdown(sections: Sequence[Section], *, streaming: bool = False) -> str:
    """Render sections for a ``gr.Chatbot`` message: tags become ``<details>`` blocks.

    The model's text (between and inside sections) goes through ``safe_markdown.inert_markdown``:
    no HTML of its own renders, so it cannot close a ``<details>`` or add a form.

    An unclosed (in-progress) section is rendered open; closed ones collapsed. With
    ``streaming=True`` a trailing incomplete tag is held back from the last section.

    Example:
        >>> render_reasoning_markdown(split_reasoning("<PLAN>a <b>c</b></PLAN>Hi"))
        '<details><summary>Plan</summary>\\n\\na &lt;b>c&lt;/b>\\n\\n</details>\\n\\nHi'
    """
    out: list[str] = []
    last = len(sections) - 1
    for i, section in enumerate(sections):
        content = section.content
        if streaming and i == last:
            cut = partial_tag_suffix(content)
            content = content[: len(content) - cut] if cut else content
        if section.kind == "text":
            if content.strip():
                out.append(inert_markdown(content.strip("\n")))
            continue
        title = section_title(section.tag or "")
        if not section.closed and streaming:
            title += " …"
        attr = "" if section.closed else " open"
        body = inert_markdown(content.strip("\n"))
        out.append(f"<details{attr}><summary>{title}</summary>\n\n{body}\n\n</details>")
    return "\n\n".join(out)
