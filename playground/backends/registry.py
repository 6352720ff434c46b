"""Build Backend objects from Settings."""

from __future__ import annotations

from playground.backends.base import Backend
from playground.backends.openai_compat import OpenAIBackend
from playground.backends.redact import Redactor
from playground.backends.tgi import TGIBackend
from playground.settings import Settings
from playground.types import BackendSpec


def make_backend(spec: BackendSpec, timeout_s: float = 120.0, redactor: Redactor | None = None) -> Backend:
    """One backend object for one spec, by its kind; its errors mask ``redactor``'s secrets (default: its own)."""
    cls = TGIBackend if spec.kind == "tgi" else OpenAIBackend
    return cls(spec, timeout_s, redactor)


def build_backends(settings: Settings) -> dict[str, Backend]:
    """Every configured backend, by id, each with its own pooled HTTP client.

    Each one's error texts mask the tokens and URL credentials of all of them.
    """
    redactor = Redactor.for_specs(settings.backends)
    return {spec.id: make_backend(spec, settings.request_timeout_s, redactor) for spec in settings.backends}
