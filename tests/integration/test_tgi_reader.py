"""The lean ``/generate_stream`` reader (aiohttp) against the TGI test server: what it sends, errors, Stop, reuse."""

from __future__ import annotations

import asyncio
import time

import pytest

from playground.backends import errors as e
from playground.backends.error_map import ErrorMapper
from playground.backends.sse import data_lines
from playground.backends.tgi import TGIBackend, parse_event
from playground.types import BackendSpec, EndEvent, GenerationRequest, SamplingParams, TokenEvent
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

PROMPT = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def backend_for(url: str, timeout_s: float = 10.0) -> TGIBackend:
    return TGIBackend(BackendSpec(id="a", label="A", base_url=url, kind="tgi"), timeout_s)


async def collect(backend: TGIBackend, params: SamplingParams = SamplingParams(),
                  grammar: dict | None = None) -> list[object]:
    return [ev async for ev in backend.stream(GenerationRequest(PROMPT, (), params, grammar))]


async def test_sends_set_parameters_only_to_generate_stream(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(text="Hi there"))
    backend = backend_for(server.url)
    events = await collect(backend, SamplingParams(seed=3, stop=("x",)), grammar={"type": "json", "value": {}})
    await backend.aclose()
    assert events == [TokenEvent("Hi"), TokenEvent(" there"), EndEvent("eos_token", 3)]
    request = server.requests[-1]
    assert request["path"] == "/generate_stream"
    assert request["body"] == {"inputs": PROMPT, "parameters": {
        "do_sample": True, "max_new_tokens": 750, "repetition_penalty": 1.1, "seed": 3, "stop": ["x"],
        "temperature": 0.8, "details": True, "grammar": {"type": "json", "value": {}}}}


async def test_a_finished_stream_gives_its_connection_back_to_the_pool(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(tokens=5, rate=200))
    backend = backend_for(server.url)
    for _ in range(3):
        assert isinstance((await collect(backend))[-1], EndEvent)
    idle = backend._http._sessions[False].connector._conns  # noqa: SLF001 — aiohttp has no public view of its pool
    assert sum(len(c) for c in idle.values()) == 1, "each stream opened a new connection (a TLS handshake on HTTPS)"
    assert server.disconnects == 0
    await backend.aclose()


async def test_closing_the_stream_closes_the_connection_at_once(tgi_server_factory):
    server = tgi_server_factory(behavior=Behavior(ttft=0.05, rate=10, tokens=300))  # a 30 s stream
    backend = backend_for(server.url)
    stream = backend.stream(GenerationRequest(PROMPT, (), SamplingParams()))
    assert isinstance(await anext(stream), TokenEvent)
    closed = time.monotonic()
    await stream.aclose()
    # A connection drained or pooled instead of closed would let the server finish its 30 s stream first.
    assert await asyncio.to_thread(server.wait_for_disconnects, 1, 60.0)
    assert server.disconnect_times[0] - closed < 15 and server.completed == 0
    await backend.aclose()


@pytest.mark.parametrize(("behavior", "error", "words"), [
    (Behavior(failure="error_event", error_type="overloaded", fail_after=2, tokens=9), e.BackendOverloaded,
     "is overloaded: Model is overloaded"),
    (Behavior(failure="error_event", error_type="incomplete_generation", fail_after=2, tokens=9), e.StreamIncomplete,
     "stopped before finishing"),
    (Behavior(failure="http_429"), e.BackendOverloaded, "answered HTTP 429: Model is overloaded"),
    (Behavior(failure="drop", fail_after=2, tokens=9), e.StreamIncomplete, "dropped the connection"),
])
async def test_errors_keep_their_types_and_the_tokens_before_them(tgi_server_factory, behavior, error, words):
    server = tgi_server_factory(behavior=behavior)
    backend = backend_for(server.url)
    seen: list[object] = []
    with pytest.raises(error, match=words):
        async for event in backend.stream(GenerationRequest(PROMPT, (), SamplingParams())):
            seen.append(event)
    await backend.aclose()
    assert all(isinstance(ev, TokenEvent) for ev in seen)


async def test_unauthorised_is_typed(tgi_server_factory, monkeypatch):
    monkeypatch.setenv("KEY", "wrong")
    server = tgi_server_factory(behavior=Behavior(text="x"), api_key="right")
    backend = TGIBackend(BackendSpec(id="a", label="A", base_url=server.url, kind="tgi", token_env="KEY"))
    with pytest.raises(e.BackendAuthError, match="answered HTTP 401"):
        await collect(backend)
    await backend.aclose()


async def test_lines_split_anywhere_across_chunks():
    raw = b'data: {"a": 1}\r\n\r\n:\n\ndata:{"b": 2}\n\ndata: [DONE]'
    for size in (1, 2, 3, 7, len(raw)):
        async def chunks(size: int = size):
            for i in range(0, len(raw), size):
                yield raw[i:i + size]
        assert [line async for line in data_lines(chunks())] == [b' {"a": 1}\r', b'{"b": 2}', b" [DONE]"]


def test_parse_event_reads_tokens_ends_and_errors():
    spec = ErrorMapper(BackendSpec(id="a", label="A", base_url="http://x", kind="tgi"))
    special = parse_event(b'{"token": {"text": "<|im_end|>", "special": true}, '
                          b'"details": {"finish_reason": "eos_token", "generated_tokens": 4}}', spec)
    assert special is not None and special.text is None and special.end == EndEvent("eos_token", 4)
    assert parse_event(b" [DONE]\r", spec) is None
    with pytest.raises(e.BackendRejected, match="rejected the request: bad"):
        parse_event(b'{"error": "bad", "error_type": "validation"}', spec)
