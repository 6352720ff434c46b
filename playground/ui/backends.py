"""The Backends tab: health, model id, context window and latency of every backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import gradio as gr

from playground.backends.base import Backend
from playground.settings import Settings
from playground.types import BackendInfo, BackendSpec

COLUMNS = ["Backend", "Kind", "URL", "Health", "Model id", "Context window", "Latency (ms)", "Problem"]

SETUP_HELP = """\
Start a Text Generation Inference server for a Hermes model (one GPU is enough for 3B/8B):

```bash
model=NousResearch/Hermes-3-Llama-3.1-8B
docker run --gpus all --shm-size 1g -p 8080:80 -v $PWD/data:/data \\
    ghcr.io/huggingface/text-generation-inference:3.3.6 --model-id $model
```

then point the playground at it and restart:

```bash
HERMES_8B_URL=http://127.0.0.1:8080 python app.py
# or any server, TGI or OpenAI-compatible (vLLM, llama.cpp, Ollama):
python app.py --backend "Hermes 3 8B=http://127.0.0.1:8080" --backend "vLLM=openai:http://127.0.0.1:8000"
```
See the README for the 70B and 405B FP8 settings and for the backends file.
"""


def display_url(url: str) -> str:
    """The URL without any user:password part, for display."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) \
        if parts.hostname else url


def info_row(spec: BackendSpec, info: BackendInfo) -> list[object]:
    """One table row for a backend."""
    return [spec.label, spec.kind, display_url(spec.base_url), "up" if info.healthy else "down",
            info.model_id or "", info.context_window or "",
            round(info.latency_ms, 1) if info.latency_ms is not None else "", info.error or ""]


def setup_help(settings: Settings, infos: Sequence[BackendInfo] = ()) -> str:
    """How to start a server, headed by why it is shown: nothing configured, or nothing answers."""
    if not settings.backends:
        return "### No backend is configured yet\n" + SETUP_HELP
    if infos and not any(info.healthy for info in infos):
        down = "\n".join(f"- **{spec.label}**: {info.error}"
                         for spec, info in zip(settings.backends, infos, strict=True))
        return f"### None of the configured backends answers\n{down}\n\n{SETUP_HELP}"
    return ""


async def probe_all(settings: Settings, backends: Mapping[str, Backend]) -> tuple[list[list[object]], Any]:
    """Probe every backend concurrently: the table rows, and the setup help (shown if none answers)."""
    infos = await asyncio.gather(*(backends[s.id].info() for s in settings.backends))
    help_text = setup_help(settings, infos)
    rows = [info_row(spec, info) for spec, info in zip(settings.backends, infos, strict=True)]
    return rows, gr.Markdown(help_text, visible=bool(help_text))


@dataclass
class RecentProbe:
    """The last probe of every backend, reused by page loads younger than ``max_age_s``.

    Without it every visitor's page load sends each backend an ``/info`` request; Refresh
    always probes anew (``fresh``). Loads arriving together share one probe.
    """

    settings: Settings
    backends: Mapping[str, Backend]
    max_age_s: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _last: tuple[float, tuple[list[list[object]], Any]] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def fresh(self) -> tuple[list[list[object]], Any]:
        """Probe every backend now and remember the result."""
        result = await probe_all(self.settings, self.backends)
        self._last = (self.clock(), result)
        return result

    async def recent(self) -> tuple[list[list[object]], Any]:
        """The remembered result if young enough, else a fresh probe."""
        async with self._lock:
            if self._last is not None and self.clock() - self._last[0] < self.max_age_s:
                return self._last[1]
            return await self.fresh()


def build_setup_help(settings: Settings) -> gr.Markdown:
    """The setup help, visible from the start when no backend is configured."""
    text = setup_help(settings)
    return gr.Markdown(text, visible=bool(text), elem_id="setup-help")


def rows_for(rows: list[list[object]], operator: bool) -> list[list[object]]:
    """The table as a caller may see it: internal URLs for operators only.

    Example:
        >>> rows_for([["8B", "tgi", "http://10.0.0.5:8080", "up"]], operator=False)
        [['8B', 'tgi', '(operators only)', 'up']]
    """
    url = COLUMNS.index("URL")
    return rows if operator else [[*row[:url], "(operators only)", *row[url + 1:]] for row in rows]


def health_of(settings: Settings, rows: Sequence[Sequence[object]]) -> dict[str, bool]:
    """Backend id -> did it answer, from the probe's table rows (in ``settings.backends`` order).

    Example:
        >>> health_of(Settings(backends=(BackendSpec("a", "A", "http://x"),)), [["A", "tgi", "", "down"]])
        {'a': False}
    """
    health = COLUMNS.index("Health")
    return {spec.id: row[health] == "up" for spec, row in zip(settings.backends, rows, strict=True)}


def build_backends_tab(settings: Settings, backends: Mapping[str, Backend], help_box: gr.Markdown,
                       is_operator: Callable[[gr.Request], bool]) -> tuple[gr.Dataframe, Callable[..., Any]]:
    """Lay out the Backends tab; Refresh probes anew. Returns the table and what a page load runs
    (the table, the setup help and each backend's health for the Compare panes, see :func:`health_of`)."""
    table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, elem_id="backends-table", wrap=True)
    refresh = gr.Button("Refresh", size="sm", elem_id="backends-refresh")
    probe = RecentProbe(settings, backends)

    async def refresh_table(request: gr.Request) -> tuple[list[list[object]], Any]:
        rows, help_update = await probe.fresh()
        return rows_for(rows, is_operator(request)), help_update

    async def load_table(request: gr.Request) -> tuple[list[list[object]], Any, dict[str, bool]]:
        rows, help_update = await probe.recent()
        return rows_for(rows, is_operator(request)), help_update, health_of(settings, rows)

    refresh.click(refresh_table, None, [table, help_box], api_name="backends")
    return table, load_table
