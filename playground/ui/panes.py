"""Pane state -> what a Gradio Chatbot and its metrics line show (pure formatting).

An assistant reply is shown as its text with Hermes's reasoning tags as collapsible
sections (the raw text one click away), and each ``<tool_call>`` as a collapsible message
holding the call, its arguments, its result, the time it took and any error — forming live
while the reply streams.

Safe rendering: every text that came from a model, a backend or a user is made inert here
(``safe_markdown``): replies and user messages keep their Markdown but render no HTML of
their own; names, errors, verdicts and finish reasons are escaped to plain text; tool
arguments and results sit in code blocks. The only HTML in a message is the app's own
``<details>``/``<summary>`` and ``<code>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from playground.compare.state import Exchange, PaneState
from playground.hermes.jsonmode import JsonCheck
from playground.hermes.reasoning import (
    has_reasoning,
    render_reasoning_markdown,
    split_reasoning,
)
from playground.hermes.tool_calls import ToolCall, parse_tool_calls_streaming
from playground.hermes.tool_loop import tool_report
from playground.safe_markdown import code_span, escape_inline, inert_markdown
from playground.types import Message, PaneMetrics, ToolStep

_STATUS_MARK = {"stopped": "⏹ *stopped*", "waiting": "…"}
ChatMessage = dict[str, Any]


def metrics_line(metrics: PaneMetrics, status: str) -> str:
    """One line under a pane: time to first token, tokens/s, tokens, finish reason.

    >>> metrics_line(PaneMetrics(ttft_s=0.2, total_s=1.2, tokens=21, finish_reason="length"), "done")
    'TTFT 0.20 s · 20.0 tok/s · 21 tokens · finish: length'
    """
    if status in ("waiting", "idle") and metrics.ttft_s is None:
        return "waiting for first token…" if status == "waiting" else ""
    parts = [f"TTFT {metrics.ttft_s:.2f} s" if metrics.ttft_s is not None else "no tokens"]
    if metrics.tokens_per_s is not None:
        parts.append(f"{metrics.tokens_per_s:.1f} tok/s")
    parts.append(f"{metrics.tokens} tokens")
    if metrics.generations > 1:
        parts.append(f"{metrics.generations} generations")
    if status == "streaming":
        parts.append("streaming…")
    elif status == "tool_input":
        parts.append("waiting for your tool result")
    elif metrics.finish_reason:
        parts.append(f"finish: {escape_inline(metrics.finish_reason)}")
    elif status == "error":
        parts.append("finish: error")
    return " · ".join(parts)


def json_badge(check: JsonCheck, grammar: bool = False) -> str:
    """The JSON-mode verdict: valid, or invalid with the failing path and reason.

    >>> json_badge(JsonCheck(False, path="$.age", reason="<b>x</b> is not of type 'integer'"))
    "JSON ❌ invalid at `$.age`: &lt;b>x&lt;/b> is not of type 'integer'"
    """
    how = " (grammar-constrained)" if grammar else ""
    if check.valid:
        return f"JSON ✅ valid{how}"
    where = f" at {code_span(check.path)}" if check.path else ""
    return f"JSON ❌ invalid{where}: {escape_inline(check.reason or '')}{how}"


def pane_summary(pane: PaneState) -> str:
    """The metrics line plus, where they apply, the tool report, JSON verdict and notes."""
    lines = [metrics_line(pane.metrics, pane.status)]
    if pane.tool_steps:
        report = tool_report(pane.tool_steps)
        lines.append(f"🛠 {report.calls} tool call{'s' * (report.calls != 1)} "
                     f"({report.valid} valid, {report.invalid} invalid) · depth {report.depth}")
    if pane.json_check is not None:
        lines.append(json_badge(pane.json_check, pane.grammar))
    elif pane.grammar and pane.status in ("waiting", "streaming"):
        lines.append("JSON grammar-constrained decoding")
    if pane.note:
        lines.append(f"⚠️ {escape_inline(pane.note)}")
    return "  \n".join(line for line in lines if line)


def _fence(text: str, lang: str = "") -> str:
    """A code block that no backtick run inside ``text`` can close."""
    ticks = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _text_view(text: str, streaming: bool) -> str:
    """Reply text with reasoning tags as collapsible sections and the raw text one click away."""
    if not has_reasoning(text):
        return inert_markdown(text)
    shown = render_reasoning_markdown(split_reasoning(text), streaming=streaming)
    return f"{shown}\n\n<details><summary>Raw text</summary>\n\n{_fence(text, 'text')}\n\n</details>"


def _step_message(step: ToolStep) -> ChatMessage:
    """A collapsible message for one answered (or pending) tool call."""
    mark = "⏳" if step.pending else ("✅" if step.valid and not step.error else "❌")
    body = [f"**Arguments**\n{_fence(json.dumps(step.arguments, indent=2, ensure_ascii=False), 'json')}"]
    if step.result is not None:
        body.append(f"**Result** (sent back in `<tool_response>`)\n{_fence(step.result, 'json')}")
    if step.pending:
        body.append("Not a built-in tool: type its result below the pane.")
    if step.error:
        body.append(f"**Error:** {escape_inline(step.error)}")
    title = f"{mark} {escape_inline(step.name or '') or 'unreadable call'}"
    metadata: dict[str, Any] = {"title": title, "status": "done",
                                "log": f"round {step.depth}" + ("" if step.valid else " · invalid")}
    if step.duration_s is not None:
        metadata["duration"] = round(step.duration_s, 4)
    return {"role": "assistant", "content": "\n\n".join(body), "metadata": metadata}


def _forming_message(call: ToolCall, closed: bool) -> ChatMessage:
    """A call still streaming (or streamed but not yet run)."""
    return {"role": "assistant", "content": _fence(call.raw.strip(), "json"),
            "metadata": {"title": f"🛠 {escape_inline(call.name or '') or '…'}", "status": "pending",
                         "log": "calling…" if closed else "forming…"}}


def _assistant_messages(text: str, steps: Sequence[ToolStep], streaming: bool) -> list[ChatMessage]:
    """One generation's text and its tool calls (answered steps, or calls still forming)."""
    if "<tool_call" not in text:
        return [{"role": "assistant", "content": _text_view(text, streaming)}] if text else []
    parsed = parse_tool_calls_streaming(text)
    out = [{"role": "assistant", "content": _text_view(parsed.text, streaming)}] if parsed.text.strip() else []
    if steps:
        out += [_step_message(s) for s in steps]
    else:
        out += [_forming_message(c, True) for c in parsed.calls]
        if parsed.in_progress is not None:
            out.append(_forming_message(parsed.in_progress, False))
    return out


