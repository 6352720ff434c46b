"""A judge's reply -> its verdict on the pair as shown, then on pane positions (pure).

The reply is read with JSON mode's own extraction and schema validation
(``hermes.jsonmode.check_json_reply``); anything unparseable or invalid is a ``Reading`` with
no winner and the error said — never a guessed verdict.

Example:
    >>> from playground.judging.prompts import JudgePrompt
    >>> p = JudgePrompt("p", "P", "pairwise", "", '{"type": "object", "required": ["winner"]}')
    >>> read_verdict('{"rationale": "B is exact.", "winner": "B"}', p).winner, to_positions("B", swapped=True)
    ('B', 'a')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from playground.hermes.jsonmode import check_json_reply
from playground.judging.prompts import JudgePrompt
from playground.store.judgements import Verdict

Shown = Literal["A", "B", "tie"]


@dataclass(frozen=True)
class Reading:
    """The judge's verdict on the order it was shown (``None`` with ``error`` when unusable)."""

    winner: Shown | None
    rationale: str | None = None
    error: str | None = None


def read_verdict(raw: str, prompt: JudgePrompt) -> Reading:
    """Parse and validate one reply against the prompt's schema; a ``single`` prompt's scores decide the winner.

    Example:
        >>> from playground.judging.prompts import JudgePrompt
        >>> single = JudgePrompt("s", "S", "single", "", '{"type": "object"}')
        >>> read_verdict('{"rationale": "ok", "score_A": 4, "score_B": 9}', single)
        Reading(winner='B', rationale='ok (A 4/10, B 9/10)', error=None)
        >>> read_verdict("I prefer A.", single).error
        'no JSON value found in the reply'
    """
    check = check_json_reply(raw, prompt.schema)
    if not check.valid:
        where = f" at {check.path}" if check.path and check.path != "$" else ""
        return Reading(None, error=f"{check.reason}{where}")
    value = check.value
    if not isinstance(value, dict):
        return Reading(None, error="the verdict is not a JSON object")
    rationale = value.get("rationale") if isinstance(value.get("rationale"), str) else None
    if prompt.kind == "single":
        a, b = value.get("score_A"), value.get("score_B")
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in (a, b)):
            return Reading(None, rationale, "score_A and score_B must both be whole numbers")
        winner: Shown = "A" if a > b else "B" if b > a else "tie"  # type: ignore[operator]
        return Reading(winner, f"{rationale or ''} (A {a}/10, B {b}/10)".strip(), None)
    if value.get("winner") not in ("A", "B", "tie"):
        return Reading(None, rationale, f"winner must be \"A\", \"B\" or \"tie\", got {value.get('winner')!r}")
    return Reading(value["winner"], rationale, None)


def to_positions(shown: Shown | None, *, swapped: bool) -> Verdict | None:
    """The shown verdict on the pair's positions: ``"a"`` = ``pos_a`` won (``swapped``: ``pos_b`` was shown as A).

    Example:
        >>> to_positions("A", swapped=False), to_positions("A", swapped=True), to_positions("tie", swapped=True)
        ('a', 'b', 'tie')
    """
    if shown is None:
        return None
    if shown == "tie":
        return "tie"
    return "a" if (shown == "A") != swapped else "b"
