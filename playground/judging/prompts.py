"""Judge prompt presets (``assets/judge/*.toml``) and the judge's view of one pair (pure; no I/O but the loaders).

A preset has ``id``, ``title``, ``kind`` (``pairwise``: a verdict with a short rationale;
``single``: a 1–10 score for each reply; ``reference``: a verdict guided by a rater's gold
edit), ``instructions`` and ``schema`` (JSON Schema text of the verdict object). The system
prompt is Hermes' JSON-mode template exactly (PROTOCOLS.md §3) with that schema; the
instructions, the conversation and the two answers go in the user message. The answers are
always "Assistant A" / "Assistant B": the judge never sees a label, backend or model id.

Example:
    >>> p = JudgePrompt("pairwise", "P", "pairwise", "Judge.", '{"type": "object"}')
    >>> p.version, judge_messages(p, JudgeCase((Message("user", "Hi"),), None, ("Hello",), ("Hey",)))[0].role
    ('pairwise@e2f9123a', 'system')
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from playground.hermes.chatml import find_special_token, history_content
from playground.hermes.jsonmode import render_json_system_prompt
from playground.types import Message

Kind = Literal["pairwise", "single", "reference"]
KINDS = ("pairwise", "single", "reference")
_KEYS = {"id", "title", "kind", "instructions", "schema", "source"}


class JudgePromptError(ValueError):
    """A judge prompt file is malformed; the message names the file and what to fix."""


@dataclass(frozen=True)
class JudgePrompt:
    """One judging prompt: what the judge is told and the JSON Schema its verdict must match."""

    id: str
    title: str
    kind: Kind
    instructions: str
    schema_text: str
    source: str = ""

    @property
    def schema(self) -> dict[str, Any]:
        """The verdict's JSON Schema as a dict."""
        return json.loads(self.schema_text)

    @property
    def version(self) -> str:
        """``id@`` + the first 8 hex digits of sha256 over the instructions and schema text."""
        text = f"{self.instructions}\n{self.schema_text}"
        return f"{self.id}@{hashlib.sha256(text.encode()).hexdigest()[:8]}"

    @property
    def system(self) -> str:
        """Hermes' JSON-mode system prompt holding the verdict schema."""
        return render_json_system_prompt(self.schema_text)


@dataclass(frozen=True)
class JudgeCase:
    """What the judge is shown of one pair in one order.

    ``context`` is the conversation up to the user's last message (no system turn);
    ``system`` the system prompt both panes had, or ``None`` when none was shared;
    ``first`` / ``second`` the assistant side of the panes shown as A and B (the reply, and in
    tool turns the tool results and later replies); ``reference`` a rater's gold answer.
    """

    context: tuple[Message, ...]
    system: str | None
    first: tuple[str, ...]
    second: tuple[str, ...]
    reference: str | None = None
    note: str | None = None


