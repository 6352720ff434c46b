"""Does a prompt fit the backend's context window? (pure arithmetic, checked before sending)

TGI refuses ``input tokens + max_new_tokens > max_total_tokens`` with a 422; the playground
refuses first and says by how much the turn is over. The UTF-8 byte length (+1 for BOS) is a
hard upper bound on the token count of a byte-level BPE tokenizer such as Llama 3's, so a
prompt whose bound fits needs no ``/tokenize`` round trip; only a prompt near the limit is
counted exactly (TGI) or estimated (chat backends, which have no common tokenize route).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

CountSource = Literal["tokenize", "bound", "estimate"]
CHARS_PER_TOKEN = 4.0  # Llama 3 averages about 4 characters of English per token

_SOURCE_LABEL = {"tokenize": "counted by the server's /tokenize", "bound": "upper bound: UTF-8 bytes + BOS",
                 "estimate": "estimate: characters / 4"}


def byte_bound(prompt: str) -> int:
    """Most tokens the prompt can be: one per UTF-8 byte, plus the BOS the server adds.

    Example:
        >>> byte_bound("héllo")
        7
    """
    return len(prompt.encode("utf-8")) + 1


def estimate_tokens(prompt: str) -> int:
    """A labelled estimate for backends without a tokenizer route.

    Example:
        >>> estimate_tokens("x" * 10)
        4
    """
    return math.ceil(len(prompt) / CHARS_PER_TOKEN) + 1


class PromptTooLong(Exception):
    """Refused before sending (never a backend's answer): prompt + max new tokens exceed the context window.

    The message (``TokenBudget.refusal``) says by how much and what to do; the pane shows it after ``title``.
    """

    title = "Prompt too long"


@dataclass(frozen=True)
class TokenBudget:
    """A prompt's size against a context window (``window=None``: unknown, never refused)."""

    prompt_tokens: int
    source: CountSource
    max_new_tokens: int
    window: int | None

    @property
    def over(self) -> int:
        """Tokens beyond the window (0 or less: it fits)."""
        return 0 if self.window is None else self.prompt_tokens + self.max_new_tokens - self.window

    @property
    def fits(self) -> bool:
        """True when prompt + max new tokens stay within the window."""
        return self.over <= 0

    def describe(self) -> str:
        """One line for the inspector.

        Example:
            >>> TokenBudget(1000, "tokenize", 750, 8192).describe()
            "1,000 prompt tokens (counted by the server's /tokenize) + 750 max new = 1,750 of 8,192 · 6,442 left"
        """
        used = self.prompt_tokens + self.max_new_tokens
        size = "≤ " if self.source == "bound" else ("≈ " if self.source == "estimate" else "")
        head = (f"{size}{self.prompt_tokens:,} prompt tokens ({_SOURCE_LABEL[self.source]}) "
                f"+ {self.max_new_tokens:,} max new = {size}{used:,}")
        if self.window is None:
            return f"{head} · context window unknown"
        return f"{head} of {self.window:,} · " + (f"{-self.over:,} left" if self.fits else f"{self.over:,} over")

    def refusal(self, label: str) -> str:
        """The message shown instead of sending a turn that does not fit."""
        return (f"The prompt for {label} does not fit its context window: {self.describe()}. "
                "Shorten the conversation (Clear, or a shorter system prompt), lower Max new tokens, "
                "or use a backend with a larger window.")
