"""A minimal client for Gradio 6.31's queue protocol (raw HTTP + SSE with httpx).

What the browser does for one click, as ``gradio/routes.py`` serves it:

1. ``POST /gradio_api/queue/join`` with ``{"data", "event_data", "fn_index", "trigger_id",
   "session_hash"}`` → ``{"event_id"}``.
2. ``GET /gradio_api/queue/data?session_hash=…`` → server-sent events, one JSON object per
   ``data:`` line: ``estimation`` (queue rank), ``process_starts``, ``process_generating``
   (one per ``yield`` of the handler; after the first, outputs are diffs), ``process_completed``
   (full final outputs), then ``close_stream`` once the session has nothing pending.
3. Stop: ``POST /gradio_api/cancel`` with ``{"event_id", "session_hash", "fn_index"}`` — what
   the JS client sends for every event listed in a listener's ``cancels``.
4. Chained listeners (``.then`` / ``.success``): the *page* joins them when the event they
   follow completes, in the same session — so this client does too, or their cost would be
   missing from every turn.

Two page shapes are driven: the project's (chat histories held server-side in ``gr.State``; a pane
that ended shows ``finish: …``) and the naive app's (``benchmarks/naive_app.py``: the ``gr.Chatbot``s
are inputs too, so the page sends the histories back with every click — ``SendEvent.echo`` — and a
turn is whole when every history ends with a non-empty reply).

The parsing is deliberately lean (only ``msg`` is decoded per line; outputs are scanned as
bytes) because this generator shares the machine's two cores with the app it measures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

API = "/gradio_api"
# The test servers' replies are " tok0 tok1 …" (``--tokens``): the first token's text in an update
# after the first one (which shows the whole conversation as it stands, earlier turns included)
# marks the time to first token; later updates are diffs, so only the new text is in them.
FIRST_TOKEN = "tok0"


@dataclass(frozen=True)
class Chained:
    """A listener the page runs after another one completes (``.then``, ``.success``, ``.failure``)."""

    fn_index: int
    data: tuple[Any, ...]
    when: str  # "always", "success" or "failure"
    queued: bool = True  # False: the page posts it to /run/predict and waits for the answer


@dataclass(frozen=True)
class SendEvent:
    """The compare tab's send event: where to post and a template of its input values."""

    fn_index: int
    trigger_id: int
    data: tuple[Any, ...]
    backend_ids: tuple[str, ...]  # the backend of every pane, shown or not
    panes: int  # panes shown (and streaming) per turn
    chained: dict[int, tuple[Chained, ...]] = field(default_factory=dict)  # fn_index -> what follows it
    echo: tuple[tuple[int, int], ...] = ()  # (input, output) positions of chatbots the page sends back

    def data_after(self, previous: TurnResult | None) -> tuple[Any, ...]:
        """The inputs of the next click in a session: the echoed histories as ``previous`` left them."""
        if not self.echo or previous is None or previous.outputs is None:
            return self.data
        data = list(self.data)
        for i, o in self.echo:
            data[i] = previous.outputs[o]
        return tuple(data)


def _defaults(dep: dict[str, Any], components: dict[int, dict[str, Any]]) -> tuple[Any, ...]:
    """Input values as the page would send them untouched (``gr.State`` lives server-side: ``None``)."""
    return tuple(None if components[c]["type"] == "state" else components[c]["props"].get("value")
                 for c in dep["inputs"])


def chained_from_config(deps: list[dict[str, Any]], components: dict[int, dict[str, Any]], first: int
                        ) -> dict[int, tuple[Chained, ...]]:
    """Every queued Python listener reachable from ``first`` through ``trigger_after``, by the one it follows."""
    out: dict[int, tuple[Chained, ...]] = {}
    todo = [first]
    while todo:
        fn = todo.pop()
        follow = [d for d in deps if d.get("trigger_after") == fn and d.get("backend_fn")]
        out[fn] = tuple(Chained(d["id"], _defaults(d, components),
                                "success" if d.get("trigger_only_on_success") else
                                "failure" if d.get("trigger_only_on_failure") else "always",
                                d.get("queue") is not False) for d in follow)
        todo += [d["id"] for d in follow if d["id"] not in out]
    return out


