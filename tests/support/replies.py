"""Test-server replies that say who answered what, so a test can match stored replies to panes."""

from __future__ import annotations

from tests.support.tgi_protocol import Behavior


def last_user(prompt: str) -> str:
    """The last user message of a raw ChatML prompt."""
    return prompt.rsplit("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]


def echo(name: str, **behavior: object) -> Behavior:
    """A server whose reply is ``"{name} answers: {last user message}"``."""
    return Behavior(text=lambda prompt: f"{name} answers: {last_user(prompt)}", **behavior)  # type: ignore[arg-type]
