"""Finished pane states -> the ``TurnRecord`` the preference store keeps (pure).

Example:
    >>> from playground.types import Message
    >>> from playground.compare.state import PaneState
    >>> a = PaneState("alpha", "Alpha", sent=(Message("user", "hi"),), reply="hello", status="done")
    >>> b = PaneState("beta", "Beta", sent=(Message("user", "hi"),), reply="hey", status="done")
    >>> record = turn_record([a, b], ["org/alpha", "org/beta"], user_id="u")
    >>> [p.output for p in record.panes], record.messages
    (['hello', 'hey'], (Message(role='user', content='hi'),))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from playground.compare.state import PaneState
from playground.types import Message, Mode, PaneOutput, SamplingParams, TurnRecord

FINISHED = ("done", "error", "stopped")


def is_finished(panes: Sequence[PaneState]) -> bool:
    """True when every pane's turn has ended (done, failed or stopped).

    Example:
        >>> is_finished([PaneState("a", "A", status="done"), PaneState("b", "B", status="streaming")])
        False
    """
    return bool(panes) and all(p.status in FINISHED for p in panes)


def shared_messages(panes: Sequence[PaneState]) -> tuple[Message, ...]:
    """The conversation the user typed: every user message of the pane with the longest context.

    System prompts, assistant replies and tool results are per pane (each pane keeps them
    in its own ``prompt_messages``). A pane whose backend changed mid-conversation started
    afresh, so the longest context is the whole conversation.
    """
    if not panes:
        return ()
    longest = max(panes, key=lambda p: len(p.sent))
    return tuple(m for m in longest.sent if m.role == "user")


def pane_output(position: int, pane: PaneState, model_id: str, started: datetime, now: datetime) -> PaneOutput:
    """One pane's finished turn, with exactly what it was sent.

    Panes of a turn start together (``started``); a pane finished after its own duration,
    or ``now`` when it has none (stopped before its stream ended).
    """
    total = pane.metrics.total_s
    return PaneOutput(position=position, backend_id=pane.backend_id, model_id=model_id, label=pane.label,
                      system_prompt=pane.system_prompt, prompt_messages=tuple(pane.sent), output=pane.reply,
                      status=pane.status, error=pane.error, followup=tuple(pane.followup),
                      metrics=replace(pane.metrics),
                      started_at=started, finished_at=started + timedelta(seconds=total) if total is not None else now)


def turn_record(panes: Sequence[PaneState], model_ids: Sequence[str], *, user_id: str,
                mode: Mode = "chat", sampling: SamplingParams | None = None,
                tools: Sequence[dict[str, Any]] | None = None, json_schema: dict[str, Any] | None = None,
                blind: bool = False, now: datetime | None = None, turn_id: str = "") -> TurnRecord:
    """Build the record of one finished turn; pane positions are the display order, left to right.

    ``model_ids[i]`` is what pane ``i``'s server reported (or was configured with); ``now``
    is when the last pane finished; ``turn_id`` the id made when the turn started (the store
    makes one when it is empty). In blind mode the models were assigned to the panes at
    random, so the display order already is the shuffled order.
    """
    if len(model_ids) != len(panes):
        raise ValueError(f"{len(panes)} panes but {len(model_ids)} model ids")
    now = now or datetime.now(UTC)
    longest = max((p.metrics.total_s or 0.0 for p in panes), default=0.0)
    started = now - timedelta(seconds=longest)
    outputs = tuple(pane_output(i, pane, model_id, started, now)
                    for i, (pane, model_id) in enumerate(zip(panes, model_ids, strict=True)))
    return TurnRecord(user_id=user_id, mode=mode, panes=outputs,
                      messages=shared_messages(panes), sampling=sampling or SamplingParams(),
                      tools=tuple(tools) if tools else None, json_schema=json_schema, blind=blind,
                      pane_order=tuple(range(len(panes))), id=turn_id, created_at=now)

