"""Build Backend objects from Settings."""

from __future__ import annotations

from playground.backends.base import Backend
from playground.backends.openai_compat import OpenAIBackend
from playground.backends.tgi import TGIBackend
from playground.settings import Settings
from playground.types import BackendSpec


def make_backend(spec: BackendSpec, timeout_s: float = 120.0) -> Backend:
    """One backend object for one spec, by its kind."""
    cls = TGIBackend if spec.kind == "tgi" else OpenAIBackend
    return cls(spec, timeout_s)


def build_backends(settings: Settings) -> dict[str, Backend]:
    """Every configured backend, by id, each with its own pooled HTTP client."""
    return {spec.id: make_backend(spec, settings.request_timeout_s) for spec in settings.backends}
