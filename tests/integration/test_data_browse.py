"""The Data tab's reading handlers through the real app: as the local operator they list turns and
votes, open one turn side by side, count and rate; as an anonymous caller of a public deployment
(raw Gradio API, any payload) every one is refused on the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.test_public_access import DENIED
from tests.support import raw_gradio as raw
from tests.support.app_process import running_app
from tests.support.gradio_api import GradioApi

READERS = ("data_browse", "data_turn", "data_counts", "data_raters")


@pytest.fixture(scope="module")
def local_api(servers, tmp_path_factory) -> Iterator[GradioApi]:
    db = f"sqlite:///{tmp_path_factory.mktemp('browse') / 'store.db'}"
    args = ["--backend", f"Alpha={servers['alpha'].url}", "--backend", f"Beta={servers['beta'].url}",
            "--database-url", db, "--recheck-rate", "0"]
    with running_app(args) as (url, _):
        api = GradioApi(url)
        yield api
        api.close()


def table_rows(table: Any) -> list[list[Any]]:
    return table["data"] if isinstance(table, dict) else table


def test_operator_lists_opens_counts_and_rates(local_api):
    api = local_api
    for message, kind in (("Browse me <b>bold</b>", "a"), ("Not voted", None)):
        api.call("/send", Message=message, Panes=2, **{"Pane A": "alpha", "Pane B": "beta",
                                                         "System prompt": "Be exact."})
        api.call("/store_turn")
        if kind:
            api.call(f"/vote_{kind}")
    table, note = api.call("/data_browse", Page=1)
    rows = table_rows(table)
    assert "of **2**" in note and len(rows) == 2
    voted = next(r for r in rows if r[5].startswith("Browse me"))
    assert voted[2] == "chat" and voted[4] == "A: alpha · B: beta" and voted[6] == "A is better"
    assert voted[7].startswith("v1:"), "raters are pseudonyms"
    assert next(r for r in rows if r[5] == "Not voted")[6] == ""

    meta, *panes = api.call("/data_turn", **{"Turn id": voted[1]})
    pane_a, pane_b = (p["value"] for p in panes[:2])
    assert all(p.get("visible") is False for p in panes[2:]), "unused pane slots are hidden"
    assert voted[1] in meta and "A is better" not in meta and "**a**" in meta
    assert "Pane A — Alpha" in pane_a and "test/alpha" in pane_a and "Be exact." in pane_a
    assert "alpha answers: Browse me" in pane_a and "beta answers: Browse me" in pane_b
    assert "<b>" not in pane_a.replace("```text\nBrowse me <b>bold</b>", ""), "text outside code blocks is inert"

    _day_plot, _model_plot, counts = api.call("/data_counts")
    by_model = {r[0]: r for r in table_rows(counts)}
    assert by_model["test/alpha"][2:] == [2, 1] and by_model["test/beta"][2:] == [2, 1]  # turns, votes

    note, raters = api.call("/data_raters")
    assert "**1** raters, **0** flagged" in note and len(table_rows(raters)) == 1

    empty, note = api.call("/data_browse", Page=5)
    assert table_rows(empty) == [] and "no rows of **2**" in note
    with pytest.raises(Exception, match="No stored turn has the id"):
        api.call("/data_turn", **{"Turn id": "0" * 36})
    with pytest.raises(Exception, match="Turn id must be"):
        api.call("/data_turn", **{"Turn id": "' OR 1=1 --"})


@pytest.mark.parametrize("page", [0, -1, 1.5e9, "2", True])
def test_a_bad_page_number_is_refused_by_name(local_api, page):
    conf_client = httpx.Client(base_url=local_api.client.src, timeout=60)
    conf = raw.config(conf_client)
    dep = next(d for d in conf["dependencies"] if d.get("api_name") == "data_browse")
    values = raw.defaults(conf, dep)
    values[-1] = page
    result = raw.call(conf_client, dep, values, raw.new_session())
    conf_client.close()
    assert not result.success and "Page must be" in result.text


def test_anonymous_callers_of_a_public_app_cannot_read(public_app):
    with httpx.Client(base_url=public_app[0], timeout=60) as client:
        conf = raw.config(client)
        deps = {d.get("api_name"): d for d in conf["dependencies"]}
        forged = {"data_turn": ["0" * 36], "data_browse": [None, None, [], [], False, 1]}
        for name in READERS:
            values = forged.get(name) or raw.defaults(conf, deps[name])
            result = raw.call(client, deps[name], values, raw.new_session())
            assert not result.success and DENIED in result.text, (name, result.text[:300])
