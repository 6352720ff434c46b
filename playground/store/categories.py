"""Category of a turn, from its first user message: a small hand-written keyword/regex rule set.

Hand-written because the leaderboard must run anywhere without downloading a classifier
model; the rules are few, ordered and readable, and a turn gets exactly one category:

1. ``function calling``: the turn ran in function-calling mode (its ``category`` in
   ``hermes/modes.py``), or the message asks to call a function / tool / API;
2. ``coding``: a code fence, or programming words (python, javascript, sql, regex, bug,
   compile, stack trace, ``def``/``class``/``import`` lines …);
3. ``math``: arithmetic between numbers, or maths words (solve, equation, integral,
   derivative, probability, prove, theorem …);
4. ``reasoning``: puzzles and logic (riddle, puzzle, logic, deduce, step by step, "which is
   heavier" …);
5. ``creative/roleplay``: write a story / poem / song …, roleplay, pretend, "you are" a
   character, in character;
6. ``other``: none of the above.
"""

from __future__ import annotations

import re

from playground.hermes.modes import find_mode

CATEGORIES: tuple[str, ...] = ("function calling", "coding", "math", "reasoning", "creative/roleplay", "other")

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("function calling", re.compile(
        r"\b(?:call|use|invoke)\s+(?:the\s+|a\s+)?(?:function|tool|api)s?\b|\bfunction[- ]calling\b|\btool[- ]call",
        re.IGNORECASE)),
    ("coding", re.compile(
        r"```|\b(?:python|javascript|typescript|java|rust|golang|c\+\+|sql|regex|html|css|bash|json schema|"
        r"code|coding|bug|debug|compile[rsd]?|stack ?trace|traceback|function|algorithm|refactor|unit tests?)\b|"
        r"^\s*(?:def|class|import|from\s+\S+\s+import|#include|SELECT)\b", re.IGNORECASE | re.MULTILINE)),
    ("math", re.compile(
        r"\d\s*[-+*/^×÷=]\s*\d|\b(?:solve|equation|integral|derivative|probability|calculate|compute|prove|"
        r"proof|theorem|algebra|geometry|matrix|percent(?:age)?|square root|how many|sum of)\b", re.IGNORECASE)),
    ("reasoning", re.compile(
        r"\b(?:riddle|puzzle|logic(?:al)?|deduce|infer|step[- ]by[- ]step|reason(?:ing)?|which is heavier|"
        r"true or false|paradox|if .{1,80} then)\b", re.IGNORECASE)),
    ("creative/roleplay", re.compile(
        r"\b(?:write|compose|tell)\s+(?:me\s+)?(?:a|an|the|some)?\s*(?:short\s+)?"
        r"(?:story|poem|song|haiku|limerick|sonnet|tale|script|lyrics)\b|\brole-?play|\bpretend\b|\bin character\b|"
        r"\b(?:act|speak|talk)\s+(?:as|like)\b|\byou are (?:a|an)\s+\w+|\bimagine\b|\bfiction", re.IGNORECASE)),
)


def categorise(first_user_message: str, mode: str = "chat") -> str:
    """The category of a turn (see the module docstring for the rules, first match wins).

    Example:
        >>> categorise("Fix this Python bug"), categorise("What is 12 * 7?"), categorise("hi", "tools")
        ('coding', 'math', 'function calling')
        >>> categorise("Write a poem about the sea"), categorise("Hello there")
        ('creative/roleplay', 'other')
    """
    spec = find_mode(mode)
    if spec is not None and spec.category is not None:  # a mode may fix its turns' category
        return spec.category
    for name, pattern in _RULES:
        if pattern.search(first_user_message):
            return name
    return "other"
