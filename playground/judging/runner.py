"""Judge one pair of a stored turn in both orders (MT-Bench's position swap) with a configured backend.

The judge sees each pair anonymised exactly as a blind voter does: "Assistant A" and
"Assistant B", never a label, backend or model id. Order one shows ``pos_a`` as A, order two
``pos_b`` as A; each verdict is mapped back to positions and ``save_judgement`` applies the
swap rule. A failing judge (HTTP error, timeout, unparseable or invalid reply) gives a
judgement with that error and no verdict for that order, never an exception.

Requests to the judge go through ``Judge.slots`` (``--judge-concurrency`` at once) and wait
while ``busy()`` says the process's turns are at capacity, so judging never adds load while
users wait for turn slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import combinations

from playground.backends.base import Backend
from playground.backends.errors import BackendError
from playground.compare.run import build_request
from playground.hermes.chatml import ForgedTurnError, history_messages
from playground.hermes.jsonmode import grammar_for
from playground.judging.prompts import (
    JudgeCase,
    JudgePrompt,
    judge_messages,
    side_texts,
)
from playground.judging.verdict import Reading, read_verdict, to_positions
from playground.store.judgements import Judgement
from playground.store.pairs import assistant_side, same_context
from playground.types import (
    EndEvent,
    Message,
    PaneOutput,
    SamplingParams,
    TokenEvent,
    TurnRecord,
)

JUDGE_SAMPLING = SamplingParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=512)  # greedy, as MT-Bench
BUSY_POLL_S = 0.25
DIFFERENT_CONTEXTS = "(The two assistants had different earlier conversations; only the user's messages are shown.)"


def judged_positions(turn: TurnRecord) -> list[tuple[int, int]]:
    """Every pair of panes that finished cleanly: one for a 2-pane turn, all pairs of a 3–4 pane turn.

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> judged_positions(make_turn(n_panes=4, statuses=("done", "done", "error", "done")))
        [(0, 1), (0, 3), (1, 3)]
    """
    done = sorted(p.position for p in turn.panes if p.status == "done" and not p.error)
    return list(combinations(done, 2))


def _context(a: PaneOutput, b: PaneOutput, turn: TurnRecord) -> tuple[tuple[Message, ...], str | None, str | None]:
    """The conversation the judge sees, the system prompt shared by both panes, and a note when contexts differ."""
    system = a.system_prompt if a.system_prompt == b.system_prompt else None
    if same_context(a, b) or [m for m in a.prompt_messages if m.role != "system"] == \
            [m for m in b.prompt_messages if m.role != "system"]:
        return tuple(history_messages([m for m in a.prompt_messages if m.role != "system"])), system, None
    return turn.messages, system, DIFFERENT_CONTEXTS


def pair_cases(turn: TurnRecord, pos_a: int, pos_b: int, reference: str | None = None) -> tuple[JudgeCase, JudgeCase]:
    """The pair as shown in order one (``pos_a`` as A) and order two (``pos_b`` as A).

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> ab, ba = pair_cases(make_turn(seed=1), 0, 1)
        >>> ab.first == ba.second and ab.second == ba.first
        True
    """
    panes = {p.position: p for p in turn.panes}
    a, b = panes[pos_a], panes[pos_b]
    context, system, note = _context(a, b, turn)
    side_a, side_b = side_texts(assistant_side(a)), side_texts(assistant_side(b))
    return (JudgeCase(context, system, side_a, side_b, reference, note),
            JudgeCase(context, system, side_b, side_a, reference, note))


@dataclass(frozen=True)
class Asked:
    """One judging call: the raw reply, its reading and how long it took."""

    raw: str
    reading: Reading
    latency_s: float | None


@dataclass
class Judge:
    """A judge backend with a prompt, its own concurrency limit and a capacity check.

    ``busy()`` is true while the app's turns are at capacity; requests wait until it is false.
    ``slots`` limits requests at once (``concurrency`` of them unless shared, see :class:`JudgeFactory`).
    """

    backend: Backend
    prompt: JudgePrompt
    concurrency: int = 2
    busy: Callable[[], bool] = lambda: False
    timeout_s: float = 120.0
    slots: asyncio.Semaphore | None = None
    _model: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.slots = self.slots or asyncio.Semaphore(self.concurrency)

    @property
    def backend_id(self) -> str:
        """The judge's backend id (stored with each judgement)."""
        return self.backend.spec.id

    async def model_id(self) -> str:
        """What the judge server says it runs, else the configured model id, else the backend id."""
        if self._model is None:
            info = await self.backend.info()
            self._model = info.model_id or self.backend.spec.model_id or self.backend.spec.id
        return self._model

    async def ask(self, case: JudgeCase) -> Asked:
        """Send one judging call and read its verdict; failures are readings with an error."""
        grammar = grammar_for(self.prompt.schema) if self.backend.capabilities.grammar else None
        try:
            request = build_request(judge_messages(self.prompt, case), JUDGE_SAMPLING,
                                    self.backend.spec.tool_response_role, grammar)
        except ForgedTurnError as exc:  # a door missed a special token: judged as an error, never sent
            return Asked("", Reading(None, error=f"not sent to the judge: {exc}"), None)
        while self.busy():
            await asyncio.sleep(BUSY_POLL_S)
        assert self.slots is not None
        async with self.slots:
            started = time.perf_counter()
            pieces: list[str] = []
            try:
                async with asyncio.timeout(self.timeout_s):
                    async with contextlib.aclosing(self.backend.stream(request)) as events:  # type: ignore[type-var]
                        async for event in events:
                            if isinstance(event, TokenEvent):
                                pieces.append(event.text)
                            elif isinstance(event, EndEvent):
                                break
            except BackendError as exc:
                return Asked("".join(pieces), Reading(None, error=f"judge backend failed: {exc}"), None)
            except TimeoutError:
                return Asked("".join(pieces), Reading(None, error=f"judge timed out after {self.timeout_s:g} s"), None)
            latency = time.perf_counter() - started
        raw = "".join(pieces)
        return Asked(raw, read_verdict(raw, self.prompt), latency)

    async def judge_pair(self, turn: TurnRecord, pos_a: int, pos_b: int, reference: str | None = None) -> Judgement:
        """Judge ``pos_a`` against ``pos_b`` in both orders (concurrently); the judgement to store."""
        ab_case, ba_case = pair_cases(turn, pos_a, pos_b, reference)
        ab, ba = await asyncio.gather(self.ask(ab_case), self.ask(ba_case))
        orders = (f"pane {chr(65 + pos_a)} shown first", f"pane {chr(65 + pos_b)} shown first")
        return Judgement(
            turn_id=turn.id, pos_a=pos_a, pos_b=pos_b, judge_backend=self.backend_id, judge_model=await self.model_id(),
            prompt_version=self.prompt.version, kind=self.prompt.kind,
            verdict_ab=to_positions(ab.reading.winner, swapped=False),
            verdict_ba=to_positions(ba.reading.winner, swapped=True), raw_ab=ab.raw, raw_ba=ba.raw,
            rationale=_joined(orders, ab.reading.rationale, ba.reading.rationale),
            error=_joined(orders, ab.reading.error, ba.reading.error),
            latency_ab_s=ab.latency_s, latency_ba_s=ba.latency_s)


def _joined(orders: tuple[str, str], one: str | None, two: str | None) -> str | None:
    """``"<order one>: …\\n<order two>: …"`` with missing parts left out; ``None`` when both are missing."""
    parts = [f"{name}: {text}" for name, text in zip(orders, (one, two), strict=True) if text]
    return "\n".join(parts) or None


@dataclass
class JudgeFactory:
    """Judges for one app: every judge of a backend shares one request limit, whatever its prompt."""

    backends: Mapping[str, Backend]
    concurrency: int = 2
    busy: Callable[[], bool] = lambda: False
    timeout_s: float = 120.0
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def judge(self, backend_id: str, prompt: JudgePrompt) -> Judge:
        """A judge on this backend with this prompt (``KeyError`` for an unknown backend)."""
        slots = self._slots.setdefault(backend_id, asyncio.Semaphore(self.concurrency))
        return Judge(self.backends[backend_id], prompt, self.concurrency, self.busy, self.timeout_s, slots)
