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


@dataclass(frozen=True)
class SendEvent:
    """The compare tab's send event: where to post and a template of its input values."""

    fn_index: int
    trigger_id: int
    data: tuple[Any, ...]
    backend_ids: tuple[str, ...]  # the backend of every pane, shown or not
    panes: int  # panes shown (and streaming) per turn


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
    return SendEvent(dep["id"], trigger, tuple(data), tuple(backend_ids), panes)


@dataclass
class TurnResult:
    """Timestamps (``time.perf_counter``) of one click, as the client saw them."""

    t_join: float
    t_started: float | None = None  # process_starts: left the queue
    t_first_token: float | None = None
    t_done: float | None = None
    updates: list[float] = field(default_factory=list)  # process_generating arrivals after the first token
    max_rank: int = -1  # highest queue position reported (0 = first in line)
    error: str | None = None
    event_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.t_done is not None


async def run_turn(client: httpx.AsyncClient, send: SendEvent, *, timeout_s: float = 120.0,
                   session_hash: str | None = None, on_first_token: asyncio.Event | None = None,
                   event_id_box: list[str] | None = None) -> TurnResult:
    """One click of Send in a fresh session; returns what the client saw. Never raises."""
    session = session_hash or uuid.uuid4().hex[:12]
    result = TurnResult(t_join=time.perf_counter())
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.post(f"{API}/queue/join", json={
                "data": list(send.data), "event_data": None, "fn_index": send.fn_index,
                "trigger_id": send.trigger_id, "session_hash": session})
            if response.status_code != 200:
                result.error = f"join HTTP {response.status_code}: {response.text[:200]}"
                return result
            result.event_id = response.json()["event_id"]
            if event_id_box is not None:
                event_id_box.append(result.event_id)
            await _read_stream(client, session, result, on_first_token, send.panes)
    except TimeoutError:
        result.error = f"timeout after {timeout_s} s"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def _read_stream(client: httpx.AsyncClient, session: str, result: TurnResult,
                       on_first_token: asyncio.Event | None, panes: int) -> None:
    generating = 0
    async with client.stream("GET", f"{API}/queue/data", params={"session_hash": session}) as stream:
        if stream.status_code != 200:
            result.error = f"data HTTP {stream.status_code}"
            return
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            now = time.perf_counter()
            head = line[:80]
            if '"process_generating"' in head:
                generating += 1
                if result.t_first_token is None:
                    # The handler's first yield shows the panes waiting; a token shows a TTFT.
                    if "TTFT" in line or generating >= 2:
                        result.t_first_token = now
                        if on_first_token is not None:
                            on_first_token.set()
                else:
                    result.updates.append(now)
            elif '"estimation"' in head:
                rank = orjson.loads(line[5:]).get("rank")
                if isinstance(rank, int):
                    result.max_rank = max(result.max_rank, rank)
            elif '"process_starts"' in head:
                result.t_started = now
            elif '"process_completed"' in head:
                result.t_done = now
                message = orjson.loads(line[5:])
                if not message.get("success"):
                    result.error = f"handler error: {str(message.get('output'))[:200]}"
                elif "⚠️" in line or "finish: error" in line:
                    result.error = "a pane showed a backend error"
                elif (finished := line.count("finish: ")) < panes:
                    result.error = f"{finished} of {panes} panes finished"
            elif '"close_stream"' in head or '"unexpected_error"' in head:
                if '"unexpected_error"' in head and result.error is None:
                    result.error = f"unexpected_error: {line[5:200]}"
                return


async def cancel(client: httpx.AsyncClient, send: SendEvent, session_hash: str, event_id: str) -> None:
    """What the page sends when Stop is clicked (Stop's listener ``cancels`` the send event)."""
    await client.post(f"{API}/cancel", json={"event_id": event_id, "session_hash": session_hash,
                                             "fn_index": send.fn_index})
