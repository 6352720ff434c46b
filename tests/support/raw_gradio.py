"""Call any listener of a running app by ``fn_index`` over raw HTTP, as an attacker's script would:
``/gradio_api/queue/join`` + the SSE stream, or ``/gradio_api/run/predict``, any payload, any session."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass(frozen=True)
class RawResult:
    """What came back: the HTTP status of the call, and for a processed event its success and output."""

    status: int
    success: bool
    output: Any
    text: str  # the whole response or event stream, to search for leaks


def new_session() -> str:
    """A session hash like the page makes."""
    return uuid.uuid4().hex[:11]


def config(client: httpx.Client) -> dict[str, Any]:
    """The app's ``/config``."""
    return client.get("/config").raise_for_status().json()


def dependencies(client: httpx.Client) -> list[dict[str, Any]]:
    """Every listener (``fn_index`` is its ``id``)."""
    return config(client)["dependencies"]


def _json(body: dict[str, Any]) -> dict[str, Any]:
    """Request arguments for a JSON body that may hold NaN and Infinity (as a script can send; httpx refuses them)."""
    return {"content": json.dumps(body), "headers": {"content-type": "application/json"}}


def call_queued(client: httpx.Client, fn_index: int, data: list[Any], session: str, timeout_s: float = 60.0,
                event_data: Any = None) -> RawResult:
    """Join the queue with ``data`` (and ``event_data``, e.g. a selected row) and read the session's stream until
    this event completes."""
    join = client.post("/gradio_api/queue/join", **_json({"data": data, "event_data": event_data, "fn_index": fn_index,
                                                          "trigger_id": None, "session_hash": session}))
    if join.status_code != 200:
        return RawResult(join.status_code, False, None, join.text)
    event_id = join.json()["event_id"]
    lines = []
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout_s) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            lines.append(line)
            message = orjson.loads(line[5:])
            if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                output = message.get("output") or {}
                return RawResult(200, bool(message.get("success")), output, "\n".join(lines))
            if message.get("msg") == "close_stream":
                break
    return RawResult(200, False, None, "\n".join(lines))


def call_direct(client: httpx.Client, fn_index: int, data: list[Any], session: str) -> RawResult:
    """POST to ``/gradio_api/run/predict`` (how the page calls listeners that skip the queue)."""
    response = client.post("/gradio_api/run/predict", **_json({"data": data, "event_data": None, "fn_index": fn_index,
                                                                "trigger_id": None, "session_hash": session}))
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    return RawResult(response.status_code, response.status_code == 200 and "error" not in body, body, response.text)


def call(client: httpx.Client, dep: dict[str, Any], data: list[Any], session: str, event_data: Any = None) -> RawResult:
    """Call a listener the way the page would: through the queue unless it skips it."""
    if dep.get("queue") is False:
        return call_direct(client, dep["id"], data, session)
    return call_queued(client, dep["id"], data, session, event_data=event_data)


def defaults(client_config: dict[str, Any], dep: dict[str, Any]) -> list[Any]:
    """The values a fresh page would send for a listener's inputs."""
    components = {c["id"]: c for c in client_config["components"]}
    return [components[i].get("props", {}).get("value") for i in dep["inputs"]]
