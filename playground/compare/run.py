"""Run one turn across N panes at once: fan-out, merge, metrics, the tool loop, stop.

Each pane runs in its own task: check the prompt fits, stream, and in function-calling mode
answer the reply's ``<tool_call>``s and stream again, up to the depth limit. Events meet in
one queue and are applied to the panes in batches, so a slow backend never holds up a fast
one and, under load, one UI update carries every token that arrived since the last one.
Errors are values: a failing backend ends as ``status="error"`` in its own pane.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from playground.backends.base import Backend
from playground.backends.errors import BackendError
from playground.compare.budget import (
    PromptTooLong,
    TokenBudget,
    byte_bound,
    estimate_tokens,
)
from playground.compare.pacing import UpdatePacer
from playground.compare.state import Exchange, PaneState
from playground.hermes.builtin_tools import ToolContext
from playground.hermes.chatml import history_messages, merge_tool_turns, render_chatml
from playground.hermes.jsonmode import JsonCheck, check_json_reply
from playground.hermes.tool_loop import answer_tool_calls, tool_messages
from playground.hermes.tools import parse_tool_calls
from playground.types import (
    EndEvent,
    GenerationRequest,
    Message,
    PaneMetrics,
    SamplingParams,
    TokenEvent,
    ToolStep,
)

ACTIVE = ("waiting", "streaming")


class WindowLookup(Protocol):
    """Where a turn learns each backend's context window (``compare.served.ServedModels``)."""

    async def get(self, backend_id: str) -> int | None:
        """The window in tokens (prompt + new tokens), or ``None`` if nobody knows it."""


@dataclass(frozen=True)
class ToolSetup:
    """Function-calling mode: the tools offered, the depth limit, what built-ins may use."""

    tools: tuple[dict[str, Any], ...]
    max_depth: int = 5
    context: ToolContext = field(default_factory=ToolContext)


@dataclass(frozen=True)
class PaneJob:
    """One pane's part of a turn.

    ``messages`` is the full context of the next generation; ``depth`` the tool rounds
    already answered and ``elapsed_s`` the time already spent, for a turn continued after
    the user typed a tool result. ``exact_count`` asks the server for the prompt's token
    count even when it surely fits (the prompt inspector is open).
    """

    backend: Backend
    messages: tuple[Message, ...]
    params: SamplingParams
    grammar: dict[str, Any] | None = None
    tools: ToolSetup | None = None
    json_schema: dict[str, Any] | None = None
    depth: int = 0
    elapsed_s: float = 0.0
    exact_count: bool = False


@dataclass(frozen=True)
class _Generation:
    """A generation starts (``index`` 0 is the turn's first reply) with this request."""

    index: int
    request: GenerationRequest
    budget: TokenBudget


@dataclass(frozen=True)
class _ToolRound:
    """The calls of the reply just streamed, answered as far as possible."""

    steps: tuple[ToolStep, ...]


@dataclass(frozen=True)
class _Finished:
    """The pane's part is over: ``done``, or paused for a typed tool result (``tool_input``)."""

    status: str
    json_check: JsonCheck | None = None
    note: str | None = None


@dataclass(frozen=True)
class _Done:
    """Sentinel: a pane's task has ended."""


def conversation(pane: PaneState, system_prompt: str | None, user_text: str) -> list[Message]:
    """The messages a pane sends: optional system turn, its history, the new user message.

    ``system_prompt=None`` means no system turn at all; ``""`` is an empty system turn.
    """
    system = [Message("system", system_prompt)] if system_prompt is not None else []
    return [*system, *pane.history, Message("user", user_text)]


def build_request(messages: Sequence[Message], params: SamplingParams, tool_response_role: str = "tool",
                  grammar: dict[str, Any] | None = None) -> GenerationRequest:
    """Render the ChatML prompt (TGI) and the messages a chat backend gets, for one call.

    Both carry tool results the same way: consecutive results in one turn of role
    ``tool_response_role``, one ``<tool_response>`` block each. Model-written texts go back
    cut at their first special token (``chatml.history_content``); the pane keeps them exact.
    """
    messages = history_messages(messages)
    prompt = render_chatml(messages, tool_response_role=tool_response_role)
    chat = merge_tool_turns(messages, tool_response_role=tool_response_role)
    return GenerationRequest(prompt=prompt, messages=tuple(chat), params=params, grammar=grammar)


def begin(pane: PaneState, user_text: str, system_prompt: str | None = None,
          sent: Sequence[Message] = (), grammar: bool = False) -> None:
    """Reset a pane's live fields for a new turn, remembering what is being sent."""
    pane.user, pane.reply, pane.error, pane.note = user_text, "", None, None
    pane.system_prompt, pane.sent, pane.followup, pane.tool_steps = system_prompt, tuple(sent), [], []
    pane.json_check, pane.grammar, pane.budget, pane.last_request = None, grammar, None, None
    pane.status = "waiting"
    pane.metrics = PaneMetrics()


