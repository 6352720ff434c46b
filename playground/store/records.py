"""Conversions between the shared dataclasses and plain JSON-ready dicts / table rows.

Pure functions; ``db`` uses them to write and read rows, ``export`` never needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from playground.types import Message, PaneMetrics, PaneOutput, SamplingParams, TurnRecord, Vote


def messages_to_json(messages: Iterable[Message]) -> list[dict[str, str]]:
    """``[Message("user", "hi")]`` -> ``[{"role": "user", "content": "hi"}]``."""
    return [{"role": m.role, "content": m.content} for m in messages]


def messages_from_json(data: Iterable[Mapping[str, Any]] | None) -> tuple[Message, ...]:
    """Inverse of ``messages_to_json``; ``None`` reads as no messages."""
    return tuple(Message(m["role"], m["content"]) for m in data or ())


def sampling_to_json(params: SamplingParams) -> dict[str, Any]:
    """Sampling parameters as a JSON object (``stop`` as a list)."""
    data = asdict(params)
    data["stop"] = list(params.stop)
    return data


def sampling_from_json(data: Mapping[str, Any] | None) -> SamplingParams:
    """Inverse of ``sampling_to_json``; unknown keys (from newer versions) are ignored."""
    if not data:
        return SamplingParams()
    known = SamplingParams.__dataclass_fields__
    kwargs = {k: v for k, v in data.items() if k in known}
    if "stop" in kwargs:
        kwargs["stop"] = tuple(kwargs["stop"] or ())
    return SamplingParams(**kwargs)


def turn_row(turn: TurnRecord) -> dict[str, Any]:
    """The ``turns`` table row for a record whose ``id`` and ``created_at`` are set."""
    return {
        "id": turn.id,
        "user_id": turn.user_id,
        "created_at": turn.created_at,
        "mode": turn.mode,
        "messages": messages_to_json(turn.messages),
        "tools": list(turn.tools) if turn.tools is not None else None,
        "json_schema": turn.json_schema,
        "sampling": sampling_to_json(turn.sampling),
        "blind": turn.blind,
        "pane_order": list(turn.pane_order) or [p.position for p in turn.panes],
        "n_panes": len(turn.panes),
    }


def pane_row(turn_id: str, pane: PaneOutput) -> dict[str, Any]:
    """The ``turn_panes`` table row for one pane."""
    m = pane.metrics
    return {
        "turn_id": turn_id,
        "position": pane.position,
        "backend_id": pane.backend_id,
        "model_id": pane.model_id,
        "label": pane.label,
        "system_prompt": pane.system_prompt,
        "prompt_messages": messages_to_json(pane.prompt_messages),
        "output": pane.output,
        "followup": messages_to_json(pane.followup),
        "status": pane.status,
        "error": pane.error,
        "ttft_s": m.ttft_s,
        "total_s": m.total_s,
        "tokens": m.tokens,
        "tokens_per_s": m.tokens_per_s,
        "finish_reason": m.finish_reason,
        "started_at": pane.started_at,
        "finished_at": pane.finished_at,
    }


def pane_from_row(row: Mapping[str, Any]) -> PaneOutput:
    """Inverse of ``pane_row`` (``row`` may carry extra keys)."""
    return PaneOutput(
        position=row["position"],
        backend_id=row["backend_id"],
        model_id=row["model_id"],
        label=row["label"],
        system_prompt=row["system_prompt"],
        prompt_messages=messages_from_json(row["prompt_messages"]),
        output=row["output"],
        status=row["status"],
        error=row["error"],
        followup=messages_from_json(row["followup"]),
        metrics=PaneMetrics(
            ttft_s=row["ttft_s"], total_s=row["total_s"], tokens=row["tokens"] or 0, finish_reason=row["finish_reason"]
        ),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def turn_from_row(row: Mapping[str, Any], panes: Iterable[PaneOutput]) -> TurnRecord:
    """Inverse of ``turn_row`` plus its panes."""
    tools = row["tools"]
    return TurnRecord(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        mode=row["mode"],
        panes=tuple(panes),
        messages=messages_from_json(row["messages"]),
        sampling=sampling_from_json(row["sampling"]),
        tools=tuple(tools) if tools is not None else None,
        json_schema=row["json_schema"],
        blind=bool(row["blind"]),
        pane_order=tuple(row["pane_order"] or ()),
    )


def vote_from_row(row: Mapping[str, Any]) -> Vote:
    """A ``Vote`` from a ``votes`` row (column names as in ``db.votes``)."""
    ranking = row["ranking"]
    return Vote(
        id=row["id"],
        turn_id=row["turn_id"],
        user_id=row["user_id"],
        kind=row["kind"],
        ranking=tuple(tuple(g) for g in ranking) if ranking is not None else None,
        blind=bool(row["blind"]),
        gold_text=row["gold_text"],
        gold_original=row["gold_original"],
        terms_version=row.get("terms_version"),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
