"""The judge calibration panel over real HTTP: a Blocks holding only ``build_calibration`` on a real SQLite
store (the hand-counted set of ``test_judge_calibration``), served on 127.0.0.1. As the local operator
every handler answers and refuses bad values by name; on a public deployment an anonymous caller of the
raw API is refused by every listener."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

from playground.access.pseudonym import load_secret
from playground.settings import load_settings
from playground.store.db import open_store
from playground.ui.access import Gatekeeper, load_terms
from playground.ui.judge_calibration import build_calibration
from tests.integration.test_judge_calibration import JUDGE, VERSION, fill
from tests.integration.test_public_access import DENIED
from tests.support import raw_gradio as raw
from tests.support.app_process import free_port
from tests.support.gradio_api import GradioApi

CHOICE = f"{JUDGE} · {VERSION}"
LISTENERS = ("calibration_judges", "calibration", "calibration_read", "export_ai_dpo_jsonl")
SELECTED = {"index": [0, 0], "value": "x", "row_value": ["x", "A vs B"], "col_value": ["x"], "selected": True}


@pytest.fixture(scope="module", params=["local", "public"])
def panel(request, tmp_path_factory) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(access, url, turn ids by name) of a served calibration panel."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('cal') / 'store.db'}")
    ids = fill(store)
    settings = load_settings(["--backend", "Alpha=http://127.0.0.1:9", "--access", request.param],
                             env={"HERMES_SECRET": "s" * 32})
    gate = Gatekeeper(settings, load_secret({"HERMES_SECRET": "s" * 32}, "HERMES_SECRET", None),
                      load_terms(settings.assets_dir / "terms.md"))
    with gr.Blocks() as demo:
        build_calibration(store, gate, settings)
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield request.param, f"http://127.0.0.1:{port}", ids
    demo.close()
    store.close()


def rows(table: Any) -> list[list[Any]]:
    return table["data"] if isinstance(table, dict) else table


def test_the_operator_calibrates_reads_a_disagreement_and_exports(panel):
    access, url, ids = panel
    if access != "local":
        pytest.skip("the operator path is the local deployment's")
    api = GradioApi(url)
    try:
        judges = api.call("/calibration_judges")
        assert [c[1] for c in judges["choices"]] == [CHOICE, f"{JUDGE} · pw@2"] and judges["value"] == CHOICE
        note, figures, by_mode, _by_category, boards, disagreements = api.call("/calibration", **{
            "Judge · prompt version": CHOICE})
        values = {r[0]: r[1] for r in rows(figures)}
        assert values["Agreement with ties (3-way)"] == "50.0% (4/8)"
        assert values["Agreement without ties"] == "66.7% (4/6)" and values["Cohen's kappa, without ties"] == "0.333"
        assert values["Position consistency"] == "87.5% (7/8)"
        assert values["Judge picks the longer reply"].startswith("83.3% (5/6), 95% interval 43.6%–97.0%")
        assert {r[0]: r[1:3] for r in rows(by_mode)} == {"chat": [6, 3], "JSON": [2, 1]}
        assert len(rows(boards)) == 3 and "**4** disagreements" in note
        t4 = next(r for r in rows(disagreements) if r[0] == ids["T4"])
        assert t4[1] == "A vs B" and t4[5:8] == ["A", "tie", "inconsistent"]

        rationale, pane_a, pane_b = api.call("/calibration_read", **{
            "Judge · prompt version": CHOICE, "Turn id": ids["T4"], "Pair": "A vs B"})
        assert "because a/b on 0-1" in rationale and "final **inconsistent**" in rationale
        assert '{"a": 1}' in pane_a and '{"b": 22}' in pane_b

        files, line = api.call("/export_ai_dpo_jsonl", **{"Judge · prompt version": CHOICE})
        data = next(Path(f) for f in files if str(f).endswith(".jsonl"))
        exported = [json.loads(x) for x in data.read_text().splitlines()]
        assert len(exported) == 6 and {r["source"] for r in exported} == {"ai-judge"}
        assert "from 9 judgements" in line

        for values_, message in [({"Judge · prompt version": "nobody · v0"}, "Judge must be one of the stored judges"),
                                 ({"Turn id": "' OR 1=1 --", "Pair": "A vs B"}, "Turn id must be"),
                                 ({"Turn id": ids["T4"], "Pair": "A vs A"}, "Pair must name two different panes"),
                                 ({"Turn id": ids["T4"], "Pair": "A vs D"}, "This turn has panes A, B only")]:
            with pytest.raises(Exception, match=message):
                api.call("/calibration_read", **{"Judge · prompt version": CHOICE, **values_})
    finally:
        api.close()


def test_anonymous_callers_of_a_public_deployment_are_refused_by_every_listener(panel):
    access, url, ids = panel
    if access != "public":
        pytest.skip("the local deployment's caller on this machine is the operator")
    with httpx.Client(base_url=url, timeout=60) as client:
        conf = raw.config(client)
        deps = [d for d in conf["dependencies"] if d.get("backend_fn")]
        assert {d.get("api_name") for d in deps} >= set(LISTENERS)
        forged = {"calibration": [CHOICE, False], "calibration_read": [CHOICE, ids["T4"], "A vs B"],
                  "export_ai_dpo_jsonl": [CHOICE, True]}
        for dep in deps:
            values = forged.get(dep.get("api_name")) or raw.defaults(conf, dep)
            result = raw.call(client, dep, values, raw.new_session(), event_data=SELECTED)
            assert not result.success, (dep.get("api_name"), result.text[:300])
            assert "because a/b" not in result.text and "50.0%" not in result.text, "nothing of the data leaks"
            assert DENIED in result.text, (dep.get("api_name"), result.text[:300])  # the row select too
