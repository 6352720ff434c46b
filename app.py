"""Hermes Playground: compare Hermes models side by side (``python app.py``; Spaces runs this)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import gradio as gr

from playground.backends.registry import build_backends
from playground.settings import Settings, load_settings
from playground.store.db import Store, open_store
from playground.store.hub import log_folder, open_space_vote_log
from playground.store.restore import restore_space_store
from playground.ui.backends import build_backends_tab, build_setup_help
from playground.ui.compare import build_compare, wire_compare
from playground.ui.data import build_data_tab
from playground.ui.leaderboard import build_leaderboard_tab
from playground.ui.vote import build_vote, wire_vote

TITLE = "Hermes Playground"


def build_app(settings: Settings, store: Store | None = None) -> gr.Blocks:
    """Build the whole app for these settings (tests build as many as they like).

    ``store`` defaults to the preference store at ``settings.database_url``.
    """
    backends = build_backends(settings)
    store = store or open_store(settings.database_url)
    restore_space_store(store, settings.space_id, settings.dataset_repo, settings.hub_token_env)
    hub_log = open_space_vote_log(settings.space_id, settings.dataset_repo, settings.hub_token_env,
                                  log_folder(settings.database_url))
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nCompare Hermes 3 and other ChatML models side by side.")
        help_box = build_setup_help(settings)
        with gr.Tab("Compare"):
            compare = build_compare(settings)
            with compare.after_turn:
                vote = build_vote(settings)
        with gr.Tab("Data") as data_tab:
            build_data_tab(settings, store, data_tab)
        with gr.Tab("Leaderboard") as leaderboard_tab:
            build_leaderboard_tab(settings, store, leaderboard_tab)
        with gr.Tab("Backends"):
            table, probe = build_backends_tab(settings, backends, help_box)
        turn_events = wire_compare(compare, settings, backends)
        wire_vote(vote, compare, turn_events, store, settings, backends, hub_log)
        demo.load(probe.recent, None, [table, help_box])
    # Waiting users get their queue position on joining and every 2 s, not a broadcast to every
    # waiting user each time a turn starts ("auto"), which costs O(queue) messages per turn.
    demo.queue(default_concurrency_limit=settings.concurrency_limit, status_update_rate=2)
    return demo


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and environment, then serve the app."""
    settings = load_settings(sys.argv[1:] if argv is None else argv)
    demo = build_app(settings)
    demo.launch(server_name=settings.host, server_port=settings.port,
                max_threads=settings.concurrency_limit, state_session_capacity=settings.max_sessions,
                theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
