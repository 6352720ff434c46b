"""Pooled connections a server closed while idle never fail a request, on the TGI and the OpenAI-compatible path.

The server closes idle connections after ``keep_alive_s`` (uvicorn: 5 s); ``LateCloseProxy``
lets the client see that close only when it next sends, as a busy event loop does under load.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx2
import pytest

from playground.backends import errors as e
from playground.backends.http import POOL_KEEPALIVE_S
from playground.backends.registry import make_backend
from playground.types import BackendSpec, EndEvent, GenerationRequest, Message, SamplingParams
from tests.support.late_close_proxy import LateCloseProxy
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

SHORT_KEEP_ALIVE = 0.5
FAST = Behavior(text="Hello there, all in one piece.")
REQUEST = GenerationRequest("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", (Message("user", "Hi"),),
                            SamplingParams())


def spec_for(url: str, kind: str) -> BackendSpec:
    return BackendSpec(id="a", label="A", base_url=url, kind=kind)  # type: ignore[arg-type]


async def pooled_call(backend, kind: str) -> None:  # noqa: ANN001 — TGIBackend or OpenAIBackend
    """A request that leaves its connection in the pool: a whole TGI stream; ``/v1/models`` for chat."""
    if kind == "tgi":
        assert isinstance([ev async for ev in backend.stream(REQUEST)][-1], EndEvent)
    else:
        assert (await backend.info()).healthy


async def test_without_the_fix_a_stale_pooled_connection_fails_the_next_request(tgi_server_factory):
    """The failure the backends guard against, shown with the clients' old settings."""
    server = tgi_server_factory(behavior=FAST, keep_alive_s=SHORT_KEEP_ALIVE)
    body = {"inputs": REQUEST.prompt, "parameters": {"details": True}}
    with LateCloseProxy(server.url) as proxy:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=30)) as session:
            async with session.post(f"{proxy.url}/generate_stream", json=body) as response:
                await response.read()
            await asyncio.sleep(SHORT_KEEP_ALIVE * 3)
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                async with session.post(f"{proxy.url}/generate_stream", json=body) as response:
                    await response.read()
        async with httpx2.AsyncClient() as client:  # httpx's default pool keeps idle connections 5 s
            assert (await client.get(f"{proxy.url}/v1/models")).status_code == 200
            await asyncio.sleep(SHORT_KEEP_ALIVE * 3)
            with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
                await client.get(f"{proxy.url}/v1/models")
        assert proxy.dropped == 2


@pytest.mark.parametrize("kind", ["tgi", "openai"])
async def test_a_request_on_a_stale_connection_is_sent_again_on_a_new_one(tgi_server_factory, kind):
    server = tgi_server_factory(behavior=FAST, keep_alive_s=SHORT_KEEP_ALIVE)
    with LateCloseProxy(server.url) as proxy:
        backend = make_backend(spec_for(proxy.url, kind), 10.0)
        try:
            await pooled_call(backend, kind)
            await asyncio.sleep(SHORT_KEEP_ALIVE * 3)  # the server closes the idle connection meanwhile
            events = [ev async for ev in backend.stream(REQUEST)]
        finally:
            await backend.aclose()
        assert "".join(getattr(ev, "text", "") for ev in events) == FAST.text
        assert proxy.dropped == 1, "the request did not meet the stale connection (nothing was reproduced)"
        assert proxy.connections == 2, "the request was not sent again on a new connection"
    assert len(server.requests) == (2 if kind == "tgi" else 1), "the dropped request never reached the server"


@pytest.mark.parametrize("kind", ["tgi", "openai"])
async def test_idle_connections_expire_before_uvicorns_five_seconds(tgi_server_factory, kind):
    server = tgi_server_factory(behavior=FAST)
    assert server.keep_alive_s == 5.0, "the test server should close idle connections as uvicorn does"
    with LateCloseProxy(server.url) as proxy:
        backend = make_backend(spec_for(proxy.url, kind), 10.0)
        try:
            await pooled_call(backend, kind)
            await asyncio.sleep(POOL_KEEPALIVE_S + 0.3)
            await pooled_call(backend, kind)
        finally:
            await backend.aclose()
        assert proxy.connections == 2 and proxy.dropped == 0, "an idle connection was kept past the pool's expiry"


@pytest.mark.parametrize("kind", ["tgi", "openai"])
async def test_a_connection_dropped_after_tokens_arrived_is_not_sent_again(tgi_server_factory, kind):
    server = tgi_server_factory(behavior=Behavior(failure="drop", fail_after=3, tokens=9))
    backend = make_backend(spec_for(server.url, kind), 10.0)
    seen: list[object] = []
    with pytest.raises(e.StreamIncomplete):
        async for event in backend.stream(REQUEST):
            seen.append(event)
    await backend.aclose()
    assert len(seen) == 3 and len(server.requests) == 1, "a stream that had begun was retried"
