"""One vote -> candidate DPO pairs with full provenance (pure; PROTOCOLS.md §6).

A candidate is every strictly ordered pair of panes of a vote, exactly as judged:
``chosen`` / ``rejected`` are each pane's whole assistant side of the turn (the first
generation, then for tool turns the tool results in the role the backend used and every
later generation), ``prompt`` the context the chosen pane was sent. Whether a candidate
becomes a row of an export is decided by ``quality.drop_reason``.

Example:
    >>> from playground.store.synthetic import make_turn
    >>> from playground.types import Vote
    >>> turn = make_turn(seed=2, mode="tools")
    >>> (row,) = dpo_candidates(Vote(turn.id, "v1:x", "a", ranking=((0,), (1,))), turn)
    >>> [m["role"] for m in row["chosen"]], row["same_context"], row["rank_margin"]
    (['assistant', 'tool', 'assistant'], True, 1)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from playground.hermes.chatml import merge_tool_turns
from playground.hermes.modes import editors, placeholders
from playground.hermes.presets import Preset
from playground.store.records import sampling_to_json
from playground.store.votes import Ranking, preferences
from playground.types import Message, Mode, PaneOutput, TurnRecord, Vote

ToolRoles = Mapping[str, str]  # backend id -> role its tool results were sent in ("tool" or "user")


def as_dicts(messages: Iterable[Message], tool_role: str = "tool") -> list[dict[str, str]]:
    """TRL / OpenAI message dicts; consecutive tool results merged into one turn of ``tool_role``.

    Example:
        >>> (merged,) = as_dicts([Message("tool", "1"), Message("tool", "2")], "user")
        >>> merged["role"], merged["content"].count("<tool_response>")
        ('user', 2)
    """
    merged = merge_tool_turns(list(messages), tool_response_role=tool_role)
    return [{"role": m.role, "content": m.content} for m in merged]


def assistant_side(pane: PaneOutput, tool_role: str = "tool", first: str | None = None) -> list[dict[str, str]]:
    """Everything the pane produced in its turn: its reply, then any in-turn tool loop.

    ``first`` replaces the first generation (a gold edit of the winner).

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> [m["role"] for m in assistant_side(make_turn(seed=1).panes[0])]
        ['assistant']
    """
    reply = Message("assistant", pane.output if first is None else first)
    return as_dicts([reply, *pane.followup], tool_role)


def same_context(a: PaneOutput, b: PaneOutput) -> bool:
    """True when both panes were sent the same system prompt and the same messages."""
    return a.system_prompt == b.system_prompt and a.prompt_messages == b.prompt_messages


def preset_name(system: str | None, presets: Sequence[Preset]) -> str:
    """The id of the preset this system prompt is (a template preset matches once filled in), else ``custom-<hash>``.

    ``None`` (no system turn) matches a preset without one, else is ``no-system-turn``.

    Example:
        >>> preset_name(None, [Preset("no_system", "None", None)]), preset_name("Be brief.", [])
        ('no_system', 'custom-213c22ed')
    """
    for preset in presets:
        if preset.system is None or system is None:
            if preset.system is system:
                return preset.id
        elif preset.template is None:
            if preset.system == system:
                return preset.id
        else:
            head, _, tail = preset.system.partition(placeholders()[preset.template])
            if len(system) >= len(head) + len(tail) and system.startswith(head) and system.endswith(tail):
                return preset.id
    if system is None:
        return "no-system-turn"
    return f"custom-{hashlib.sha256(system.encode()).hexdigest()[:8]}"


def configuration(pane: PaneOutput, mode: Mode, presets: Sequence[Preset]) -> str:
    """``backend · preset · mode``: what the leaderboard rates as a configuration.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> configuration(make_turn(seed=1, system_prompts=("Be brief.", None)).panes[0], "chat", [])
        'hermes-3b · custom-213c22ed · chat'
    """
    return f"{pane.backend_id} · {preset_name(pane.system_prompt, presets)} · {mode}"


def rank_margin(ranking: Ranking, chosen: int, rejected: int) -> int:
    """How many ranking groups apart two positions are (1 for an A/B vote).

    Example:
        >>> rank_margin(((0,), (2, 1), (3,)), 0, 3)
        2
    """
    rank = {p: i for i, group in enumerate(ranking) for p in group}
    return rank[rejected] - rank[chosen]


def assistant_chars(side: Sequence[Mapping[str, str]]) -> int:
    """Characters the model wrote on one side (assistant messages only, tool results excluded)."""
    return sum(len(m["content"]) for m in side if m["role"] == "assistant")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _side(prefix: str, pane: PaneOutput, mode: Mode, presets: Sequence[Preset], tokens: int | None) -> dict[str, Any]:
    return {
        f"{prefix}_model": pane.model_id or pane.backend_id,
        f"{prefix}_backend": pane.backend_id,
        f"{prefix}_config": configuration(pane, mode, presets),
        f"{prefix}_system": pane.system_prompt,
        f"{prefix}_tokens": tokens,
    }


def dpo_candidates(
    vote: Vote, turn: TurnRecord, presets: Sequence[Preset] = (), tool_roles: ToolRoles | None = None
) -> list[dict[str, Any]]:
    """Every strictly ordered pair of panes of one vote, as a full DPO row (ties and "both bad" give none).

    Besides the TRL columns, each row has ``source`` (``"human"``), ``prompt_rejected`` (the rejected pane's own
    context), ``same_context``, ``rank_margin``, the provenance of both sides (model,
    backend, configuration, system prompt, generated tokens; ``None`` tokens for a gold
    edit), and the turn's mode, sampling, tools, schema, blind flag, rater and timestamps.
    """
    roles = tool_roles or {}
    panes = {p.position: p for p in turn.panes}
    ranking: Ranking = vote.ranking or ()
    gold_at = ranking[0][0] if vote.gold_text is not None else None
    shared = {
        "source": "human",
        **{e.field: _json(getattr(turn, e.field)) for e in editors()},  # each mode editor's value: tools, json_schema
        "sampling": _json(sampling_to_json(turn.sampling)),
        "mode": turn.mode,
        "vote": vote.kind,
        "ranking": json.dumps([list(g) for g in ranking]),
        "blind": vote.blind,
        "rater": vote.user_id,
        "timestamp": _iso(vote.updated_at),
        "vote_created": _iso(vote.created_at),
        "turn_timestamp": _iso(turn.created_at),
        "turn_id": turn.id,
        "vote_id": vote.id,
    }
    rows = []
    for chosen_pos, rejected_pos in preferences(ranking):
        chosen, rejected = panes[chosen_pos], panes[rejected_pos]
        chosen_role, rejected_role = roles.get(chosen.backend_id, "tool"), roles.get(rejected.backend_id, "tool")
        edited = chosen_pos == gold_at
        rows.append({
            "prompt": as_dicts(chosen.prompt_messages, chosen_role),
            "chosen": assistant_side(chosen, chosen_role, vote.gold_text if edited else None),
            "rejected": assistant_side(rejected, rejected_role),
            "prompt_rejected": as_dicts(rejected.prompt_messages, rejected_role),
            "same_context": same_context(chosen, rejected),
            "rank_margin": rank_margin(ranking, chosen_pos, rejected_pos),
            **_side("chosen", chosen, turn.mode, presets, None if edited else chosen.metrics.tokens),
            **_side("rejected", rejected, turn.mode, presets, rejected.metrics.tokens),
            "edited": edited,
            "chosen_original": chosen.output if edited else None,
            **shared,
        })
    return rows
