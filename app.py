"""Hermes Playground: compare Hermes models side by side (``python app.py``; Spaces runs this)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import gradio as gr

from playground.backends.registry import build_backends
from playground.settings import Settings, load_settings
from playground.ui.backends import SETUP_HELP, build_backends_tab, probe_all
from playground.ui.compare import build_compare, wire_compare

TITLE = "Hermes Playground"


def build_app(settings: Settings) -> gr.Blocks:
    """Build the whole app for these settings (tests build as many as they like)."""
    backends = build_backends(settings)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nCompare Hermes 3 and other ChatML models side by side.")
        if not settings.backends:
            gr.Markdown(SETUP_HELP, elem_id="setup-help")
        with gr.Tab("Compare"):
            compare = build_compare(settings)
        with gr.Tab("Backends"):
            table, _ = build_backends_tab(settings, backends)
        wire_compare(compare, settings, backends)

        async def load_table() -> list[list[object]]:
            return await probe_all(settings, backends)

        demo.load(load_table, None, table)
    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    return demo


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and environment, then serve the app."""
    settings = load_settings(sys.argv[1:] if argv is None else argv)
    demo = build_app(settings)
    demo.launch(server_name=settings.host, server_port=settings.port,
                max_threads=settings.concurrency_limit, theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