def send_event_from_config(config: dict[str, Any], message: str, panes: int = 4) -> SendEvent:
    """Find the send event in ``/config`` and fill its inputs with the components' defaults.

    Overrides: the message box (``elem_id="message"``), the pane-count radio (``panes``), and
    one distinct backend per pane dropdown (``elem_id="pane-N-backend"``); ``gr.State`` is
    held server-side per session, so ``None`` is sent for it, as the browser does.
    """
    components = {c["id"]: c for c in config["components"]}
    deps = config["dependencies"]
    dep = next((d for d in deps if d.get("api_name") == "send"), None)
    if dep is None:
        send_button = next(i for i, c in components.items() if c["props"].get("elem_id") == "send")
        dep = next(d for d in deps if [send_button, "click"] in [list(t) for t in d["targets"]])
    data: list[Any] = []
    backend_ids: list[str] = []
    for cid in dep["inputs"]:
        comp = components[cid]
        props = comp["props"]
        value = props.get("value")
        elem_id = props.get("elem_id") or ""
        if comp["type"] == "state":
            value = None
        elif elem_id == "message":
            value = message
        elif comp["type"] == "radio" and props.get("label") == "Panes":
            value = panes
        elif elem_id.startswith("pane-") and elem_id.endswith("-backend"):
            index = int(elem_id.split("-")[1])
            choices = [c[1] if isinstance(c, list | tuple) else c for c in props.get("choices") or []]
            value = choices[index % len(choices)] if choices else None
            backend_ids.append(value)
        data.append(value)
    trigger = dep["targets"][0][0]
    echo = tuple((i, dep["outputs"].index(c)) for i, c in enumerate(dep["inputs"])
                 if components[c]["type"] == "chatbot" and c in dep["outputs"])
    return SendEvent(dep["id"], trigger, tuple(data), tuple(backend_ids), panes,
                     chained_from_config(deps, components, dep["id"]), echo)


@dataclass
class TurnResult:
    """Timestamps (``time.perf_counter``) of one click, as the client saw them."""

    t_join: float
    t_started: float | None = None  # process_starts: left the queue
    t_first_update: float | None = None  # the first process_generating: the panes shown waiting
    t_first_token: float | None = None
    t_done: float | None = None
    updates: list[float] = field(default_factory=list)  # process_generating arrivals after the first token
    max_rank: int = -1  # highest queue position reported (0 = first in line)
    error: str | None = None
    event_id: str | None = None
    t_chain_done: float | None = None  # the listeners chained after the turn completed too
    outputs: list[Any] | None = None  # the final outputs, kept only when the page sends some back (echo)

    @property
    def ok(self) -> bool:
        return self.error is None and self.t_done is not None


async def run_turn(client: httpx.AsyncClient, send: SendEvent, *, timeout_s: float = 120.0,
                   session_hash: str | None = None, on_first_token: asyncio.Event | None = None,
                   event_id_box: list[str] | None = None, data: tuple[Any, ...] | None = None) -> TurnResult:
    """One click of Send (in a fresh session unless given; inputs ``data`` or the template's); never raises."""
    session = session_hash or uuid.uuid4().hex[:12]
    result = TurnResult(t_join=time.perf_counter())
    try:
        async with asyncio.timeout(timeout_s):
            result.event_id = await _join(client, session, send.fn_index, send.data if data is None else data,
                                          send.trigger_id)
            if event_id_box is not None:
                event_id_box.append(result.event_id)
            await _read_stream(client, session, result, send, on_first_token)
    except TimeoutError:
        result.error = f"timeout after {timeout_s} s"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def _join(client: httpx.AsyncClient, session: str, fn_index: int, data: tuple[Any, ...],
                trigger_id: int | None) -> str:
    response = await client.post(f"{API}/queue/join", json={
        "data": list(data), "event_data": None, "fn_index": fn_index, "trigger_id": trigger_id,
        "session_hash": session})
    if response.status_code != 200:
        raise httpx.HTTPError(f"join of fn {fn_index} answered HTTP {response.status_code}: {response.text[:200]}")
    return response.json()["event_id"]


