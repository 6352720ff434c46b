"""One entry point per user action on the Compare tab.

Start a turn, regenerate the last one, continue after a typed tool result, stop, recount the
prompt tokens, record the finished turn. Each owns the panes' lifecycle and the turn id; the UI
only turns widget values into these arguments and the yielded session back into widgets.

The streaming actions check everything when called (``TurnSetupError``: nothing changed) and
return an async iterator that yields the session after each batch of events; closing it (a
Stop or a Gradio cancel) cancels every stream. A session runs one turn at a time: while one
streams, starting, regenerating or continuing another is refused, and Clear ends it in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from playground.backends.base import Backend
from playground.compare import run
from playground.compare.pacing import UpdatePacer
from playground.compare.prepare import (
    TurnChoices,
    TurnSetupError,
    continue_pane,
    start_turn,
    take_tool_result,
)
from playground.compare.record import is_finished, turn_record
from playground.compare.served import ServedModels
from playground.compare.state import CompareSession, PaneState
from playground.compare.votes import VoteSession, is_current
from playground.hermes.builtin_tools import ToolContext, load_stock_table
from playground.settings import Settings
from playground.store.db import Store, save_turn
from playground.store.errors import StoreError
from playground.store.hub import HubVoteLog

log = logging.getLogger(__name__)
Recorded = Literal["running", "saving", "stored"]
BUSY = "A turn is running in this session: wait for it to end, or press Stop (or Clear)."


def turn_running(session: CompareSession) -> bool:
    """Is a turn of this session streaming right now (a pane waits for or reads its backend)?

    Example:
        >>> turn_running(CompareSession([PaneState("a", "A", status="streaming")]))
        True
    """
    return any(pane.status in run.ACTIVE for pane in session.panes)


def new_turn_id() -> str:
    """A fresh turn id: the id the store keeps the turn under and every vote on it names."""
    return str(uuid.uuid4())


def blind_assignment(settings: Settings, n: int, rng: random.Random) -> list[str]:
    """Random backends for a blind battle: distinct while there are enough, in random order."""
    ids = [spec.id for spec in settings.backends]
    return rng.sample(ids, n) if len(ids) >= n else [rng.choice(ids) for _ in range(n)]


def panes_for(panes: Sequence[PaneState], backend_ids: Sequence[str], settings: Settings) -> list[PaneState]:
    """Keep each pane's conversation unless its backend changed (then it starts afresh)."""
    out = []
    for i, backend_id in enumerate(backend_ids):
        old = panes[i] if i < len(panes) else None
        if old is not None and old.backend_id == backend_id:
            out.append(old)
        else:
            out.append(PaneState(backend_id=backend_id, label=settings.backend(backend_id).label))
    return out


