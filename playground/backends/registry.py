"""The kinds of backend, as a table, and building Backend objects from Settings.

Modelled on huggingface_hub's ``PROVIDERS``: each kind is one module answering the same few
questions (``Backend``), and one line of ``BACKENDS``. Adding a kind is exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from playground.backends.base import Backend, BackendCapabilities, BackendClass
from playground.backends.openai_compat import OpenAIBackend
from playground.backends.redact import Redactor
from playground.backends.tgi import TGIBackend
from playground.types import BackendSpec

if TYPE_CHECKING:
    from playground.settings import Settings

BACKENDS: Mapping[str, BackendClass] = MappingProxyType({
    "tgi": TGIBackend,
    "openai": OpenAIBackend,
})
"""Every kind a backends file or ``--backend`` may name, with its class (read-only)."""
DEFAULT_KIND = "tgi"


class UnknownBackendKind(ValueError):
    """A backend names a kind no table holds; the message names the backend and the known kinds."""

    def __init__(self, spec_id: str, kind: str, known: Iterable[str]) -> None:
        names = ", ".join(repr(k) for k in known)
        super().__init__(f"backend {spec_id!r} has kind {kind!r}; known kinds: {names}")


def kind_class(kind: str, backend_id: str, table: Mapping[str, BackendClass] = BACKENDS) -> BackendClass:
    """The class that serves ``kind`` in ``table``; ``UnknownBackendKind`` (naming ``backend_id``) if none does.

    >>> kind_class("openai", "vllm").__name__
    'OpenAIBackend'
    >>> kind_class("vllm", "local")
    Traceback (most recent call last):
    ...
    playground.backends.registry.UnknownBackendKind: backend 'local' has kind 'vllm'; known kinds: 'tgi', 'openai'
    """
    try:
        return table[kind]
    except KeyError:
        raise UnknownBackendKind(backend_id, kind, table) from None


def backend_class(spec: BackendSpec, table: Mapping[str, BackendClass] = BACKENDS) -> BackendClass:
    """The class that serves ``spec``'s kind in ``table``; ``UnknownBackendKind`` if none does."""
    return kind_class(spec.kind, spec.id, table)


def capabilities_of(spec: BackendSpec, table: Mapping[str, BackendClass] = BACKENDS) -> BackendCapabilities:
    """What the backend ``spec`` describes can do, from its kind's class (no client is built).

    >>> capabilities_of(BackendSpec("a", "A", "http://h:1", kind="tgi")).grammar
    True
    """
    return backend_class(spec, table).capabilities


def make_backend(spec: BackendSpec, timeout_s: float = 120.0, redactor: Redactor | None = None,
                 table: Mapping[str, BackendClass] = BACKENDS) -> Backend:
    """One backend object for one spec, by its kind; its errors mask ``redactor``'s secrets (default: its own)."""
    return backend_class(spec, table)(spec, timeout_s, redactor)


def build_backends(settings: Settings, table: Mapping[str, BackendClass] = BACKENDS) -> dict[str, Backend]:
    """Every configured backend, by id, each with its own pooled HTTP client.

    Each one's error texts mask the tokens and URL credentials of all of them.
    """
    redactor = Redactor.for_specs(settings.backends)
    return {spec.id: make_backend(spec, settings.request_timeout_s, redactor, table) for spec in settings.backends}
