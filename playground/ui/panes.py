"""Pane state -> what a Gradio Chatbot and its metrics line show (pure formatting)."""

from __future__ import annotations

from typing import Any

from playground.types import PaneMetrics, PaneState

_STATUS_MARK = {"stopped": "⏹ *stopped*", "waiting": "…"}


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
    if status == "streaming":
        parts.append("streaming…")
    elif metrics.finish_reason:
        parts.append(f"finish: {metrics.finish_reason}")
    elif status == "error":
        parts.append("finish: error")
    return " · ".join(parts)


def _assistant_content(reply: str, status: str, error: str | None) -> str:
    if status == "error":
        note = f"⚠️ **{error}**"
        return f"{reply}\n\n{note}" if reply else note
    mark = _STATUS_MARK.get(status)
    if mark and not (status == "waiting" and reply):
        return f"{reply}\n\n{mark}" if reply else mark
    return reply


def chat_messages(pane: PaneState) -> list[dict[str, Any]]:
    """Messages for ``gr.Chatbot``: the transcript, then the turn in progress."""
    shown = []
    for entry in pane.transcript:
        shown.append({"role": "user", "content": entry.user})
        shown.append({"role": "assistant", "content": _assistant_content(entry.reply, entry.status, entry.error)})
    if pane.status in ("waiting", "streaming"):
        shown.append({"role": "user", "content": pane.user})
        shown.append({"role": "assistant", "content": _assistant_content(pane.reply, pane.status, None)})
    return shown