@dataclass
class Turns:
    """The app's turn machinery (one per app, shared by every session): backends, pacing, tools.

    Sessions live in ``CompareSession`` objects passed to each call; nothing here belongs to one.
    """

    settings: Settings
    backends: Mapping[str, Backend]
    served: ServedModels
    pacer: UpdatePacer = field(default_factory=UpdatePacer)
    tool_context: ToolContext = field(default_factory=ToolContext)
    rng: random.Random = field(default_factory=random.SystemRandom)

    @classmethod
    def for_app(cls, settings: Settings, backends: Mapping[str, Backend]) -> Turns:
        """The turn machinery of an app with these settings and backends."""
        stocks = load_stock_table(settings.assets_dir / "tools" / "stock_fundamentals.csv")
        return cls(settings, backends, ServedModels(backends), tool_context=ToolContext(stocks=stocks))

    def start(self, session: CompareSession, choices: TurnChoices, text: object,
              backend_ids: Sequence[str | None], blind: bool) -> AsyncIterator[CompareSession]:
        """Begin a new turn on ``len(backend_ids)`` panes and stream it.

        In blind mode a new battle gets random backends (``backend_ids`` is ignored) and a battle
        that goes on keeps its hidden models.

        Raises:
            TurnSetupError: nothing was started (the session's panes are as they were).
        """
        if not self.settings.backends:
            raise TurnSetupError("No backend is configured: see the setup help at the top of the page.")
        if turn_running(session):
            raise TurnSetupError(BUSY)
        ids = list(backend_ids)
        if blind and (len(session.panes) != len(ids) or not session.panes[0].transcript):  # a new battle
            ids = blind_assignment(self.settings, len(ids), self.rng)
            session.revealed = False
        elif blind:  # a battle goes on with the same hidden models
            ids = [pane.backend_id for pane in session.panes]
        if any(b is None for b in ids):
            raise TurnSetupError("Choose a backend for every pane.")
        previous = session.panes
        session.panes = panes_for(previous, ids, self.settings)  # type: ignore[arg-type]
        session.blind = blind
        try:
            jobs = start_turn(session, choices, text, self.backends, self.tool_context, self.settings.limits)
        except TurnSetupError:
            session.panes = previous
            raise
        return self._stream(self._begin(session), jobs, session.panes)

    def regenerate(self, session: CompareSession, choices: TurnChoices) -> AsyncIterator[CompareSession]:
        """Forget every pane's last exchange and answer its message again, as a new turn.

        Raises:
            TurnSetupError: a turn runs, nothing to regenerate, or the turn cannot start (the exchanges are kept).
        """
        if turn_running(session):
            raise TurnSetupError(BUSY)
        if not session.panes or any(not p.transcript or p.status == "tool_input" for p in session.panes):
            raise TurnSetupError("Nothing to regenerate: no last turn in every pane (one was cleared, or waits for "
                                 "a tool result). Send a new message instead.")
        dropped = [(pane.transcript[-1], pane.history) for pane in session.panes]
        text = [run.drop_last_exchange(pane) for pane in session.panes][0]  # every pane answered the same text
        try:
            jobs = start_turn(session, choices, text, self.backends, self.tool_context, self.settings.limits)
        except TurnSetupError:
            for pane, (exchange, history) in zip(session.panes, dropped, strict=True):
                pane.transcript.append(exchange)
                pane.history = history
            raise
        return self._stream(self._begin(session), jobs, session.panes)

    def continue_after_tool(self, session: CompareSession, index: int, text: object) -> AsyncIterator[CompareSession]:
        """Give pane ``index`` the tool result the user typed; once none waits, stream the same turn on.

        Raises:
            TurnSetupError: the pane waits for no result, or the result is refused (the pane still waits).
        """
        if turn_running(session):
            raise TurnSetupError(BUSY)
        pane = session.panes[index] if 0 <= index < len(session.panes) else None
        if pane is None or run.awaiting_tool(pane) is None:
            raise TurnSetupError("This pane is not waiting for a tool result.")
        take_tool_result(pane, text, self.settings.limits)
        if run.awaiting_tool(pane) is not None:  # more calls of this round still wait
            return self._stream(session, [], [])
        job = continue_pane(pane, session, self.backends[pane.backend_id], self.tool_context)
        return self._stream(session, [job], [pane])

    def stop(self, session: CompareSession) -> None:
        """Stop every pane still streaming or waiting for a tool result, keeping its text (same turn id)."""
        run.stop(session.panes)

    def clear(self, session: CompareSession) -> None:
        """Forget the whole conversation, in place: a turn still streaming ends at its next update
        (its stream sees a new turn id) and nothing it shows or sends comes back."""
        run.stop(session.panes)
        empty = CompareSession()
        for f in fields(CompareSession):
            setattr(session, f.name, getattr(empty, f.name))

    def switch_blind(self, session: CompareSession, blind: bool) -> None:
        """The Blind switch moved: forget the conversation (a battle and a named chat never mix), unless
        a turn already runs under the new setting (Send pressed right after the switch got here first).

        Example:
            >>> turns, s = Turns.__new__(Turns), CompareSession([PaneState("a", "A", status="streaming")], blind=True)
            >>> turns.switch_blind(s, True); len(s.panes)
            1
            >>> turns.switch_blind(s, False); len(s.panes)
            0
        """
        if not (turn_running(session) and session.blind == blind):
            self.clear(session)

    def clear_pane(self, session: CompareSession, index: int) -> None:
        """Forget pane ``index``'s conversation (its next request starts afresh); the turn shown is
        no longer whole, so it gets no vote (the session's turn id is dropped).

        Raises:
            TurnSetupError: a turn is running (nothing changed).
        """
        if turn_running(session):
            raise TurnSetupError(BUSY)
        if 0 <= index < len(session.panes):
            old = session.panes[index]
            session.panes[index] = PaneState(old.backend_id, old.label, model_id=old.model_id)
            session.turn_id = ""

    def change_model(self, session: CompareSession, index: int, backend_id: object) -> None:
        """Pane ``index``'s dropdown picked ``backend_id``: the pane forgets its conversation now, as its next
        request would (a new model starts afresh), and the turn shown, no longer whole, gets no vote. In a blind
        battle the models are the battle's: nothing changes.

        Raises:
            TurnSetupError: a turn is running, or the backend is unknown (nothing changed).
        """
        spec = next((b for b in self.settings.backends if b.id == backend_id), None)
        if spec is None:
            raise TurnSetupError("Choose one of the listed models.")
        if session.blind or not 0 <= index < len(session.panes) or session.panes[index].backend_id == spec.id:
            return
        if turn_running(session):
            raise TurnSetupError(BUSY)
        session.panes[index] = PaneState(spec.id, spec.label)
        session.turn_id = ""

    async def recount_tokens(self, session: CompareSession) -> None:
        """The prompt inspector opened: count each pane's last prompt on its server, from now on too."""
        session.inspect = True
        for pane in session.panes:
            request = pane.last_request
            if request is not None and pane.budget is not None and pane.budget.source != "tokenize":
                counted = await self.backends[pane.backend_id].count_tokens(request)
                if counted is not None:
                    pane.budget = replace(pane.budget, prompt_tokens=counted, source="tokenize")

    async def record(self, session: CompareSession, vs: VoteSession, store: Store, user_id: Callable[[], str],
                     hub_log: HubVoteLog | None = None, on_stored: Callable[[str], object] | None = None) -> Recorded:
        """Store the session's finished turn once, under its turn id, and make it the one votes go to.

        Returns ``"running"`` (not finished: nothing stored), ``"saving"`` (another call is storing
        this turn right now) or ``"stored"`` (``vs`` holds it, or ``vs.problem`` says why it could
        not be stored). ``user_id()`` is asked only when the turn is stored; ``on_stored(turn_id)``
        (the background judge) and the Hub log hear of each stored turn.
        """
        if not is_finished(session.panes) or is_current(vs, session):
            return "stored" if is_current(vs, session) else "running"
        if vs.pending == session.turn_id:
            return "saving"
        vs.pending = session.turn_id  # no await since the checks above: atomic on the event loop
        try:
            record = turn_record(session.panes, [p.model_id for p in session.panes], user_id=user_id(),
                                 mode=session.mode, sampling=session.sampling, tools=session.tools,
                                 json_schema=session.json_schema, blind=session.blind and not session.revealed,
                                 turn_id=session.turn_id)
            record = replace(record, id=await asyncio.to_thread(save_turn, store, record))
        except (StoreError, SQLAlchemyError, OSError) as exc:
            log.error("could not store a finished turn: %s", exc)
            vs.record, vs.vote, vs.problem = None, None, f"This turn could not be stored: {exc}"
            return "stored"
        finally:
            vs.pending = ""
        vs.record, vs.vote, vs.problem, vs.picks = record, None, None, ()
        if on_stored is not None:
            on_stored(record.id)
        if hub_log is not None:  # every stored turn, voted or not, so a restart restores it
            await asyncio.to_thread(hub_log.append_turn, record)
        return "stored"

    def _begin(self, session: CompareSession) -> CompareSession:
        """A turn has started: its id, and the model each pane runs as far as known now."""
        session.turn_id = new_turn_id()
        for pane in session.panes:
            pane.model_id = self._model_id(pane)
        return session

    def _model_id(self, pane: PaneState) -> str:
        return self.served.model_id(pane.backend_id) or pane.model_id

    async def _stream(self, session: CompareSession, jobs: Sequence[run.PaneJob], panes: Sequence[PaneState]
                      ) -> AsyncIterator[CompareSession]:
        if not jobs:  # a tool round that still waits for results: shown, nothing to run
            yield session
            return
        turn_id = session.turn_id
        try:  # the first update (panes waiting) comes once the streams' tasks run: requests no longer wait for it
            async with contextlib.aclosing(run.run_turn(jobs, panes, self.served, pacer=self.pacer,
                                                        announce=True)) as updates:
                async for _ in updates:
                    yield session
                    if session.turn_id != turn_id:  # cleared: shown once as it is now, and the streams end
                        return
        finally:
            # closed early (a cancel, a gone page): what streamed is kept, as by Stop; a pane paused
            # for a typed tool result is not streaming and keeps waiting for it
            run.stop([pane for pane in panes if pane.status in run.ACTIVE])
            for pane in panes:  # a backend's first turn learns its model id from the /info that sized the prompt
                pane.model_id = self._model_id(pane)
