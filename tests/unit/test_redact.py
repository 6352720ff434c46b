"""Masking secrets in backend text: every configured token, URL credentials in all their wire forms."""

from __future__ import annotations

import base64

from playground.backends.redact import Redactor, hide_addresses
from playground.types import BackendSpec

SPECS = [BackendSpec(id="a", label="A", base_url="http://alice:hunter22@tgi-a:8080", token_env="A_KEY"),
         BackendSpec(id="b", label="B", base_url="https://api.example.org/v1", token_env="B_KEY")]


def test_every_backends_token_and_the_url_credentials_are_masked(monkeypatch):
    monkeypatch.setenv("A_KEY", "sk-aaaa1111")
    monkeypatch.setenv("B_KEY", "sk-bbbb2222")
    basic = base64.b64encode(b"alice:hunter22").decode()
    text = (f'headers {{"x-key": "sk-aaaa1111", "x-other": "sk-bbbb2222", "authorization": "Basic {basic}"}} '
            "from http://alice:hunter22@tgi-a:8080/generate; password hunter22; token sk-bbbb2222sk-aaaa1111")
    masked = Redactor.for_specs(SPECS).mask(text)
    for secret in ("sk-aaaa1111", "sk-bbbb2222", "hunter22", basic, "alice:"):
        assert secret not in masked, masked
    assert "http://***@tgi-a:8080/generate" in masked


def test_a_token_read_after_the_redactor_was_built_is_masked(monkeypatch):
    redactor = Redactor.for_specs(SPECS)
    monkeypatch.setenv("A_KEY", "sk-rotated-9999")
    assert redactor.mask("echo sk-rotated-9999") == "echo ***"


def test_short_secrets_are_masked_as_credentials_without_eating_other_words(monkeypatch):
    monkeypatch.setenv("A_KEY", "abc")
    masked = Redactor.for_specs(SPECS).mask('see http://u:p@host, "authorization": "Bearer abc", abcdef')
    assert masked == 'see http://***@host, "authorization": "Bearer ***", abcdef'


def test_addresses_are_hidden_from_what_anyone_sees():
    shown = hide_addresses("proxy tgi-a:8080 said: see https://internal.corp/x and TGI-A.", "http://tgi-a:8080")
    assert shown == "proxy [backend host] said: see [URL] and [backend host]."