async def _follow(client: httpx.AsyncClient, session: str, send: SendEvent, fn: int, success: bool,
                  pending: dict[str, int]) -> str | None:
    """Start what the page chains after ``fn``: queued listeners join ``pending``, others run now."""
    error = None
    for follow in send.chained.get(fn, ()):
        if not (follow.when == "always" or (follow.when == "success") == success):
            continue
        if follow.queued:
            pending[await _join(client, session, follow.fn_index, follow.data, None)] = follow.fn_index
            continue
        response = await client.post(f"{API}/run/predict", json={
            "data": list(follow.data), "event_data": None, "fn_index": follow.fn_index, "trigger_id": None,
            "session_hash": session})
        ok = response.status_code == 200
        if not ok:
            error = error or f"chained listener {follow.fn_index} answered HTTP {response.status_code}"
        error = await _follow(client, session, send, follow.fn_index, ok, pending) or error
    return error


def _check_turn(line: str, message: dict[str, Any], send: SendEvent) -> str | None:
    """What is wrong with a completed turn, as the page would show it, or ``None``."""
    if not message.get("success"):
        return f"handler error: {str(message.get('output'))[:200]}"
    panes = send.panes
    if send.echo:  # the naive page: every history ends with a reply
        outputs = (message.get("output") or {}).get("data") or []  # none after a cancel
        replied = sum(bool(h) and h[-1]["role"] == "assistant" and bool(h[-1]["content"])
                      for h in (outputs[o] for _, o in send.echo if o < len(outputs)))
        return None if replied >= panes else f"{replied} of {panes} panes replied"
    if "⚠️" in line or "finish: error" in line:
        return "a pane showed a backend error"
    if (finished := line.count("finish: ")) < panes:
        return f"{finished} of {panes} panes finished"
    return None


async def _read_stream(client: httpx.AsyncClient, session: str, result: TurnResult, send: SendEvent,
                       on_first_token: asyncio.Event | None) -> None:
    """Read the session's messages until the turn and every listener chained after it completed."""
    pending: dict[str, int] = {result.event_id: send.fn_index}  # type: ignore[dict-item]
    generating = 0
    while pending:  # the server closes the stream when the session has nothing pending: reopen then
        async with client.stream("GET", f"{API}/queue/data", params={"session_hash": session}) as stream:
            if stream.status_code != 200:
                result.error = f"data HTTP {stream.status_code}"
                return
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                now = time.perf_counter()
                head = line[:120]
                if '"process_generating"' in head:
                    if result.event_id not in head:
                        continue
                    generating += 1
                    if result.t_first_update is None:
                        result.t_first_update = now
                    if result.t_first_token is None:
                        if generating > 1 and FIRST_TOKEN in line:
                            result.t_first_token = now
                            if on_first_token is not None:
                                on_first_token.set()
                    else:
                        result.updates.append(now)
                elif '"estimation"' in head and result.event_id in head:
                    rank = orjson.loads(line[5:]).get("rank")
                    if isinstance(rank, int):
                        result.max_rank = max(result.max_rank, rank)
                elif '"process_starts"' in head and result.event_id in head:
                    result.t_started = now
                elif '"process_completed"' in head:
                    message = orjson.loads(line[5:])
                    fn = pending.pop(message.get("event_id"), None)
                    if fn is None:
                        continue
                    success = bool(message.get("success"))
                    if fn == send.fn_index:
                        result.t_done = now
                        result.error = _check_turn(line, message, send)
                        if send.echo and result.error is None:
                            result.outputs = message["output"]["data"]
                    elif not success and result.error is None:
                        result.error = f"chained listener {fn} failed: {str(message.get('output'))[:200]}"
                    error = await _follow(client, session, send, fn, success, pending)
                    if error and result.error is None:
                        result.error = error
                    if not pending:
                        result.t_chain_done = now
                        return
                elif '"close_stream"' in head or '"unexpected_error"' in head:
                    if '"unexpected_error"' in head and result.error is None:
                        result.error = f"unexpected_error: {line[5:200]}"
                        return
                    break


async def cancel(client: httpx.AsyncClient, send: SendEvent, session_hash: str, event_id: str) -> None:
    """What the page sends when Stop is clicked (Stop's listener ``cancels`` the send event)."""
    await client.post(f"{API}/cancel", json={"event_id": event_id, "session_hash": session_hash,
                                             "fn_index": send.fn_index})
