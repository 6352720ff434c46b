"""A public deployment attacked through its raw Gradio API: every listener called by ``fn_index``
(queue and ``run/predict``) as an anonymous client and as a signed-in non-operator; the operator
path; quotas, consent, one turn per session, a bounded queue and session floods.

The real app (``python app.py``) runs over TGI test servers; the Hub is a fake on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from playground.access.pseudonym import pseudonym
from playground.access.users import hash_password
from playground.store.db import VoteFilter, iter_votes_with_turns, open_store
from tests.support import raw_gradio as raw
from tests.support.app_process import running_apps
from tests.support.gradio_api import GradioApi
from tests.support.public_deployment import HUB_TOKEN, REPO, SECRET, public_config
from tests.support.tgi_protocol import Behavior

DENIED = "Only operators may browse, export or push"


@pytest.fixture(scope="module")
def own_apps(servers, hub, tmp_path_factory) -> Iterator[dict[str, tuple[str, str]]]:
    """(url, store URL) of this module's public apps of their own, started together so their start-ups overlap:
    ``users`` signs in from a users file (olivia is an operator, nick is not); ``flood`` queues 2 turns at most,
    runs 1 at a time and lets an address open 6 sessions an hour."""
    users_tmp, flood_tmp = tmp_path_factory.mktemp("users"), tmp_path_factory.mktemp("flood")
    users = users_tmp / "users.toml"
    users.write_text("".join(f'[[users]]\nname = "{name}"\npassword = "{hash_password(name + "-password")}"\n'
                             for name in ("olivia", "nick")))
    configs = {"users": public_config(servers, hub, users_tmp, "--users-file", str(users), "--operators", "olivia",
                                      "--vote-policy", "signed-in"),
               "flood": public_config(servers, hub, flood_tmp, "--queue-size", "2", "--max-turns", "1",
                                      "--quota-sessions-per-address", "6/hour")}
    with running_apps([(args, env) for args, env, _ in configs.values()], timeout_s=120) as started:
        yield {name: (url, db) for (name, (_, _, db)), (url, _) in zip(configs.items(), started, strict=True)}


@pytest.fixture
def users_app(own_apps) -> tuple[str, str]:
    """Sign-in from a users file: olivia is an operator, nick is not."""
    return own_apps["users"]


@contextmanager
def signed_in(url: str, name: str) -> Iterator[httpx.Client]:
    """A client signed in through Gradio's login form (its session cookie kept)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.post("/login", data={"username": name, "password": f"{name}-password"})
        assert response.status_code == 200, response.text
        yield client


def component_id(conf: dict[str, Any], elem_id: str) -> int:
    return next(c["id"] for c in conf["components"] if c.get("props", {}).get("elem_id") == elem_id)


def data_listeners(conf: dict[str, Any]) -> list[dict[str, Any]]:
    """Listeners that export, push, or show the vote count (data browsing)."""
    count = component_id(conf, "data-count")
    return [d for d in conf["dependencies"]
            if str(d.get("api_name") or "").startswith(("export_", "push_to_hub")) or count in d["outputs"]]


def call_every_listener(client: httpx.Client) -> dict[int, raw.RawResult]:
    """Each listener once, with the page's default inputs, in a fresh session of its own."""
    conf = raw.config(client)
    return {dep["id"]: raw.call(client, dep, raw.defaults(conf, dep), raw.new_session())
            for dep in conf["dependencies"]}


def assert_no_data_access(client: httpx.Client, hub: Any) -> None:
    before = len(hub.state.requests)
    results = call_every_listener(client)
    conf = raw.config(client)
    guarded = data_listeners(conf)
    assert len(guarded) >= 6, "exports (4), push, and the vote count must be found"
    for dep in guarded:
        result = results[dep["id"]]
        opening_the_tab = result.success and "votes match" not in result.text  # shows the notice instead
        refused = not result.success and DENIED in result.text
        assert refused or opening_the_tab, (dep.get("api_name"), result.text[:300])
    for result in results.values():
        assert "votes match" not in result.text and "Exported" not in result.text and HUB_TOKEN not in result.text
    assert len(hub.state.requests) == before, "the Hub must receive nothing"
    assert client.get("/gradio_api/info").status_code == 200, "the app still serves"


