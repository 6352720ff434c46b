"""Backend error texts shown in a pane or stored never carry a token, URL credentials or the backend's address."""

from __future__ import annotations

import base64
import logging

import httpx2
import pytest

from playground.backends import errors as e
from playground.backends.redact import Redactor
from playground.backends.registry import make_backend
from playground.compare import run as turn
from playground.compare.state import PaneState
from playground.types import BackendSpec, GenerationRequest, Message, SamplingParams
from tests.support.app_process import free_port
from tests.support.tgi_protocol import Behavior

pytest_plugins = ["tests.support.fixtures"]

OWN_TOKEN = "sk-own-7f3a9c1e"
OTHER_TOKEN = "sk-other-55b2d0aa"
PROMPT = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
FAILURES = [
    pytest.param("wrong-key", Behavior(text="x"), e.BackendAuthError, id="401"),
    pytest.param(OWN_TOKEN, Behavior(failure="http_500"), e.BackendUnhealthy, id="500"),
    pytest.param(OWN_TOKEN, Behavior(failure="error_event", fail_after=2, tokens=9), e.BackendUnhealthy,
                 id="error-event-after-200"),
]


def specs(url: str, kind: str) -> list[BackendSpec]:
    return [BackendSpec(id="a", label="Hermes A", base_url=url, kind=kind, token_env="OWN_KEY"),  # type: ignore[arg-type]
            BackendSpec(id="b", label="Hermes B", base_url="http://10.9.8.7:80", token_env="OTHER_KEY")]


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in (OWN_TOKEN, OTHER_TOKEN, *secrets):
        assert secret not in text, f"{secret!r} leaked into {text!r}"


def assert_clean(text: str, *secrets: str) -> None:
    """No secret, and no address: what any visitor may see."""
    assert_no_secret(text, *secrets)
    assert "127.0.0.1" not in text and "http://" not in text, f"an address leaked into {text!r}"


async def run_pane(spec: BackendSpec, redactor: Redactor) -> PaneState:
    backend = make_backend(spec, 10.0, redactor)
    pane = PaneState(spec.id, spec.label)
    turn.begin(pane, "Hi")
    job = turn.PaneJob(backend, tuple(turn.conversation(pane, None, "Hi")), SamplingParams())
    try:
        async for _ in turn.run_turn([job], [pane]):
            pass
    finally:
        await backend.aclose()
    return pane


@pytest.mark.parametrize("kind", ["tgi", "openai"])
@pytest.mark.parametrize(("sent_token", "behavior", "error_type"), FAILURES)
async def test_echoed_headers_never_reach_the_pane_or_the_error(tgi_server_factory, monkeypatch, kind, sent_token,
                                                               behavior, error_type):
    monkeypatch.setenv("OWN_KEY", sent_token)
    monkeypatch.setenv("OTHER_KEY", OTHER_TOKEN)
    leaky = Behavior(**{**behavior.__dict__, "error_message": f"upstream {OTHER_TOKEN} failed"}) \
        if behavior.failure else behavior
    server = tgi_server_factory(behavior=leaky, api_key=OWN_TOKEN, echo_headers=True)
    own, other = specs(server.url, kind)
    redactor = Redactor.for_specs([own, other])

    backend = make_backend(own, 10.0, redactor)
    with pytest.raises(error_type) as caught:
        async for _ in backend.stream(GenerationRequest(PROMPT, (Message("user", "Hi"),), SamplingParams())):
            pass
    await backend.aclose()
    assert_clean(str(caught.value), sent_token)
    assert caught.value.detail.startswith("Hermes A"), "the message names the backend by its label"
    assert_no_secret(caught.value.operator_detail, sent_token)
    assert server.url in caught.value.operator_detail, "operators keep the URL"

    pane = await run_pane(own, redactor)
    assert pane.status == "error" and pane.error
    assert_clean(pane.error, sent_token)
    assert_clean(" ".join(m.error or "" for m in pane.transcript), sent_token)


@pytest.mark.parametrize(("sent_token", "behavior", "status"), [
    ("wrong-key", Behavior(text="x"), 401), (OWN_TOKEN, Behavior(failure="http_500"), 500),
    (OWN_TOKEN, Behavior(failure="error_event", fail_after=2, tokens=9), 200)])
async def test_the_test_server_really_echoes_the_token_and_host(tgi_server_factory, sent_token, behavior, status):
    """Guards the test above: unmasked, each of these answers carries the token and the address."""
    server = tgi_server_factory(behavior=behavior, api_key=OWN_TOKEN, echo_headers=True)
    async with httpx2.AsyncClient() as client:
        answer = await client.post(f"{server.url}/generate_stream", json={"inputs": PROMPT},
                                   headers={"Authorization": f"Bearer {sent_token}"})
    assert answer.status_code == status
    assert f"Bearer {sent_token}" in answer.text and "127.0.0.1" in answer.text


async def test_url_credentials_are_masked_in_errors_and_the_log(tgi_server_factory, caplog):
    server = tgi_server_factory(behavior=Behavior(failure="http_500"), echo_headers=True)
    url = server.url.replace("http://", "http://bob:pa55word@")
    spec = BackendSpec(id="a", label="Hermes A", base_url=url, kind="tgi")
    basic = base64.b64encode(b"bob:pa55word").decode()
    with caplog.at_level(logging.INFO, logger="playground.backends"):
        pane = await run_pane(spec, Redactor.for_specs([spec]))
    assert pane.status == "error"
    assert_clean(pane.error or "", "pa55word", basic)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("playground.backends")]
    assert len(lines) == 1, lines
    assert server.url.replace("http://", "http://***@") in lines[0], "the log names the URL, credentials masked"
    assert "pa55word" not in lines[0] and basic not in lines[0]


@pytest.mark.parametrize("kind", ["tgi", "openai"])
async def test_a_probe_failure_names_the_label_not_the_address(kind):
    spec = BackendSpec(id="a", label="Hermes A", base_url=f"http://u:pw@127.0.0.1:{free_port()}", kind=kind)  # type: ignore[arg-type]
    backend = make_backend(spec)
    info = await backend.info()
    await backend.aclose()
    assert not info.healthy and info.error and info.error.startswith("Cannot connect to Hermes A")
    assert_clean(info.error, ":pw@")