def _exchange_messages(user: str, reply: str, followup: Sequence[Message], steps: Sequence[ToolStep],
                       status: str, error: str | None) -> list[ChatMessage]:
    """A user message, then every generation of the turn with its tool steps, then its status."""
    streaming = status in ("waiting", "streaming")
    texts = [reply, *(m.content for m in followup if m.role == "assistant")]
    shown: list[ChatMessage] = [{"role": "user", "content": inert_markdown(user)}]
    for depth, text in enumerate(texts):
        round_steps = [s for s in steps if s.depth == depth + 1]
        shown += _assistant_messages(text, round_steps, streaming and depth == len(texts) - 1)
    mark = f"⚠️ **{escape_inline(error or '')}**" if status == "error" else _STATUS_MARK.get(status)
    if mark and not (status == "waiting" and any(texts)):
        shown.append({"role": "assistant", "content": mark})
    elif len(shown) == 1:
        shown.append({"role": "assistant", "content": "*(empty reply)*"})
    return shown


def exchange_messages(exchange: Exchange) -> list[ChatMessage]:
    """Chatbot messages of one finished exchange (with its JSON verdict, if any)."""
    shown = _exchange_messages(exchange.user, exchange.reply, exchange.followup, exchange.tool_steps,
                               exchange.status, exchange.error)
    if exchange.json_check is not None:
        shown.append({"role": "assistant", "content": "", "metadata": {
            "title": json_badge(exchange.json_check, exchange.grammar), "status": "done"}})
    return shown


def awaiting_line(step: ToolStep) -> str:
    """The line above a tool-result box: which call waits, with its arguments, as inline code.

    >>> awaiting_line(ToolStep(1, "lookup", {"q": "`<b>`"}, "", True, pending=True))
    "Result of `` lookup(q='`<b>`') ``"
    """
    args = ", ".join(f"{k}={v!r}" for k, v in step.arguments.items())
    return f"Result of {code_span(f'{step.name}({args})')}"


def chat_messages(pane: PaneState) -> list[ChatMessage]:
    """Messages for ``gr.Chatbot``: the transcript, then the turn in progress."""
    shown = [m for exchange in pane.transcript for m in exchange_messages(exchange)]
    if pane.status in ("waiting", "streaming", "tool_input"):
        shown += _exchange_messages(pane.user, pane.reply, pane.followup, pane.tool_steps, pane.status, None)
    return shown