def test_anonymous_callers_cannot_browse_export_or_push(public_app, hub):
    with httpx.Client(base_url=public_app[0], timeout=60) as client:
        page_config = client.get("/config").text
        assert SECRET not in page_config and SECRET.encode().hex()[:16] not in page_config, "the pseudonym key"
        assert HUB_TOKEN not in page_config
        assert_no_data_access(client, hub)
        conf = raw.config(client)
        push = next(d for d in conf["dependencies"] if d.get("api_name") == "push_to_hub")
        # A client cannot name the target: extra values are ignored or refused, never used.
        forged = raw.call(client, push, [None, None, [], [], False, "attacker-org/loot", False], raw.new_session())
        assert not forged.success
    assert "attacker-org/loot" not in hub.state.repos and not hub.state.commits


def test_signed_in_non_operators_cannot_browse_export_or_push(users_app, hub):
    with signed_in(users_app[0], "nick") as client:
        assert_no_data_access(client, hub)


def test_operators_export_and_push_to_the_configured_repo(users_app, hub):
    url, db = users_app
    with signed_in(url, "olivia") as client:
        conf = raw.config(client)
        deps = {d.get("api_name"): d for d in conf["dependencies"]}
        session = raw.new_session()
        send = deps["send"]
        values = raw.defaults(conf, send)
        values[send["inputs"].index(component_id(conf, "message"))] = "Which is better?"
        assert raw.call(client, send, values, session).success
        assert raw.call(client, deps["store_turn"], raw.defaults(conf, deps["store_turn"]), session).success
        assert raw.call(client, deps["accept_terms"], [None], session).success
        vote = raw.call(client, deps["vote_a"], raw.defaults(conf, deps["vote_a"]), session)
        assert vote.success, vote.text[-500:]
        exported = raw.call(client, deps["export_battles_jsonl"], raw.defaults(conf, deps["export_battles_jsonl"]),
                            raw.new_session())
        assert exported.success, exported.text[-500:]
        path = exported.output["data"][0][0]["path"]  # the export, then its dataset card
        rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
        assert rows and {r["judge"] for r in rows} == {pseudonym(SECRET.encode(), "user", "olivia")}
        assert session not in Path(path).read_text(), "a session hash is a credential: never exported"
        pushed = raw.call(client, deps["push_to_hub"], raw.defaults(conf, deps["push_to_hub"]), raw.new_session())
        assert pushed.success, pushed.text[-500:]
    assert set(hub.state.repos) == {REPO}
    files = hub.files(REPO)
    assert any(name.endswith(".parquet") for name in files) and "README.md" in files
    assert all(session.encode() not in content for content in files.values())


def visitor(api: GradioApi, accept: bool = True) -> str:
    """An anonymous browser: its id, and (if asked) the accepted notice."""
    browser_id = "b" * 10 + api.session_hash.ljust(12, "0")
    api.client.predict(browser_id, api_name="/visit")
    if accept:
        api.client.predict(api_name="/accept_terms")
    return browser_id


def test_consent_comes_before_the_first_vote_and_its_version_is_stored(public_app):
    url, db = public_app
    api = GradioApi(url)
    browser_id = visitor(api, accept=False)
    api.call("/send", Message="Consent?")
    api.call("/store_turn")
    with pytest.raises(Exception, match="accept the notice"):
        api.call("/vote_a")
    api.client.predict(api_name="/accept_terms")
    api.call("/vote_a")
    store = open_store(db, create=False)
    voter = pseudonym(SECRET.encode(), "browser", browser_id)
    (item,) = iter_votes_with_turns(store, VoteFilter(user_ids=[voter]))
    assert item.vote.terms_version == "2026-12-01" and item.turn.user_id == voter
    store.close()
    raw_db = Path(db.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in raw_db.parent.glob(raw_db.name + "*"))
    assert api.session_hash.encode() not in stored, "a session hash is a credential: never stored"
    api.close()


def test_turn_and_vote_quotas_refuse_with_the_limit_named(public_app):
    api = GradioApi(public_app[0])
    visitor(api)
    for i in range(3):
        api.call("/send", Message=f"turn {i}")
        api.call("/store_turn")
        api.call("/vote_a")
    api.call("/send", Message="turn 3")  # the fourth turn of this minute is allowed
    api.call("/store_turn")
    with pytest.raises(Exception, match="limit of 3 votes per day"):
        api.call("/vote_b")
    with pytest.raises(Exception, match="limit of 4 turns per minute"):
        api.call("/send", Message="turn 4")
    api.close()


