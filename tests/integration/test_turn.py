"""The turn logic against real TGI-protocol servers over HTTP/SSE: streaming, metrics, every failure mode, Stop."""

from __future__ import annotations

import asyncio
import time

import pytest

from playground.backends.registry import make_backend
from playground.compare import run as turn
from playground.compare.pacing import UpdatePacer
from playground.compare.state import PaneState
from playground.types import BackendSpec, Message, SamplingParams
from tests.support.app_process import free_port
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

FAST = Behavior(text="The quick brown fox jumps over the lazy dog.")


def spec_for(url: str, backend_id: str = "a", kind: str = "tgi", **kw: object) -> BackendSpec:
    return BackendSpec(id=backend_id, label=f"Backend {backend_id}", base_url=url, kind=kind, **kw)  # type: ignore[arg-type]


async def run(specs: list[BackendSpec], text: str = "Hello", system: str | None = "You are a helpful assistant.",
              params: SamplingParams = SamplingParams(), panes: list[PaneState] | None = None,
              timeout_s: float = 30.0, pacer: UpdatePacer | None = None
              ) -> tuple[list[PaneState], list[list[str]]]:
    """Run one turn; return the panes and, per yield, each pane's status."""
    backends = [make_backend(s, timeout_s) for s in specs]
    panes = panes or [PaneState(s.id, s.label) for s in specs]
    jobs = []
    for pane, backend in zip(panes, backends, strict=True):
        turn.begin(pane, text)
        jobs.append(turn.PaneJob(backend, tuple(turn.conversation(pane, system, text)), params))
    statuses = []
    try:
        async for states in turn.run_turn(jobs, panes, pacer=pacer):
            statuses.append([p.status for p in states])
    finally:
        for backend in backends:
            await backend.aclose()
    return panes, statuses


async def test_two_panes_stream_at_the_same_time(tgi_server_factory):
    slow = Behavior(ttft=0.3, rate=20, tokens=12)
    a, b = tgi_server_factory(behavior=slow), tgi_server_factory(behavior=slow)
    started = time.perf_counter()
    await run([spec_for(a.url, "a")])
    alone = time.perf_counter() - started  # the reference: one pane, measured now
    started = time.perf_counter()
    panes, statuses = await run([spec_for(a.url, "a"), spec_for(b.url, "b")])
    wall = time.perf_counter() - started
    assert [p.status for p in panes] == ["done", "done"]
    assert ["streaming", "streaming"] in statuses, "the panes never streamed at the same time"
    assert wall < 1.6 * alone, f"two panes took {wall:.2f}s; one alone took {alone:.2f}s (one after the other: 2x)"


async def test_a_pacer_batches_tokens_into_fewer_updates_without_losing_any(tgi_server_factory):
    fast = Behavior(ttft=0.05, rate=100, tokens=60)
    servers = [tgi_server_factory(behavior=fast) for _ in range(2)]
    specs = [spec_for(s.url, str(i)) for i, s in enumerate(servers)]
    _, unpaced = await run(specs, params=SamplingParams(max_new_tokens=60))
    pacer = UpdatePacer(budget_hz=5, fastest_hz=5, slowest_hz=5)  # at most one update per 0.2 s
    started = time.perf_counter()
    panes, paced = await run(specs, params=SamplingParams(max_new_tokens=60), pacer=pacer)
    wall = time.perf_counter() - started
    assert len(unpaced) > 30, "the unpaced turn should update about once per token"
    shown_at_once = 3 * 2  # per pane: its first token, its result, its end
    assert len(paced) <= wall / 0.2 + 1 + shown_at_once, f"{len(paced)} updates in {wall:.2f} s paced at 0.2 s"
    assert [p.reply for p in panes] == ["".join(f" tok{i}" for i in range(60))] * 2
    assert [p.status for p in panes] == ["done", "done"] and pacer.active == 0


async def test_a_pacer_never_holds_back_a_panes_first_token(tgi_server_factory):
    early = tgi_server_factory(behavior=Behavior(ttft=0.05, rate=50, tokens=40))
    late = tgi_server_factory(behavior=Behavior(ttft=0.3, rate=50, tokens=40))
    specs = [spec_for(early.url, "early"), spec_for(late.url, "late")]
    started = time.perf_counter()
    await run(specs)
    unpaced = time.perf_counter() - started  # the reference: the same ~1.1 s turn, measured now
    started = time.perf_counter()
    _, statuses = await run(specs, pacer=UpdatePacer(budget_hz=0.5, fastest_hz=0.5, slowest_hz=0.5))
    shown = time.perf_counter() - started
    first_late = next(i for i, s in enumerate(statuses) if s[1] != "waiting")
    assert first_late <= 3, f"the late pane's first token came in update {first_late}: {statuses[:5]}"
    # Held back to the next 2 s tick, the end would show at ~1.8x the unpaced turn.
    assert shown < 1.4 * unpaced, f"the 2 s interval held the end back: {shown:.2f} s paced, {unpaced:.2f} s not"