def resume(pane: PaneState) -> list[Message]:
    """Put a pane paused for tool results back to waiting; returns the context to send next.

    Raises:
        ValueError: a tool call still waits for its result.
    """
    round_ = [s for s in pane.tool_steps if s.depth == pane.tool_steps[-1].depth]
    pane.followup += tool_messages(round_)
    pane.status = "waiting"
    return [*pane.sent, Message("assistant", pane.reply), *pane.followup]


def finish(pane: PaneState, status: str, error: str | None = None) -> None:
    """End a pane's turn: keep the exchange in its transcript (and history unless it failed)."""
    pane.status, pane.error = status, error  # type: ignore[assignment]
    start = len(pane.history)
    if status in ("done", "stopped"):
        pane.history += [Message("user", pane.user), Message("assistant", pane.reply), *pane.followup]
    pane.transcript.append(Exchange(
        user=pane.user, reply=pane.reply, status=pane.status, error=error, followup=tuple(pane.followup),
        tool_steps=tuple(pane.tool_steps), metrics=pane.metrics, json_check=pane.json_check,
        grammar=pane.grammar, note=pane.note, history_start=start))


def drop_last_exchange(pane: PaneState) -> str:
    """Forget the pane's last exchange (for Regenerate); returns the user text it answered."""
    last = pane.transcript.pop()
    pane.history = pane.history[: last.history_start]
    return last.user


def stop(panes: Sequence[PaneState]) -> None:
    """Mark every pane still streaming (or waiting for a tool result) as stopped, keeping its text."""
    for pane in panes:
        if pane.status in (*ACTIVE, "tool_input"):
            pane.metrics.finish_reason = "stopped"
            finish(pane, "stopped")


def _append_text(pane: PaneState, text: str) -> None:
    """Tokens go to the first reply, or to the assistant message a tool round started."""
    if pane.followup and pane.followup[-1].role == "assistant":
        pane.followup[-1] = Message("assistant", pane.followup[-1].content + text)
    else:
        pane.reply += text


def _apply(pane: PaneState, item: object, elapsed: float) -> None:
    """Apply one event (or error) to a pane that is still active; ``elapsed`` is turn time so far."""
    if isinstance(item, TokenEvent):
        if pane.metrics.ttft_s is None:
            pane.metrics.ttft_s = elapsed
        pane.status = "streaming"
        _append_text(pane, item.text)
        pane.metrics.tokens += 1
        pane.gen_tokens += 1
    elif isinstance(item, _Generation):
        pane.last_request, pane.budget, pane.gen_tokens = item.request, item.budget, 0
        pane.metrics.generations += 1
        if item.index > 0:
            pane.followup.append(Message("assistant", ""))
    elif isinstance(item, EndEvent):
        pane.metrics.finish_reason = item.finish_reason
        if item.generated_tokens:  # the server's count (it includes EOS) wins over ours
            pane.metrics.tokens += item.generated_tokens - pane.gen_tokens
    elif isinstance(item, _ToolRound):
        pane.tool_steps += item.steps
        if not any(s.pending for s in item.steps):
            pane.followup += tool_messages(item.steps)
    elif isinstance(item, _Finished):
        pane.metrics.total_s = elapsed
        pane.json_check, pane.note = item.json_check, item.note
        if item.status == "tool_input":
            pane.status = "tool_input"
        else:
            finish(pane, "done")
    elif isinstance(item, BackendError | PromptTooLong):
        pane.metrics.total_s = elapsed
        finish(pane, "error", f"{item.title}: {item}")


async def _budget(job: PaneJob, request: GenerationRequest, window: int | None) -> TokenBudget:
    """Size the prompt: the byte bound when it surely fits, else (or when asked) a real count."""
    new = request.params.max_new_tokens
    bound = byte_bound(request.prompt)
    if not job.exact_count and (window is None or bound + new <= window):
        return TokenBudget(bound, "bound", new, window)
    counted = await job.backend.count_tokens(request)
    if counted is not None:
        return TokenBudget(counted, "tokenize", new, window)
    return TokenBudget(estimate_tokens(request.prompt), "estimate", new, window)


async def _generate(job: PaneJob, request: GenerationRequest, put: Callable[[object], None]) -> str:
    """Stream one generation into the queue; returns its text."""
    parts = []
    async for event in job.backend.stream(request):
        put(event)
        if isinstance(event, TokenEvent):
            parts.append(event.text)
    return "".join(parts)