def test_a_session_has_one_turn_at_a_time(public_app, servers):
    url = public_app[0]
    servers["alpha"].enqueue(Behavior(ttft=4.0, text="slow"))
    with httpx.Client(base_url=url, timeout=60) as client:
        conf = raw.config(client)
        send = next(d for d in conf["dependencies"] if d.get("api_name") == "send")
        data = raw.defaults(conf, send)
        data[send["inputs"].index(component_id(conf, "message"))] = "Take your time"
        session = raw.new_session()
        join = {"data": data, "event_data": None, "fn_index": send["id"], "trigger_id": None, "session_hash": session}
        asked = len(servers["alpha"].requests)
        assert client.post("/gradio_api/queue/join", json=join).status_code == 200
        assert servers["alpha"].wait_for_requests(asked + 1, timeout=60), "the first turn never reached its backend"
        second = client.post("/gradio_api/queue/join", json=join)
        assert second.status_code == 429 and "already running" in second.json()["detail"]
        other = raw.call(client, send, data, raw.new_session())
        assert other.success, "another session is not held up"


def test_bounded_queue_and_session_floods(own_apps, servers):
    url = own_apps["flood"][0]
    api = GradioApi(url)  # a real user, before the flood
    visitor(api)
    with httpx.Client(base_url=url, timeout=60) as client:
        conf = raw.config(client)
        send = next(d for d in conf["dependencies"] if d.get("api_name") == "send")
        servers["alpha"].enqueue(*[Behavior(ttft=1.5, text="slow")] * 3)
        data = raw.defaults(conf, send)
        data[send["inputs"].index(component_id(conf, "message"))] = "Wait in line"
        codes = []
        for _ in range(4):
            join = client.post("/gradio_api/queue/join", json={
                "data": data, "event_data": None, "fn_index": send["id"],
                "trigger_id": None, "session_hash": raw.new_session()})
            codes.append((join.status_code, join.text))
        assert any(code == 503 and "Queue is full" in text for code, text in codes), codes
        refused = [raw.call_direct(client, 0, [], raw.new_session()).status for _ in range(10)]
        assert 429 in refused, "new sessions beyond the address's quota are refused before Gradio sees them"
        assert b"Too many new sessions" in client.post("/gradio_api/run/predict", json={
            "data": [], "fn_index": 0, "session_hash": raw.new_session()}).content
        deadline = time.monotonic() + 60  # the slow turns drain (one at a time) until none waits
        while client.get("/gradio_api/queue/status").json()["queue_size"] and time.monotonic() < deadline:
            time.sleep(0.1)
    api.call("/send", Message="still here")
    api.call("/store_turn")
    assert "Vote saved" in api.call("/vote_a")[-2], "the real user's state survived the flood"
    api.close()


def test_unknown_listeners_and_oversized_bodies_get_clear_refusals(public_app):
    with httpx.Client(base_url=public_app[0], timeout=60) as client:
        bad = client.post("/gradio_api/queue/join", json={"data": [], "fn_index": 99999, "session_hash": "abc"})
        assert bad.status_code == 400 and "no listener" in bad.json()["detail"]
        big = client.post("/gradio_api/queue/join", content=b'{"data": ["' + b"x" * 3_000_000 + b'"]}',
                          headers={"content-type": "application/json"})
        assert big.status_code == 413 and "larger than" in big.json()["detail"]


def test_gradio_monitoring_routes_are_off(public_app):
    """On by default in Gradio: a public summary of every listener's calls, and a dashboard of the event log (with
    each event's session id) whose key ``/monitoring`` prints to the server's log."""
    with httpx.Client(base_url=public_app[0], timeout=60) as client:
        for path in ("/monitoring", "/monitoring/summary", "/monitoring/any-key"):
            response = client.get(path)
            assert response.status_code == 403 and "not enabled" in response.text, path


def test_routes_that_write_to_disk_and_that_the_page_never_uses_are_closed(public_app):
    """Open in Gradio to anyone: file uploads (1 MB each, no count limit), the footer's screen-recording converter
    (ffmpeg on what it is sent) and deep links (a new file of the session's values per call)."""
    with httpx.Client(base_url=public_app[0], timeout=60) as client:
        conf, session = raw.config(client), raw.new_session()
        visit = next(d for d in conf["dependencies"] if d.get("api_name") == "visit")
        assert raw.call(client, visit, raw.defaults(conf, visit), session).success  # the session exists now
        upload = client.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * 1000, "text/plain")})
        assert upload.status_code == 404 and "no file uploads" in upload.json()["detail"]
        recording = client.post("/gradio_api/process_recording/", files={"video": ("r.mp4", b"x", "video/mp4")})
        assert recording.status_code == 404 and "screen recordings" in recording.json()["detail"]
        link = client.get("/gradio_api/deep_link", params={"session_hash": session})
        assert link.status_code == 404 and "no deep links" in link.json()["detail"]
