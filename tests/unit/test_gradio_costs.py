"""The start-up removal of Gradio's per-call costs changes nothing Gradio computes (run in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

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
