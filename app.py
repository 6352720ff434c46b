"""Hermes Playground: compare Hermes models side by side (``python app.py``; Spaces runs this)."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

import gradio as gr
from starlette.middleware import Middleware

from playground.access.guard import RequestGuard, SessionGate
from playground.access.identity import BROWSER_ID
from playground.access.pseudonym import is_pseudonym, key_file_for, legacy_pseudonym, load_secret, public_key_for
from playground.access.users import check_login, read_users
from playground.backends.registry import build_backends
from playground.judging.background import JudgeQueue
from playground.judging.prompts import choose_judge_prompt, judge_presets
from playground.judging.runner import JudgeFactory
from playground.replicas import serve_processes
from playground.settings import Settings, load_settings
from playground.store.db import Store, open_store
from playground.store.hub import log_folder, open_space_vote_log
from playground.store.migrate import upgrade_store
from playground.store.restore import restore_space_store
from playground.ui.access import Gatekeeper, Visitor, load_terms, new_browser_id, turn_probe
from playground.ui.api import wire_api
from playground.ui.backends import build_backends_tab, build_setup_help
from playground.ui.compare import TURNS, build_compare, wire_compare
from playground.ui.data import build_data_tab
from playground.ui.gradio_costs import remove_per_call_costs, skip_event_analytics
from playground.ui.inputs import payload_problem
from playground.ui.judge import build_judge_tab, turns_at_capacity
from playground.ui.leaderboard import build_leaderboard_tab
from playground.ui.pane_head import wire_pane_heads
from playground.ui.vote import build_vote, wire_vote

TITLE = "Hermes Playground"


def build_app(settings: Settings, store: Store | None = None) -> tuple[gr.Blocks, SessionGate]:
    """Build the whole app for these settings (tests build as many as they like).

    ``store`` defaults to the preference store at ``settings.database_url``. Returns the Blocks
    and the gate that the request guard in front of them applies (see :func:`main`).
    """
    remove_per_call_costs()  # Gradio's per-call inspect.signature, failed matplotlib imports, per-session configs
    backends = build_backends(settings)
    store = store or open_store(settings.database_url)
    secret = load_secret(os.environ, settings.secret_env, key_file_for(settings.database_url))
    gate = Gatekeeper(settings, secret, load_terms(settings.assets_dir / "terms.md"))
    upgrade_store(store, legacy_pseudonym(secret), is_pseudonym)
    restore_space_store(store, settings.space_id, settings.dataset_repo, settings.hub_token_env)
    upgrade_store(store, legacy_pseudonym(secret), is_pseudonym)  # rows restored from an older log
    hub_log = open_space_vote_log(settings.space_id, settings.dataset_repo, settings.hub_token_env,
                                  log_folder(settings.database_url))
    # ``busy`` is defined once the Blocks exist (below); the judge asks it only while running.
    judges = JudgeFactory(backends, settings.judge_concurrency, lambda: busy(), settings.request_timeout_s)
    judge_prompt = choose_judge_prompt(settings.judge_prompt, settings.judge_prompt_file, settings.assets_dir / "judge")
    judge_queue = (JudgeQueue(judges.judge(settings.judge, judge_prompt), store)
                   if settings.judge_when == "every-turn" and settings.judge else None)
    # Gradio's cached copies of exported files are deleted after an hour.
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600)) as demo:
        with gr.Row():
            gr.Markdown(f"# {TITLE}\nCompare Hermes 3 and other ChatML models side by side.")
            if settings.oauth:
                gr.LoginButton(scale=0, min_width=220)
        help_box = build_setup_help(settings)
        visitor = gr.State(Visitor())
        browser = gr.BrowserState(None, storage_key="hermes-visitor", secret=public_key_for(secret, "browser-state"))
        health = gr.State({})  # backend id -> answered the page load's probe (the Compare panes' badges)
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone every tab stays in sight, none in a menu
            with gr.Tab("Compare"):
                compare = build_compare(settings)
                with compare.after_turn:
                    vote = build_vote(gate.terms.text, [p.rank for p in compare.panes])
            with gr.Tab("Data") as data_tab:
                build_data_tab(settings, store, data_tab, gate)
            with gr.Tab("Leaderboard") as leaderboard_tab:
                build_leaderboard_tab(settings, store, leaderboard_tab)
            with gr.Tab("Judge") as judge_tab:
                build_judge_tab(settings, store, judge_tab, gate, judges, judge_presets(settings.assets_dir / "judge"))
            with gr.Tab("Backends"):
                table, load_table = build_backends_tab(settings, backends, help_box,
                                                       lambda request: gate.identify(request).operator)
        turn_events = wire_compare(compare, settings, backends, gate, visitor)
        show_heads = wire_pane_heads(compare.panes, compare.blind, health)
        wire_vote(vote, compare, turn_events, store, settings, gate, visitor, hub_log,
                  judge_queue.submit if judge_queue else None)
        wire_api(turn_events.actions, store, gate, visitor, hub_log, judge_queue.submit if judge_queue else None)

        def visit(stored: object, current: object) -> tuple[str, Visitor, object]:
            """A page load: the browser's anonymous id (new if it has none) and the consent notice."""
            browser_id = stored if isinstance(stored, str) and BROWSER_ID.match(stored) else new_browser_id()
            terms = current.terms if isinstance(current, Visitor) else None
            now = Visitor(browser_id, terms)
            return browser_id, now, gr.Column(visible=gate.needs_consent(now))

        demo.load(load_table, None, [table, help_box, health], api_visibility="private").then(
            *show_heads, queue=False, api_visibility="private", show_progress="hidden")
        demo.load(visit, [browser, visitor], [browser, visitor, vote.consent], api_name="visit")
    busy = turns_at_capacity(demo, TURNS, settings.max_turns)  # the judge waits while users' turns are at capacity
    # Waiting users get their queue position on joining and every 2 s, not a broadcast to every
    # waiting user each time a turn starts ("auto"), which costs O(queue) messages per turn.
    # api_open=False: listeners that use the queue cannot be called past it with a plain POST.
    demo.queue(default_concurrency_limit=settings.concurrency_limit, status_update_rate=2,
               max_size=settings.queue_size, api_open=False)
    skip_event_analytics(demo._queue)  # a pandas summary after every event, for the monitoring routes turned off
    session_gate = SessionGate(quotas=gate.quotas if gate.public else None, proxy_hops=settings.proxy_hops,
                               max_body_bytes=settings.max_request_bytes, max_known_sessions=4 * settings.max_sessions,
                               turn_busy=turn_probe(demo, TURNS), fn_exists=lambda fn_index: fn_index in demo.fns,
                               payload_problem=lambda fn_index, body: payload_problem(demo.fns[fn_index], body))
    return demo, session_gate


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and environment, then serve the app."""
    args = sys.argv[1:] if argv is None else argv
    settings = load_settings(args)
    if settings.processes > 1:
        sys.exit(serve_processes(settings, args, settings.processes))
    demo, gate = build_app(settings)
    # Everything built so far (Gradio, the page's blocks and their configs) lives as long as the process: kept out of
    # every later garbage collection. Young collections every 20,000 new objects, not 700: the full ones that follow
    # every 100 young ones walk every session's page config (~100-350 ms pauses of the event loop at K = 10).
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    users = read_users(settings.users_file) if settings.users_file else None
    demo.launch(server_name=settings.host, server_port=settings.port,
                max_threads=settings.concurrency_limit, state_session_capacity=settings.max_sessions,
                enable_monitoring=False,  # its public summary and the event log (with session ids) behind a key
                theme=gr.themes.Soft(), max_file_size="1mb",
                # layout and keys Gradio has no option for: a pinned message box, contrast, Enter on an empty box
                css_paths=[settings.assets_dir / "app.css"], js=(settings.assets_dir / "app.js").read_text("utf-8"),
                auth=(lambda name, password: check_login(users, name, password)) if users else None,
                auth_message="Sign in with your Hermes Playground account." if users else None,
                app_kwargs={"middleware": [Middleware(RequestGuard, gate=gate)]})


if __name__ == "__main__":
    main()
