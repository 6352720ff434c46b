"""The scripting API: ``/compare`` and ``/vote``, named parameters in a fixed, documented order.

The page's own endpoints take one positional value per widget; these take what a script means
("these backends, this conversation, these settings") and go through the same entry points as
the page (``compare.actions.Turns``, ``ui.vote.save_vote``): the same checks, limits, quotas,
special-token policy, storage and vote rules. The request guard sees them as any listener.

The caller is the Gradio session (one ``gradio_client.Client``): its state remembers the turns
it ran, and a vote may name only those. The session hash is never stored or shown; the stored
turn and vote carry the caller's pseudonym, as the page's do.

``gr.api`` derives typed parameters from a signature but takes no session state; these are
listeners without a trigger whose ``Api`` inputs are built the same way, plus two ``gr.State``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import gradio as gr
from gradio.components.api_component import Api
from gradio.utils import get_function_params
from gradio_client.utils import python_type_to_json_schema

from playground.compare import run
from playground.compare.actions import Turns
from playground.compare.prepare import (
    TurnChoices,
    TurnSetupError,
    sampling_from_widgets,
)
from playground.compare.scripted import history_messages, vote_choice
from playground.compare.state import CompareSession, PaneState
from playground.compare.votes import (
    VoteSession,
    describe_vote,
    not_votable_reason,
)
from playground.hermes.modes import mode_ids
from playground.store.db import Store
from playground.store.errors import InvalidVoteError
from playground.store.hub import HubVoteLog
from playground.store.votes import ranking_letters
from playground.types import SamplingParams
from playground.ui.access import Gatekeeper, Visitor, new_browser_id
from playground.ui.compare import TURNS
from playground.ui.inputs import refusal
from playground.ui.vote import save_vote

KEPT_TURNS = 20  # the latest turns of a session a vote may name
DEFAULTS = SamplingParams()
STATE_PARAMETERS = 2  # every handler's first two parameters: the session's ScriptedTurns and Visitor
ModeId = Literal[mode_ids()]  # type: ignore[valid-type]  # the mode registry's ids, an enum in the API schema


class PaneResult(TypedDict):
    """One pane of a compared turn, in the order of ``backends``."""

    pane: str  # "A", "B", … (what a vote names)
    backend: str
    label: str
    model_id: str
    status: str  # "done", "error" or "stopped"
    reply: str  # the first reply, as the store keeps it (tool calls verbatim)
    followup: list[dict[str, str]]  # the rest of a tool loop: tool results, later replies
    finish_reason: str | None
    error: str | None
    json_valid: bool | None  # JSON mode: does the reply match the schema
    ttft_s: float | None
    total_s: float | None
    tokens: int
    tokens_per_s: float | None


class CompareResult(TypedDict):
    """A compared turn: its id (what a vote names), each pane, and whether it can be voted on."""

    turn_id: str
    panes: list[PaneResult]
    votable: bool
    not_votable_reason: str | None


class VoteResult(TypedDict):
    """A stored vote: the turn, the choice in words, and the ranking it means (pane letters, best first)."""

    turn_id: str
    vote: str
    ranking: str


@dataclass
class ScriptedTurns:
    """The stored turns one API session ran, oldest first, at most ``KEPT_TURNS``: what its votes may name."""

    turns: dict[str, tuple[CompareSession, VoteSession]] = field(default_factory=dict)

    def keep(self, session: CompareSession, vs: VoteSession) -> None:
        """Remember a stored turn (forgetting the oldest past the limit)."""
        self.turns[session.turn_id] = (session, vs)
        while len(self.turns) > KEPT_TURNS:
            del self.turns[next(iter(self.turns))]


def pane_result(index: int, pane: PaneState) -> PaneResult:
    """What the API returns for one finished pane."""
    m = pane.metrics
    return PaneResult(pane=chr(65 + index), backend=pane.backend_id, label=pane.label, model_id=pane.model_id,
                      status=pane.status, reply=pane.reply, followup=[msg.as_dict() for msg in pane.followup],
                      finish_reason=m.finish_reason, error=pane.error,
                      json_valid=pane.json_check.valid if pane.json_check else None,
                      ttft_s=m.ttft_s, total_s=m.total_s, tokens=m.tokens, tokens_per_s=m.tokens_per_s)


def with_browser_id(visitor: object) -> Visitor:
    """The session's visitor, with an anonymous id like a browser's if it has none yet (votes need one)."""
    now = visitor if isinstance(visitor, Visitor) else Visitor()
    return now if now.browser_id else Visitor(new_browser_id(), now.terms)


def _setup(action: Callable[[], Any]) -> Any:
    """``action()``; a setup problem becomes a refusal with its message."""
    try:
        return action()
    except TurnSetupError as exc:
        raise refusal(str(exc)) from None


class ApiHandlers:
    """``/compare`` and ``/vote``. Parameter names, order, types and defaults are the public API."""

    def __init__(self, turns: Turns, store: Store, gate: Gatekeeper, hub_log: HubVoteLog | None = None,
                 on_stored: Callable[[str], object] | None = None) -> None:
        self.turns, self.store, self.gate, self.hub_log, self.on_stored = turns, store, gate, hub_log, on_stored
        self.settings = turns.settings

    def backend_ids(self, backends: object) -> list[str]:
        """The chosen backend ids, checked: a list of 1 to ``max_panes`` ids the app knows (repeats allowed)."""
        known = [spec.id for spec in self.settings.backends]
        most = self.settings.max_panes
        if not isinstance(backends, list) or not 1 <= len(backends) <= most:
            raise refusal(f"backends must be a list of 1 to {most} backend ids, e.g. {known[:2]}.")
        unknown = [b for b in backends if b not in known]
        if unknown:
            raise refusal(f"Unknown backend {unknown[0]!r:.80}: the backends are {', '.join(known)}.")
        return backends

    def choices(self, system_prompt: object, mode: object, tools: object, json_schema: object, grammar: object,
                max_tool_rounds: object, sampling: SamplingParams, system_prompts: object, n: int) -> TurnChoices:
        """The turn's choices, each value's type checked (their content is checked when the turn starts)."""
        if mode not in mode_ids():
            raise refusal(f"mode must be one of: {', '.join(mode_ids())}; got {mode!r:.80}.")
        for name, value in (("system_prompt", system_prompt), ("tools", tools), ("json_schema", json_schema)):
            if value is not None and not isinstance(value, str):
                raise refusal(f"{name} must be text (JSON as text: json.dumps it) or null, not {type(value).__name__}.")
        own = system_prompts if system_prompts is not None else [system_prompt] * n
        if not isinstance(own, list) or len(own) != n or not all(s is None or isinstance(s, str) for s in own):
            raise refusal(f"system_prompts must be null or a list of {n} texts or nulls, one per backend.")
        if not isinstance(grammar, bool):
            raise refusal("grammar must be true or false.")
        return TurnChoices(mode=mode, sampling=sampling, system=system_prompt, pane_systems=tuple(own),  # type: ignore[arg-type]
                           tools_text=tools or "", schema_text=json_schema or "", grammar=grammar,
                           max_depth=max_tool_rounds)

    async def compare(self, scripted: ScriptedTurns, visitor: Visitor, request: gr.Request, message: str,
                      backends: list[str], system_prompt: str | None = None,
                      mode: ModeId = "chat", tools: str = "", json_schema: str = "",
                      grammar: bool = False, max_tool_rounds: int = 5, temperature: float = DEFAULTS.temperature,
                      top_p: float = DEFAULTS.top_p, top_k: int = DEFAULTS.top_k,
                      repetition_penalty: float = DEFAULTS.repetition_penalty,
                      max_new_tokens: int = DEFAULTS.max_new_tokens, seed: int | None = None, same_seed: bool = True,
                      stop: list[str] | None = None, history: list[dict[str, str]] | None = None,
                      system_prompts: list[str | None] | None = None
                      ) -> tuple[CompareResult, ScriptedTurns, Visitor]:
        """Compare backends on one conversation: every backend answers `message` after `history`; returns the
        replies and the turn id a vote names. Limits, quotas and checks are the page's."""
        ids = self.backend_ids(backends)
        limits = self.settings.limits
        sampling = _setup(lambda: sampling_from_widgets(temperature, top_p, top_k, repetition_penalty,
                                                        max_new_tokens, seed, stop, same_seed, limits=limits))
        choices = self.choices(system_prompt, mode, tools, json_schema, grammar, max_tool_rounds, sampling,
                               system_prompts, len(ids))
        earlier = _setup(lambda: history_messages(history, limits))
        visitor = with_browser_id(visitor)
        who = self.gate.turn(request, visitor)
        session = CompareSession(panes=[PaneState(b, self.settings.backend(b).label, history=list(earlier))
                                        for b in ids])
        async for _ in _setup(lambda: self.turns.start(session, choices, message, ids, blind=False)):
            pass
        if any(run.awaiting_tool(pane) for pane in session.panes):  # a tool that is not built in: no one to answer
            self.turns.stop(session)
        vs = VoteSession()
        await self.turns.record(session, vs, self.store, lambda: self.gate.recorder(who), self.hub_log,
                                self.on_stored)
        if vs.record is not None:
            scripted.keep(session, vs)
        reason = vs.problem or not_votable_reason(session.panes)
        result = CompareResult(turn_id=session.turn_id, panes=[pane_result(i, p) for i, p in enumerate(session.panes)],
                               votable=reason is None, not_votable_reason=reason)
        return result, scripted, visitor

    def vote(self, scripted: ScriptedTurns, visitor: Visitor, request: gr.Request, turn_id: str, choice: str,
             gold_text: str | None = None) -> tuple[VoteResult, ScriptedTurns, Visitor]:
        """Vote on a turn this session ran: 'A', 'B', 'tie' or 'bothbad' for two panes, a ranking such as
        'B > A = C' for three or four (= is a tie); `gold_text` is an edited winning reply. A new vote replaces
        the last."""
        found = scripted.turns.get(turn_id) if isinstance(turn_id, str) else None
        if found is None:
            raise refusal(f"Turn {turn_id!r:.60} was not run by this session: vote with the client that ran it "
                          f"(one gradio_client.Client is one session; it keeps its latest {KEPT_TURNS} turns).")
        if gold_text is not None and not isinstance(gold_text, str):
            raise refusal("gold_text must be text or null.")
        session, vs = found
        try:
            kind, ranking = vote_choice(choice, len(session.panes))
        except InvalidVoteError as exc:
            raise refusal(str(exc)) from None
        stored = save_vote(self.gate, self.store, self.settings.limits, self.hub_log, vs, session, visitor, request,
                           kind, ranking=ranking, gold_text=gold_text)
        result = VoteResult(turn_id=turn_id, vote=describe_vote(stored), ranking=ranking_letters(stored.ranking or ()))
        return result, scripted, visitor


def api_inputs(fn: Callable[..., Any]) -> list[Api]:
    """One typed ``Api`` input per parameter after the state ones, built as ``gr.api`` builds them."""
    params = get_function_params(fn)[STATE_PARAMETERS:]
    return [Api(default if has_default else None, python_type_to_json_schema(hint), label=name)
            for name, has_default, default, hint in params]


def wire_api(turns: Turns, store: Store, gate: Gatekeeper, visitor: gr.State, hub_log: HubVoteLog | None = None,
             on_stored: Callable[[str], object] | None = None) -> None:
    """Add ``/compare`` and ``/vote`` to the Blocks being built (API only: nothing on the page triggers them)."""
    h = ApiHandlers(turns, store, gate, hub_log, on_stored)
    scripted = gr.State(ScriptedTurns())
    one_turn = {"concurrency_id": TURNS, "concurrency_limit": turns.settings.max_turns}  # as the page's turns
    for fn, result, options in ((h.compare, CompareResult, one_turn), (h.vote, VoteResult, {})):
        output = Api(None, python_type_to_json_schema(result), label="result")
        gr.on([], fn, [scripted, visitor, *api_inputs(fn)], [output, scripted, visitor], api_name=fn.__name__,
              show_progress="hidden", **options)
