"""Judging off the streaming path: stored turns wait in a queue that a few background tasks work through.

The app owns one ``JudgeQueue``. ``submit`` returns at once (it never awaits), so storing a
turn or a vote is never delayed by the judge; the workers start lazily on the running event
loop at the first submit. Load is bounded three ways: the judge's own request limit
(``--judge-concurrency``), a wait while the process's turns are at capacity (``Judge.busy``),
and a bounded queue (a turn that does not fit is logged and left for a batch run).
"""

from __future__ import annotations

import asyncio
import logging

from playground.judging.runner import Judge, judged_positions
from playground.store.db import Store, get_turn
from playground.store.judgements import Judgement, gold_references, save_judgement

log = logging.getLogger(__name__)
MAX_WAITING = 1000


async def judge_turn(judge: Judge, store: Store, turn_id: str,
                     skip: frozenset[tuple[str, int, int]] = frozenset()) -> list[Judgement]:
    """Judge every pair of one stored turn (pairs concurrently) and store each judgement; return them.

    A reference-guided prompt judges only turns with a gold edit (others give nothing).
    """
    turn = await asyncio.to_thread(get_turn, store, turn_id)
    reference = None
    if judge.prompt.kind == "reference":
        reference = (await asyncio.to_thread(gold_references, store, [turn_id])).get(turn_id)
        if reference is None:
            return []

    async def one(pos_a: int, pos_b: int) -> Judgement:
        judgement = await judge.judge_pair(turn, pos_a, pos_b, reference)
        return await asyncio.to_thread(save_judgement, store, judgement)

    pairs = [(a, b) for a, b in judged_positions(turn) if (turn_id, a, b) not in skip]
    return list(await asyncio.gather(*(one(a, b) for a, b in pairs)))


class JudgeQueue:
    """Stored turns waiting for the judge, and the worker tasks judging them (one queue per app)."""

    def __init__(self, judge: Judge, store: Store, max_waiting: int = MAX_WAITING) -> None:
        self.judge, self.store, self.max_waiting = judge, store, max_waiting
        self._queue: asyncio.Queue[str] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._active = 0

    @property
    def pending(self) -> int:
        """Turns waiting or being judged."""
        return self._active + (self._queue.qsize() if self._queue is not None else 0)

    def submit(self, turn_id: str) -> bool:
        """Queue a stored turn for judging and return at once; ``False`` (logged) when the queue is full.

        Must be called on the event loop the workers should run on (the app's).
        """
        if self._queue is None:
            self._queue = asyncio.Queue(self.max_waiting)
            self._workers = [asyncio.get_running_loop().create_task(self._work(), name=f"judge-{i}")
                             for i in range(self.judge.concurrency)]
        try:
            self._queue.put_nowait(turn_id)
        except asyncio.QueueFull:
            log.warning("judge queue full (%d turns): turn %s left for a batch run", self.max_waiting, turn_id)
            return False
        return True

    async def join(self) -> None:
        """Wait until every submitted turn has been judged."""
        if self._queue is not None:
            await self._queue.join()

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            turn_id = await self._queue.get()
            self._active += 1
            try:
                await judge_turn(self.judge, self.store, turn_id)
            except Exception:
                log.exception("judging turn %s failed", turn_id)
            finally:
                self._active -= 1
                self._queue.task_done()