async def test_metrics_are_filled_when_a_stream_ends(tgi_server_factory):
    fast = tgi_server_factory(behavior=Behavior(ttft=0.25, rate=40, tokens=9))
    slow = tgi_server_factory(behavior=Behavior(ttft=0.25, rate=10, tokens=9))
    specs = [spec_for(fast.url, "fast"), spec_for(slow.url, "slow")]
    panes, _ = await run(specs, params=SamplingParams(max_new_tokens=9))
    for pane in panes:
        assert pane.metrics.tokens == 9
        assert pane.metrics.finish_reason == "length"
        assert 0.25 <= pane.metrics.ttft_s < pane.metrics.total_s  # never before the server's delay
        assert pane.reply == "".join(f" tok{i}" for i in range(9))
    # Same turn, same machine: the 40 tok/s stream measures ~4x the 10 tok/s one, however busy the machine.
    assert panes[0].metrics.tokens_per_s > 2 * panes[1].metrics.tokens_per_s, [p.metrics for p in panes]


async def test_end_of_text_reports_eos_and_history_grows(tgi_server_factory):
    server = tgi_server_factory(behavior=FAST)
    (pane,), _ = await run([spec_for(server.url)], text="First")
    assert pane.metrics.finish_reason == "eos_token"
    assert pane.history == [Message("user", "First"), Message("assistant", FAST.text)]
    await run([spec_for(server.url)], text="Second", panes=[pane])
    sent = server.requests[-1]["body"]["inputs"]
    assert sent == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                    "<|im_start|>user\nFirst<|im_end|>\n"
                    f"<|im_start|>assistant\n{FAST.text}<|im_end|>\n"
                    "<|im_start|>user\nSecond<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.parametrize(("failure", "title", "words"), [
    ("http_422", "Request rejected", "rejected"),
    ("http_424", "Backend failed", "failed"),
    ("http_429", "Backend overloaded", "overloaded"),
    ("http_500", "Backend failed", "failed"),
    ("http_503", "Backend failed", "503"),
    ("error_event", "Backend failed", "failed while generating"),
    ("drop", "Stream cut off", "dropped"),
])
async def test_a_failing_backend_errors_in_its_own_pane_only(tgi_server_factory, failure, title, words):
    good = tgi_server_factory(behavior=Behavior(ttft=0.2, rate=50, tokens=10))
    bad = tgi_server_factory(behavior=Behavior(failure=failure, fail_after=3, rate=100, tokens=20))
    (ok, failed), _ = await run([spec_for(good.url, "good"), spec_for(bad.url, "bad")])
    assert ok.status == "done" and ok.reply == "".join(f" tok{i}" for i in range(10))
    assert failed.status == "error"
    assert failed.error.startswith(title), failed.error
    assert words in failed.error
    assert failed.history == [], "a failed exchange must not enter the model's history"
    assert failed.transcript[-1].error == failed.error


async def test_overload_error_event_after_200_is_named(tgi_server_factory):
    bad = tgi_server_factory(behavior=Behavior(failure="error_event", error_type="overloaded", fail_after=2, tokens=9))
    (pane,), _ = await run([spec_for(bad.url)])
    assert pane.status == "error" and pane.error.startswith("Backend overloaded")
    assert pane.reply == " tok0 tok1", "tokens before the error event stay visible"


async def test_unreachable_backend_says_so(tgi_server_factory):
    good = tgi_server_factory(behavior=FAST)
    dead = f"http://127.0.0.1:{free_port()}"
    (ok, down), _ = await run([spec_for(good.url, "good"), spec_for(dead, "dead")])
    assert ok.status == "done"
    assert down.status == "error" and down.error.startswith("Backend unreachable")
    assert "Is the server running" in down.error


async def test_a_backend_that_sends_nothing_times_out(tgi_server_factory):
    hang = tgi_server_factory(behavior=Behavior(failure="hang", keepalive=5.0))
    (pane,), _ = await run([spec_for(hang.url)], timeout_s=0.5)
    assert pane.status == "error" and pane.error.startswith("Backend timed out")