def parse_judge_prompt(data: Mapping[str, Any], *, origin: str = "<judge prompt>") -> JudgePrompt:
    """A :class:`JudgePrompt` from one TOML table, every key and the schema checked.

    Raises:
        JudgePromptError: unknown or missing keys, an unknown kind, a schema that is not a JSON
            object, or a special token in the text.
    """
    unknown = set(data) - _KEYS
    missing = {"id", "kind", "instructions", "schema"} - set(data)
    if unknown or missing:
        problems = ([f"unknown keys {sorted(unknown)}"] if unknown else []) + (
            [f"missing keys {sorted(missing)}"] if missing else [])
        raise JudgePromptError(f"{origin}: " + "; ".join(problems))
    if data["kind"] not in KINDS:
        raise JudgePromptError(f"{origin}: kind {data['kind']!r} is not one of {', '.join(KINDS)}")
    try:
        schema = json.loads(str(data["schema"]))
    except json.JSONDecodeError as exc:
        raise JudgePromptError(f"{origin}: schema is not valid JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise JudgePromptError(f"{origin}: schema must be a JSON object")
    for key in ("instructions", "schema"):
        hit = find_special_token(str(data[key]))
        if hit:
            raise JudgePromptError(f"{origin}: {key} holds the special token {hit[0]!r}; remove it")
    return JudgePrompt(str(data["id"]), str(data.get("title", data["id"])), data["kind"], str(data["instructions"]),
                       str(data["schema"]).strip(), str(data.get("source", "")))


def load_judge_prompt(path: Path) -> JudgePrompt:
    """Read one judge prompt file (a preset, or an operator's edited copy).

    Raises:
        JudgePromptError: the file is missing, not TOML, or malformed.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JudgePromptError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise JudgePromptError(f"{path}: {exc}") from None
    return parse_judge_prompt(data, origin=str(path))


def judge_presets(directory: Path) -> dict[str, JudgePrompt]:
    """Every preset in ``directory`` (``assets/judge``), by id."""
    return {p.id: p for p in map(load_judge_prompt, sorted(directory.glob("*.toml")))}


def _conversation(case: JudgeCase) -> str:
    parts = [f"### System\n{case.system}"] if case.system else []
    parts += [f"### {m.role.title()}\n{m.content}" for m in case.context]
    return "\n\n".join(parts)


def _answer(side: Sequence[str]) -> str:
    return "\n\n".join(side)


def judge_user_message(prompt: JudgePrompt, case: JudgeCase) -> str:
    """The user message: instructions, the conversation, Assistant A's and B's answers (and the reference).

    Example:
        >>> p = JudgePrompt("x", "X", "pairwise", "Judge.", "{}")
        >>> "[The Start of Assistant B's Answer]\\nHey" in judge_user_message(p, JudgeCase((), None, ("Hi",), ("Hey",)))
        True
    """
    blocks = [prompt.instructions,
              f"[The Start of the Conversation]\n{_conversation(case)}\n[The End of the Conversation]"]
    if case.note:
        blocks.append(case.note)
    if case.reference is not None:
        blocks.append(f"[The Start of the Reference Answer]\n{case.reference}\n[The End of the Reference Answer]")
    for name, side in (("A", case.first), ("B", case.second)):
        blocks.append(f"[The Start of Assistant {name}'s Answer]\n{_answer(side)}\n"
                      f"[The End of Assistant {name}'s Answer]")
    blocks.append("Answer with the JSON object only.")
    return "\n\n".join(blocks)


def judge_messages(prompt: JudgePrompt, case: JudgeCase) -> list[Message]:
    """System (JSON mode with the verdict schema) and user message for one judging call.

    The case's model-written texts must already be cut at their first special token
    (:func:`side_texts`, ``chatml.history_messages``), as history is.
    """
    return [Message("system", prompt.system), Message("user", judge_user_message(prompt, case))]


def side_texts(messages: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    """A pane's assistant side as the judge reads it: replies as written, tool results labelled.

    Example:
        >>> side_texts([{"role": "assistant", "content": "<tool_call>…"},
        ...             {"role": "tool", "content": "<tool_response>…"}])
        ('<tool_call>…', '[Tool results]\\n<tool_response>…')
    """
    return tuple(history_content(m["content"]) if m["role"] == "assistant"
                 else f"[Tool results]\n{history_content(m['content'])}" for m in messages)


def choose_judge_prompt(preset: str, prompt_file: Path | None, directory: Path) -> JudgePrompt:
    """The operator's edited prompt file when given, else the preset ``preset`` from ``directory``.

    Raises:
        JudgePromptError: the file or preset is malformed, or no preset has that id.
    """
    if prompt_file is not None:
        return load_judge_prompt(prompt_file)
    presets = judge_presets(directory)
    if preset not in presets:
        raise JudgePromptError(f"no judge prompt preset {preset!r} in {directory}; use one of: {', '.join(presets)}")
    return presets[preset]
