"""The start-up removal of Gradio's costs changes nothing Gradio computes or hands over (signatures and
matplotlib in a fresh interpreter; sessions, the queue's summary and inline preprocessing on the real page)."""

from __future__ import annotations

import json
import subprocess
import sys

import gradio as gr
from gradio import state_holder
from gradio.state_holder import SessionState

from playground.ui.gradio_costs import CopiedConfigSessionState
from playground.ui.inputs import preprocessed

SCRIPT = r"""
import importlib.util, inspect, json, sys
import gradio as gr
from gradio.blocks import Block
from playground.ui.gradio_costs import _block_classes, remove_per_call_costs

def page():
    with gr.Blocks() as demo:
        with gr.Row():
            box = gr.Textbox("hi", label="Message", elem_id="m")
            gr.Chatbot(label="Pane A", buttons=["copy"])
        with gr.Accordion("More", open=False):
            gr.Dropdown(["a", "b"], value="a")
            gr.Slider(0, 2, value=0.7)
        gr.Button("Send").click(lambda t: t, box, box)
    return [(c["type"], c["props"]) for c in demo.get_config_file()["components"]]  # ids differ between pages

def signatures():
    return {c.__qualname__ + str(id(c)): str(inspect.signature(c.__init__)) for c in set(_block_classes())}

before_config, before_sigs = page(), signatures()
missing = importlib.util.find_spec("matplotlib") is None
remove_per_call_costs()
after_config, after_sigs = page(), signatures()
try:
    import matplotlib  # noqa: F401
    imported = True
except ImportError:
    imported = False
update = gr.Button(interactive=False, render=False).get_config()
print(json.dumps({"same_config": json.dumps(before_config, sort_keys=True, default=str)
                                  == json.dumps(after_config, sort_keys=True, default=str),
                  "same_signatures": before_sigs == after_sigs, "classes": len(after_sigs),
                  "pinned": "__signature__" in vars(gr.Textbox.__init__), "missing": missing, "imported": imported,
                  "update_interactive": update.get("interactive")}))
"""


def test_pinned_signatures_and_the_matplotlib_short_cut_change_nothing_gradio_computes() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["pinned"] and result["classes"] > 40  # every component and layout class
    assert result["same_signatures"] and result["same_config"]
    assert result["update_interactive"] is False  # a component built after pinning keeps its arguments
    assert result["imported"] is not result["missing"]  # import matplotlib: fails only where it is not installed


def _app() -> gr.Blocks:
    from app import build_app
    from playground.settings import load_settings
    from playground.store.db import open_store

    settings = load_settings(["--backend", "Alpha=http://127.0.0.1:9"], env={"HERMES_SECRET": "s" * 32})
    return build_app(settings, open_store("sqlite://"))[0]


def test_a_new_session_gets_the_configs_gradio_would_build_and_its_own_copies() -> None:
    demo = _app()
    assert state_holder.SessionState is CopiedConfigSessionState  # what StateHolder makes for a new session
    built, copied = SessionState(demo), CopiedConfigSessionState(demo)
    assert vars(built).keys() == vars(copied).keys()  # nothing of Gradio's __init__ left out
    assert copied.config_values == built.config_values and len(copied.config_values) > 300
    assert (built.blocks_config.blocks, built.is_closed, built.STATE_TTL_WHEN_CLOSED) == (
        copied.blocks_config.blocks, copied.is_closed, copied.STATE_TTL_WHEN_CLOSED)
    # a session's value (what Gradio writes in place) stays that session's
    other = CopiedConfigSessionState(demo)
    message = next(k for k, c in copied.config_values.items() if c["props"].get("elem_id") == "message")
    copied._update_value_in_config(message, "typed in one session")
    assert copied.config_values[message]["props"]["value"] == "typed in one session"
    assert other.config_values[message]["props"].get("value") == built.config_values[message]["props"].get("value")
    assert CopiedConfigSessionState(demo).config_values == built.config_values


def test_the_queue_keeps_no_event_history_to_summarise() -> None:
    queue = _app()._queue
    assert queue.ANALYTICS_MAX_EVENTS == 1
    before = queue.cached_event_analytics_summary
    queue.events_recorded += 1_000
    assert queue.compute_analytics_summary([{"function": "send", "status": "success", "process_time": 1.0}]) is before


async def test_turn_listeners_take_their_inputs_preprocessed_inline_as_gradio_would() -> None:
    demo = _app()
    fns = [fn for fn in demo.fns.values() if fn.api_name in ("send", "regenerate")]
    assert len(fns) == 2 and not any(fn.preprocess for fn in fns)  # no worker-thread round trip per input
    send = fns[0]
    message = next(i for i, b in enumerate(send.inputs) if getattr(b, "elem_id", None) == "message")
    defaults = [getattr(b, "value", None) for b in send.inputs]
    odd = list(defaults)
    odd[message] = 42  # a script's number in a text box: Gradio hands the handler "42"
    for payload in (defaults, odd):
        ours = preprocessed(dict(zip(send.inputs, payload, strict=True)))
        send.preprocess = True  # what Gradio would have handed over, its own way
        try:
            gradio = await demo.preprocess_data(send, list(payload), CopiedConfigSessionState(demo))
        finally:
            send.preprocess = False
        shown = [(ours[b], g) for b, g in zip(send.inputs, gradio, strict=True) if not b.stateful]
        assert all(a == b and type(a) is type(b) for a, b in shown) and len(shown) > 30
    assert ours[send.inputs[message]] == "42"