async def test_keepalive_comments_do_not_end_a_slow_first_token(tgi_server_factory):
    slow = tgi_server_factory(behavior=Behavior(ttft=2.0, keepalive=0.2, text="late but fine"))
    (pane,), _ = await run([spec_for(slow.url)], timeout_s=1.0)  # the token comes after twice the read timeout
    assert pane.status == "done" and pane.reply == "late but fine"


async def test_closing_the_turn_closes_the_backend_connection(tgi_server_factory):
    slow = tgi_server_factory(behavior=Behavior(ttft=0.1, rate=5, tokens=200))
    backend = make_backend(spec_for(slow.url))
    pane = PaneState("a", "A")
    turn.begin(pane, "Hi")
    stream = turn.run_turn([turn.PaneJob(backend, (Message("user", "Hi"),), SamplingParams())], [pane])
    async for _ in stream:
        if pane.metrics.tokens >= 2:
            break
    closed_at = time.monotonic()
    await stream.aclose()
    turn.stop([pane])
    # The 40 s stream would finish first if the connection were left open (the test server writes into buffers).
    assert await asyncio.to_thread(slow.wait_for_disconnects, 1, 30.0), "the server never saw the disconnect"
    assert slow.disconnect_times[0] >= closed_at and slow.completed == 0
    assert pane.status == "stopped" and pane.history[-1].role == "assistant"
    await backend.aclose()


async def test_parameters_tgi_rejects_are_not_sent(tgi_server_factory):
    server = tgi_server_factory(behavior=FAST)
    await run([spec_for(server.url)], params=SamplingParams(top_p=1.0, top_k=0, seed=7, stop=("\n\n",)))
    params = server.requests[-1]["body"]["parameters"]
    assert "top_p" not in params or params["top_p"] is None
    assert params.get("top_k") is None
    assert params["temperature"] == 0.8 and params["repetition_penalty"] == 1.1 and params["seed"] == 7
    assert params["details"] is True and params["stop"] == ["\n\n"]
    await run([spec_for(server.url)], params=SamplingParams(temperature=0.0))
    greedy = server.requests[-1]["body"]["parameters"]
    assert greedy["do_sample"] is False and greedy.get("temperature") is None


async def test_tokens_are_explicit_and_never_the_users_hf_token(tgi_server_factory, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_user_secret_should_not_leak")
    monkeypatch.setenv("BACKEND_KEY", "sk-backend")
    keyed = tgi_server_factory(behavior=FAST, api_key="sk-backend")
    open_ = tgi_server_factory(behavior=FAST)
    (pane_keyed, pane_open), _ = await run([spec_for(keyed.url, "k", token_env="BACKEND_KEY"),
                                           spec_for(open_.url, "o")])
    assert pane_keyed.status == "done" and pane_open.status == "done"
    assert keyed.requests[-1]["headers"].get("authorization") == "Bearer sk-backend"
    assert "authorization" not in {k.lower() for k in open_.requests[-1]["headers"]}


async def test_wrong_key_is_reported_as_not_authorised(tgi_server_factory, monkeypatch):
    monkeypatch.setenv("BACKEND_KEY", "wrong")
    keyed = tgi_server_factory(behavior=FAST, api_key="right")
    (pane,), _ = await run([spec_for(keyed.url, token_env="BACKEND_KEY")])
    assert pane.status == "error" and pane.error.startswith("Not authorised")


async def test_openai_compatible_backend_streams_messages(tgi_server_factory):
    server = tgi_server_factory(behavior=FAST)
    (pane,), _ = await run([spec_for(server.url, kind="openai")], system="")
    assert pane.status == "done" and pane.reply == FAST.text
    body = server.requests[-1]["body"]
    assert body["messages"] == [{"role": "system", "content": ""}, {"role": "user", "content": "Hello"}]
    assert body["stream"] is True


async def test_backend_info_reads_model_and_context_window(tgi_server_factory):
    server = tgi_server_factory(behavior=FAST, model_id="NousResearch/Hermes-3-Llama-3.1-8B", max_total_tokens=8192)
    info = await make_backend(spec_for(server.url)).info()
    assert info.healthy and info.model_id == "NousResearch/Hermes-3-Llama-3.1-8B" and info.context_window == 8192
    assert info.latency_ms is not None and info.latency_ms > 0
    down = await make_backend(spec_for(f"http://127.0.0.1:{free_port()}")).info()
    assert not down.healthy and "Cannot connect" in down.error
