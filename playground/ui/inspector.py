"""The prompt inspector: exactly what each pane sent, its size and the room left (pure formatting)."""

from __future__ import annotations

import json

from playground.backends.registry import capabilities_of
from playground.compare.state import PaneState
from playground.hermes.chatml import BOS
from playground.types import BackendSpec


def inspector_header(pane: PaneState, spec: BackendSpec) -> str:
    """Markdown above a pane's prompt: backend, how the prompt was sent, its token budget."""
    request = pane.last_request
    if request is None:
        return f"**{pane.label}** — nothing sent yet."
    capabilities = capabilities_of(spec)
    if capabilities.raw_chatml_prompt:
        how = (f"raw ChatML to `{capabilities.stream_path}`; the server's tokenizer adds BOS `{BOS}` "
               "in front, so the bytes sent start at `<|im_start|>`")
    else:
        how = f"messages to `{capabilities.stream_path}`; the server applies its own chat template"
    budget = pane.budget.describe() if pane.budget is not None else "size not checked"
    return f"**{pane.label}** — {how}.  \n{budget}"


def inspector_text(pane: PaneState, spec: BackendSpec) -> str:
    """The exact prompt text (raw ChatML backends) or the JSON messages (chat backends) of the pane's last request."""
    request = pane.last_request
    if request is None:
        return ""
    if capabilities_of(spec).raw_chatml_prompt:
        return request.prompt
    return json.dumps([m.as_dict() for m in request.messages], indent=2, ensure_ascii=False)
