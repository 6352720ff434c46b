"""Pins the TGI test server's wire protocol (PROTOCOLS.md §5) with real HTTP clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    IncompleteGenerationError,
    OverloadedError,
    UnknownError,
    ValidationError,
)

from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

REPO = Path(__file__).resolve().parents[2]
MSGS = [{"role": "user", "content": "Hi"}]


def events(url: str, path: str, body: dict[str, Any], **kw: Any) -> tuple[int, list[str]]:
    """POST and return the status and the non-empty lines of the (SSE) body."""
    with httpx.stream("POST", url + path, json=body, timeout=5, **kw) as r:
        return r.status_code, [line for line in r.iter_lines() if line]


def data(lines: list[str]) -> list[Any]:
    return [json.loads(line[len("data: "):]) for line in lines
            if line.startswith("data: ") and line != "data: [DONE]"]


def client(url: str, token: str | None = None) -> AsyncInferenceClient:
    return AsyncInferenceClient(base_url=url, token=token)


# --- /generate_stream, /generate, / ------------------------------------------------------------


def test_stream_events_end_with_eos(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(text="Hi there friend"))
    status, lines = events(server.url, "/generate_stream",
                           {"inputs": "a b c", "parameters": {"details": True, "seed": 7,
                                                              "do_sample": True}})
    assert status == 200 and all(line.startswith("data: {") for line in lines)
    evs = data(lines)
    assert [e["index"] for e in evs] == [1, 2, 3, 4]
    assert [e["token"]["text"] for e in evs] == ["Hi", " there", " friend", "<|im_end|>"]
    assert evs[0] == {"index": 1, "token": evs[0]["token"], "top_tokens": None,
                      "generated_text": None, "details": None}
    assert set(evs[0]["token"]) == {"id", "text", "logprob", "special"}
    assert [e["token"]["special"] for e in evs] == [False, False, False, True]
    assert evs[-1]["generated_text"] == "Hi there friend"
    assert evs[-1]["details"] == {"finish_reason": "eos_token", "generated_tokens": 4,
                                  "seed": 7, "input_length": 3}
    assert server.wait_for_completed(1) and server.completed == 1
    assert server.requests[0]["body"]["parameters"]["seed"] == 7


def test_length_stop_sequence_and_no_details(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(tokens=10))
    _, lines = events(server.url, "/generate_stream",
                      {"inputs": "x", "parameters": {"max_new_tokens": 3, "details": True}})
    last = data(lines)[-1]
    assert last["generated_text"] == " tok0 tok1 tok2"
    assert last["details"]["finish_reason"] == "length"
    _, lines = events(server.url, "/generate_stream",
                      {"inputs": "x", "parameters": {"stop": [" tok4"], "details": True}})
    last = data(lines)[-1]
    assert last["generated_text"].endswith(" tok4")
    assert last["details"] == {"finish_reason": "stop_sequence", "generated_tokens": 5,
                               "seed": None, "input_length": 1}
    _, lines = events(server.url, "/generate_stream", {"inputs": "x"})
    assert data(lines)[-1]["details"] is None and data(lines)[-1]["generated_text"]


def test_generate_and_root_non_streaming(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(text=lambda prompt: prompt.upper()))
    r = httpx.post(server.url + "/generate", json={"inputs": "echo me"})
    assert r.json() == {"generated_text": "ECHO ME"}
    r = httpx.post(server.url + "/generate", json={"inputs": "echo me", "parameters": {
        "details": True, "max_new_tokens": 1, "return_full_text": True}})
    body = r.json()
    assert body["generated_text"] == "echo meECHO"
    assert body["details"]["finish_reason"] == "length"
    assert body["details"]["tokens"][0]["text"] == "ECHO"
    r = httpx.post(server.url + "/", json={"inputs": "hi", "stream": False})
    assert r.json() == [{"generated_text": "HI"}]


@pytest.mark.asyncio
async def test_hf_client_text_generation(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(text="one two"))
    hf = client(server.url)
    stream = await hf.text_generation("p", stream=True, details=True, max_new_tokens=50,
                                      grammar={"type": "json", "value": {}})
    outs = [o async for o in stream]
    assert [o.token.text for o in outs] == ["one", " two", "<|im_end|>"]
    assert outs[-1].details.finish_reason == "eos_token" and outs[-1].generated_text == "one two"
    texts = [t async for t in await hf.text_generation("p", stream=True)]
    assert texts == ["one", " two", "<|im_end|>"]
    assert await hf.text_generation("p") == "one two"
    full = await hf.text_generation("p", details=True, max_new_tokens=1)
    assert full.details.finish_reason == "length" and full.generated_text == "one"
    await hf.close()
    first = server.requests[0]
    assert first["path"] == "/" and first["body"]["stream"] is True
    assert first["body"]["parameters"]["grammar"] == {"type": "json", "value": {}}


# --- validation ---------------------------------------------------------------------------------

VALIDATION = [
    ({"temperature": 0}, "`temperature` must be strictly positive"),
    ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
    ({"top_p": 0}, "`top_p` must be > 0.0 and < 1.0"),
    ({"top_k": 0}, "`top_k` must be strictly positive"),
    ({"repetition_penalty": 0}, "`repetition_penalty` must be strictly positive"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "`stop` supports up to 4 stop sequences. Given: 5"),
    ({"max_new_tokens": 750}, "`inputs` tokens + `max_new_tokens` must be <= 8192. "
                              "Given: 9000 `inputs` tokens and 750 `max_new_tokens`"),
]


@pytest.mark.parametrize(("params", "message"), VALIDATION)
def test_validation_422_and_in_stream(tgi_server_factory, params: dict, message: str) -> None:
    server = tgi_server_factory()
    inputs = "w " * 9000 if "max_new_tokens" in params else "hello"
    r = httpx.post(server.url + "/generate", json={"inputs": inputs, "parameters": params})
    assert r.status_code == 422
    assert r.json() == {"error": f"Input validation error: {message}", "error_type": "validation"}
    # Real TGI validates streams inside the stream: HTTP 200, then one error event.
    status, lines = events(server.url, "/generate_stream", {"inputs": inputs, "parameters": params})
    assert status == 200 and data(lines) == [r.json()]


def test_empty_inputs_rejected(tgi_server_factory) -> None:
    server = tgi_server_factory()
    r = httpx.post(server.url + "/generate", json={"inputs": ""})
    assert r.status_code == 422 and "`inputs` cannot be empty" in r.json()["error"]


@pytest.mark.asyncio
async def test_hf_client_raises_validation_error(tgi_server_factory) -> None:
    server = tgi_server_factory()
    hf = client(server.url)
    with pytest.raises(ValidationError, match="top_p"):
        await hf.text_generation("x", top_p=1.0)
    with pytest.raises(ValidationError, match="top_p"):
        async for _ in await hf.text_generation("x", top_p=1.0, stream=True):
            pass
    await hf.close()


# --- injected failures --------------------------------------------------------------------------

HTTP_FAILURES = [
    ("http_422", 422, "validation", ValidationError),
    ("http_424", 424, "generation", GenerationError),
    ("http_429", 429, "overloaded", OverloadedError),
    ("http_500", 500, "incomplete_generation", IncompleteGenerationError),
    ("http_503", 503, "healthcheck", UnknownError),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("failure", "status", "error_type", "exc"), HTTP_FAILURES)
async def test_http_failures(tgi_server_factory, failure, status, error_type, exc) -> None:
    server = tgi_server_factory(behavior=Behavior(failure=failure))
    status_, lines = events(server.url, "/generate_stream", {"inputs": "x"})
    assert status_ == status and json.loads(lines[0])["error_type"] == error_type
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": MSGS, "stream": True})
    assert r.status_code == status and r.json()["error_type"] == error_type
    hf = client(server.url)
    with pytest.raises(exc):
        async for _ in await hf.text_generation("x", stream=True, details=True):
            pass
    with pytest.raises(HfHubHTTPError):
        await hf.chat_completion(MSGS, stream=True)
    await hf.close()
    if failure == "http_429":
        assert r.json() == {"error": "Model is overloaded", "error_type": "overloaded"}


@pytest.mark.asyncio
async def test_error_event_after_200(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(
        tokens=5, failure="error_event", fail_after=2, error_type="overloaded"))
    status, lines = events(server.url, "/generate_stream", {"inputs": "x"})
    assert status == 200 and len(data(lines)) == 3
    assert data(lines)[-1] == {"error": "Model is overloaded", "error_type": "overloaded"}
    hf = client(server.url)
    got: list[str] = []
    with pytest.raises(OverloadedError):
        async for out in await hf.text_generation("x", stream=True, details=True):
            got.append(out.token.text)
    assert got == [" tok0", " tok1"]
    r = httpx.post(server.url + "/generate", json={"inputs": "x"})
    assert r.status_code == 429 and r.json()["error_type"] == "overloaded"
    await hf.close()
    assert server.completed == 0


def test_drop_cuts_the_stream(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(tokens=5, failure="drop", fail_after=2))
    seen: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", server.url + "/generate_stream", json={"inputs": "x"}) as r:
            assert r.status_code == 200
            seen.extend(line for line in r.iter_lines() if line)
    assert [e["token"]["text"] for e in data(seen)] == [" tok0", " tok1"]
    assert all(e["generated_text"] is None for e in data(seen))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(server.url + "/generate", json={"inputs": "x"})
    assert server.completed == 0 and server.disconnects == 0


def test_hang_sends_keepalives_and_counts_disconnect(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(failure="hang", keepalive=0.05))
    with httpx.stream("POST", server.url + "/generate_stream", json={"inputs": "x"}) as r:
        raw = r.iter_raw()
        chunks = b"".join(next(raw) for _ in range(3))
        assert server.active == 1
        closed_at = time.monotonic()
    assert set(chunks.split(b"\n\n")) <= {b":", b""}
    assert server.wait_for_disconnects(1, timeout=60)  # a hang never ends: counted only if the close is noticed
    assert server.disconnect_times[0] >= closed_at
    assert server.active == 0


def test_stop_cuts_open_streams(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(ttft=30, keepalive=0.05))
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", server.url + "/generate_stream", json={"inputs": "x"}) as r:
            assert server.wait_for_requests(1, timeout=30)
            t0 = time.monotonic()
            server.stop()
            assert time.monotonic() - t0 < 15, "stop waited for the open stream's 30 s first token"
            list(r.iter_lines())
    assert server.disconnects == 0


@pytest.mark.parametrize("when", ["ttft", "mid_stream"])
def test_disconnect_counted_promptly(tgi_server_factory, when: str) -> None:
    behavior = Behavior(ttft=20) if when == "ttft" else Behavior(tokens=1000, rate=50)  # both end after 20 s
    server = tgi_server_factory(behavior=behavior)
    with httpx.stream("POST", server.url + "/generate_stream", json={"inputs": "x"}) as r:
        if when == "mid_stream":
            next(r.iter_lines())
        closed_at = time.monotonic()
    assert server.wait_for_disconnects(1, timeout=60)
    # Promptly = well before anything the server schedules: waiting for its next write to fail would take
    # 15 s (the first keep-alive) with a 20 s first token.
    assert server.disconnect_times[0] - closed_at < 10
    assert server.completed == 0 and server.active == 0
    assert 'tgi_request_failure{err="dropped"} 1' in httpx.get(server.url + "/metrics").text


def test_timing_ttft_and_rate(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(ttft=0.5, rate=50, tokens=10))
    t0 = time.monotonic()
    stamps = []
    with httpx.stream("POST", server.url + "/generate_stream", json={"inputs": "x"}) as r:
        for line in r.iter_lines():
            if line:
                stamps.append(time.monotonic() - t0)
    assert len(stamps) == 11
    assert stamps[0] >= 0.5, "the first token came before its ttft"
    decode = stamps[-1] - stamps[0]
    assert decode >= 9 * 0.02 * 0.9, "tokens came faster than the rate"  # 10 tokens, then the final event
    # The schedule runs from the request (tokens at ttft + n / rate), so a late wake-up does not add up: the
    # 10 gaps of 20 ms take less than the 0.5 s ttft measured in this same stream, however busy the machine.
    assert decode < stamps[0], f"tokens paced {decode:.2f} s after a {stamps[0]:.2f} s first token"


# --- scripting ------------------------------------------------------------------------------------


def test_enqueue_fifo_then_default_and_reset(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(text="default"))
    server.enqueue(Behavior(text="first"), Behavior(failure="http_429"))
    texts = [httpx.post(server.url + "/generate", json={"inputs": "x"}) for _ in range(3)]
    assert [r.status_code for r in texts] == [200, 429, 200]
    assert texts[0].json()["generated_text"] == "first"
    assert texts[2].json()["generated_text"] == "default"
    server.behavior = Behavior(text="changed")
    assert httpx.post(server.url + "/generate", json={"inputs": "x"}).json()["generated_text"] == "changed"
    assert server.wait_for_completed(3) and len(server.requests) == 4 and server.completed == 3  # counted late
    server.enqueue(Behavior(text="never"))
    server.reset()
    assert server.requests == [] and server.completed == 0
    assert httpx.post(server.url + "/generate", json={"inputs": "x"}).json()["generated_text"] == "changed"


# --- chat completions -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_chat_stream_shape_and_hf_client(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(text="Hello there"))
    status, lines = events(server.url, "/v1/chat/completions", {
        "model": "tgi", "messages": MSGS, "stream": True, "stream_options": {"include_usage": True}})
    assert status == 200 and lines[-1] == "data: [DONE]"
    chunks = data(lines)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks[:-1]) == "Hello there"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
    assert chunks[0]["model"] == server.model_id
    hf = client(server.url)
    parts = [c.choices[0].delta.content async for c in await hf.chat_completion(
        MSGS, stream=True, max_tokens=1) if c.choices]
    assert "".join(p or "" for p in parts) == "Hello"
    out = await hf.chat_completion(MSGS, max_tokens=50)
    assert out.choices[0].message.content == "Hello there"
    assert out.choices[0].finish_reason == "stop"
    await hf.close()
    assert server.requests[-1]["path"] == "/v1/chat/completions"


@pytest.mark.asyncio
async def test_chat_errors(tgi_server_factory) -> None:
    server = tgi_server_factory(behavior=Behavior(failure="error_event", fail_after=1))
    _, lines = events(server.url, "/v1/chat/completions", {"messages": MSGS, "stream": True})
    assert "data: [DONE]" not in lines
    assert data(lines)[-1] == {"error": {
        "message": "Request failed during generation: Server error: CUDA out of memory",
        "http_status_code": 424}}
    hf = client(server.url)
    with pytest.raises(UnknownError, match="CUDA"):
        async for _ in await hf.chat_completion(MSGS, stream=True):
            pass
    server.behavior = Behavior()
    _, lines = events(server.url, "/v1/chat/completions",
                      {"messages": MSGS, "stream": True, "top_p": 1.0})
    assert data(lines) == [{"error": {"message": "Input validation error: `top_p` must be > 0.0 "
                                                 "and < 1.0", "http_status_code": 422}}]
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": MSGS, "top_p": 1.0})
    assert r.status_code == 422 and r.json()["error_type"] == "validation"
    await hf.close()
    echo = tgi_server_factory(behavior=Behavior(text=lambda prompt: prompt))
    r = httpx.post(echo.url + "/v1/chat/completions", json={"messages": MSGS})
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == MSGS


# --- auth and side routes ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_api_key(tgi_server_factory) -> None:
    server = tgi_server_factory(api_key="sekret")
    for path, body in [("/generate", {"inputs": "x"}), ("/generate_stream", {"inputs": "x"}),
                       ("/v1/chat/completions", {"messages": MSGS}), ("/tokenize", {"inputs": "x"})]:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = httpx.post(server.url + path, json=body, headers=headers)
            assert (r.status_code, r.content) == (401, b"")
    assert httpx.get(server.url + "/health").status_code == 200
    assert httpx.get(server.url + "/info").status_code == 200
    hf = client(server.url, token="sekret")
    assert await hf.text_generation("x") == "Hello from the test server."
    await hf.close()
    assert server.requests[-1]["headers"]["authorization"] == "Bearer sekret"


def test_info_health_tokenize_models_metrics(tgi_server_factory) -> None:
    server = tgi_server_factory(model_id="NousResearch/Hermes-3-Llama-3.1-8B", max_total_tokens=4096)
    info = httpx.get(server.url + "/info").json()
    assert info["model_id"] == "NousResearch/Hermes-3-Llama-3.1-8B"
    assert (info["max_input_tokens"], info["max_total_tokens"]) == (4095, 4096)
    assert (info["max_concurrent_requests"], info["max_stop_sequences"]) == (128, 4)
    assert (info["version"], info["router"]) == ("3.3.6", "text-generation-router")
    assert httpx.get(server.url + "/health").status_code == 200
    server.healthy = False
    assert httpx.get(server.url + "/health").status_code == 503
    toks = httpx.post(server.url + "/tokenize", json={"inputs": "Hi  there"}).json()
    assert [(t["text"], t["start"], t["stop"]) for t in toks] == [("Hi", 0, 2), ("  there", 2, 9)]
    assert all(isinstance(t["id"], int) and 0 <= t["id"] < 32000 for t in toks)
    assert httpx.get(server.url + "/v1/models").json() == {"object": "list", "data": [{
        "id": server.model_id, "object": "model", "created": 0, "owned_by": server.model_id}]}
    assert "tgi_request_count 0" in httpx.get(server.url + "/metrics").text


def test_openai_mode_has_no_tgi_routes(tgi_server_factory) -> None:
    server = tgi_server_factory(mode="openai")
    assert httpx.post(server.url + "/generate", json={"inputs": "x"}).status_code == 404
    assert httpx.get(server.url + "/info").status_code == 404
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": MSGS})
    assert r.json()["choices"][0]["message"]["content"] == "Hello from the test server."


def test_command_line_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.tgi_server", "--port", "0", "--tokens", "3",
         "--rate", "100"],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        r = httpx.post(url + "/generate", json={"inputs": "x"})
        assert r.json()["generated_text"] == " tok0 tok1 tok2"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