async def _run_pane(job: PaneJob, windows: WindowLookup | None, put: Callable[[object], None]) -> None:
    """One pane's part: generate, and in tool mode answer calls and generate again."""
    spec = job.backend.spec
    messages, depth = list(job.messages), job.depth
    window = await windows.get(spec.id) if windows is not None else spec.context_window
    while True:
        request = build_request(messages, job.params, spec.tool_response_role, job.grammar)
        budget = await _budget(job, request, window)
        put(_Generation(depth, request, budget))
        if not budget.fits:
            raise PromptTooLong(budget.refusal(spec.label))
        reply = await _generate(job, request, put)
        tools = job.tools
        if tools is None or depth >= tools.max_depth:
            limited = tools is not None and bool(parse_tool_calls(reply).calls)
            note = f"tool depth limit ({depth}) reached: the last reply's calls were not run" if limited else None
            check = check_json_reply(reply, job.json_schema) if job.json_schema is not None else None
            put(_Finished("done", check, note))
            return
        steps = answer_tool_calls(reply, tools.tools, depth + 1, tools.context)
        if not steps:
            put(_Finished("done"))
            return
        put(_ToolRound(tuple(steps)))
        depth += 1
        if any(s.pending for s in steps):
            put(_Finished("tool_input"))
            return
        messages += [Message("assistant", reply), *tool_messages(steps)]


async def _pump(index: int, job: PaneJob, windows: WindowLookup | None,
                queue: asyncio.Queue[tuple[int, object]], wake: asyncio.Event,
                sent: dict[int, float], clock: Callable[[], float]) -> None:
    """Run one pane into the shared queue; every failure becomes a queued value.

    Sets ``wake`` for what should not wait for the pacer: anything but a token, and the first token.
    Notes in ``sent`` when the pane's first request goes out (after any /info or /tokenize call).
    """
    tokens = 0

    def put(item: object) -> None:
        nonlocal tokens
        if isinstance(item, _Generation):
            sent.setdefault(index, clock())
        queue.put_nowait((index, item))
        if isinstance(item, TokenEvent):
            tokens += 1
        if tokens == 1 or not isinstance(item, TokenEvent | _Generation):
            wake.set()

    try:
        await _run_pane(job, windows, put)
    except (BackendError, PromptTooLong) as exc:
        put(exc)
    except Exception as exc:  # noqa: BLE001 — a bug in one pane must not end the others
        put(BackendError(f"Unexpected {type(exc).__name__}: {exc}", "Please report this."))
    finally:
        put(_Done())


def _shown_chars(panes: Sequence[PaneState]) -> int:
    """The reply text the panes show in this turn (what the page redraws on each update)."""
    return sum(len(p.reply) + sum(len(m.content) for m in p.followup) for p in panes)


async def _hold(wake: asyncio.Event, seconds: float) -> None:
    """Wait up to ``seconds`` (from the pacer), or until something sets ``wake``."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await wake.wait()


async def run_turn(jobs: Sequence[PaneJob], panes: Sequence[PaneState], windows: WindowLookup | None = None,
                   clock: Callable[[], float] = time.perf_counter, pacer: UpdatePacer | None = None,
                   announce: bool = False) -> AsyncIterator[Sequence[PaneState]]:
    """Stream every job into its pane at once, yielding the panes after each batch of events (and, if
    ``announce``, once as soon as the streams have started: the page shows the waiting panes while the
    requests are on their way, not before they leave).

    Panes must have been prepared with :func:`begin` (or :func:`resume`). With a ``pacer``,
    tokens are held until its interval (longer as the replies grow) has passed since the previous yield; a pane's first
    token, a tool round, an error or an end is shown at once (at least ``urgent_gap_s`` after the previous yield),
    with whatever was held.
    Closing this generator (or cancelling the task iterating it) cancels every stream, which
    closes its HTTP connection.
    """
    queue: asyncio.Queue[tuple[int, object]] = asyncio.Queue()
    wake = asyncio.Event()
    started = clock()
    sent: dict[int, float] = {}  # a pane's timings (TTFT, total) count from its first request, not from setup
    tasks = [asyncio.create_task(_pump(i, job, windows, queue, wake, sent, clock)) for i, job in enumerate(jobs)]
    running, last_yield = len(tasks), -math.inf
    try:
        if announce:
            yield panes
        with pacer.turn() if pacer is not None else contextlib.nullcontext():
            while running:
                batch = [await queue.get()]
                if pacer is not None:
                    await _hold(wake, last_yield + pacer.interval_s(_shown_chars(panes)) - clock())
                    if (gap := last_yield + pacer.urgent_gap_s - clock()) > 0:
                        await asyncio.sleep(gap)
                while not queue.empty():
                    batch.append(queue.get_nowait())
                wake.clear()  # everything that set it is in this batch
                now = clock()
                for index, item in batch:
                    pane, elapsed = panes[index], jobs[index].elapsed_s + now - sent.get(index, started)
                    if isinstance(item, _Done):
                        running -= 1
                        if pane.status in ACTIVE:  # ended without a result or an error
                            _apply(pane, BackendError("The stream ended without a result.", "Try again."), elapsed)
                    elif pane.status in ACTIVE:
                        _apply(pane, item, elapsed)
                yield panes
                last_yield = clock()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def awaiting_tool(pane: PaneState) -> ToolStep | None:
    """The first tool call of a paused pane that still needs a typed result."""
    return next((s for s in pane.tool_steps if s.pending), None) if pane.status == "tool_input" else None

