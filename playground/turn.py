"""Run one turn across N panes at once: fan-out, merge, metrics, stop.

Each pane streams in its own task; events meet in one queue and are applied to the panes
in batches, so a slow backend never holds up a fast one and, under load, one UI update
carries every token that arrived since the last one. Errors are values: a failing backend
ends as ``status="error"`` in its own pane while the others go on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from playground.backends.base import Backend
from playground.backends.errors import BackendError
from playground.hermes.chatml import render_chatml
from playground.types import (
    EndEvent,
    GenerationRequest,
    Message,
    PaneMetrics,
    PaneState,
    SamplingParams,
    TokenEvent,
)

ACTIVE = ("waiting", "streaming")


@dataclass(frozen=True)
class PaneJob:
    """One pane's part of a turn: where to send what."""

    backend: Backend
    request: GenerationRequest


@dataclass(frozen=True)
class _Done:
    """Sentinel: a pane's stream task has ended."""


def conversation(pane: PaneState, system_prompt: str | None, user_text: str) -> list[Message]:
    """The messages a pane sends: optional system turn, its history, the new user message.

    ``system_prompt=None`` means no system turn at all; ``""`` is an empty system turn.
    """
    system = [Message("system", system_prompt)] if system_prompt is not None else []
    return [*system, *pane.history, Message("user", user_text)]


def build_request(messages: Sequence[Message], params: SamplingParams, tool_response_role: str = "tool",
                  grammar: dict | None = None) -> GenerationRequest:
    """Render the ChatML prompt (TGI) and keep the messages (chat backends) for one call."""
    prompt = render_chatml(messages, tool_response_role=tool_response_role)
    return GenerationRequest(prompt=prompt, messages=tuple(messages), params=params, grammar=grammar)


def begin(pane: PaneState, user_text: str, system_prompt: str | None = None,
          sent: Sequence[Message] = ()) -> None:
    """Reset a pane's live fields for a new turn, remembering what is being sent."""
    pane.user, pane.reply, pane.error = user_text, "", None
    pane.system_prompt, pane.sent, pane.followup = system_prompt, tuple(sent), []
    pane.status = "waiting"
    pane.metrics = PaneMetrics()


def finish(pane: PaneState, status: str, error: str | None = None) -> None:
    """End a pane's turn: record the exchange in its transcript (and history unless it failed)."""
    pane.status, pane.error = status, error  # type: ignore[assignment]
    pane.transcript.append({"role": "user", "content": pane.user})
    pane.transcript.append({"role": "assistant", "content": pane.reply, "status": status, "error": error,
                            "metrics": pane.metrics})
    if status in ("done", "stopped"):
        pane.history += [Message("user", pane.user), Message("assistant", pane.reply)]


def stop(panes: Sequence[PaneState]) -> None:
    """Mark every pane still streaming as stopped, keeping its partial reply."""
    for pane in panes:
        if pane.status in ACTIVE:
            pane.metrics.finish_reason = "stopped"
            finish(pane, "stopped")


def _apply(pane: PaneState, item: object, started: float, now: float) -> None:
    """Apply one stream event (or error) to a pane that is still active."""
    if isinstance(item, TokenEvent):
        if pane.metrics.ttft_s is None:
            pane.metrics.ttft_s = now - started
            pane.status = "streaming"
        pane.reply += item.text
        pane.metrics.tokens += 1
        return
    pane.metrics.total_s = now - started
    if isinstance(item, EndEvent):
        pane.metrics.finish_reason = item.finish_reason
        pane.metrics.tokens = item.generated_tokens or pane.metrics.tokens
        finish(pane, "done")
    elif isinstance(item, BackendError):
        finish(pane, "error", f"{item.title}: {item}")


async def _pump(index: int, job: PaneJob, queue: asyncio.Queue[tuple[int, object]]) -> None:
    """Stream one pane into the shared queue; every failure becomes a queued value."""
    try:
        async for event in job.backend.stream(job.request):
            queue.put_nowait((index, event))
    except BackendError as exc:
        queue.put_nowait((index, exc))
    except Exception as exc:  # noqa: BLE001 — a bug in one pane must not end the others
        queue.put_nowait((index, BackendError(f"Unexpected {type(exc).__name__}: {exc}", "Please report this.")))
    finally:
        queue.put_nowait((index, _Done()))


async def run_turn(jobs: Sequence[PaneJob], panes: Sequence[PaneState],
                   clock: Callable[[], float] = time.perf_counter) -> AsyncIterator[Sequence[PaneState]]:
    """Stream every job into its pane at once, yielding the panes after each batch of events.

    Panes must have been prepared with :func:`begin`. Closing this generator (or cancelling
    the task iterating it) cancels every stream, which closes its HTTP connection.
    """
    queue: asyncio.Queue[tuple[int, object]] = asyncio.Queue()
    started = clock()
    tasks = [asyncio.create_task(_pump(i, job, queue)) for i, job in enumerate(jobs)]
    running = len(tasks)
    try:
        while running:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            now = clock()
            for index, item in batch:
                if isinstance(item, _Done):
                    running -= 1
                    if panes[index].status in ACTIVE:  # ended without an end event or error
                        _apply(panes[index], BackendError("The stream ended without a result.", "Try again."), started, now)
                elif panes[index].status in ACTIVE:
                    _apply(panes[index], item, started, now)
            yield panes
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
