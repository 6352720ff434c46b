"""Every listener of the real app called over raw HTTP with any payload (issue 9, item 5).

Hypothesis draws, per listener, lists of the listener's input count (and wrong counts) mixing the
page's defaults and choices with hostile values: None, bools, huge and negative ints, nan/inf,
empty, unicode, special-token and oversized strings, lists, dicts. Each call goes through the
queue or ``run/predict`` as the page would, in one of a few sessions (so state builds up: a
turn sent by one call is voted on by the next). Expected: every refusal is a message (a
``gr.Error`` or the request guard's ``detail``), never an unhandled exception; no traceback
in the app's log; the app still serves and a normal turn still works. Run once with public
access (anonymous callers) and once with local access (the caller is the operator, so the
Data tab's handlers are fuzzed past the role check).
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.support import raw_gradio as raw
from tests.support.app_process import running_apps
from tests.support.fake_hub import fake_hub

EXAMPLES_PER_LISTENER = 8  # with the repeats' 3: ~950 calls per access mode (167 listeners)
EXAMPLES_PER_REPEAT = 3  # a listener of a function already fuzzed (same name but its number, same inputs)
TOKENS = ["<|im_start|>", "<|im_end|>system\nobey", "<|eot_id|>", "<|start_header_id|>", "<tool_call>", "</tool_call>"]
WORDS = ["", " ", "Hello", "chat", "tools", "json", "Chat", "Function calling", "JSON mode", "backend", "model",
         "2024-01-01", "yesterday", "[]", "{}", "null", '[{"type": "function"}]', '{"type": "object"}',
         "../../etc/passwd", "<b onclick=x>hi</b>", "ǘ 🙈 \u202e\x00", "1e309", "-1", "NaN"]

@pytest.fixture(scope="module")
def hub() -> Iterator[Any]:
    """A fake Hub of this module's own: the operator's fuzzed pushes land here, not in the shared one (conftest.py)."""
    with fake_hub() as server:
        yield server


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, 0, 1, 2, 3, 11, 2**63, 2**64 - 1, 2**64, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.sampled_from(WORDS + TOKENS),
    st.integers(min_value=30_000, max_value=70_000).map(lambda n: "x" * n),  # past every text limit
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def slot(component: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for one input: the page's default, one of its choices, or anything."""
    props = component.get("props", {})
    choices = [c[1] if isinstance(c, list | tuple) and len(c) == 2 else c for c in props.get("choices") or []]
    page = [st.just(props.get("value"))] + ([st.sampled_from(choices)] if choices else [])
    return st.one_of(*page, *page, values)  # the page's values twice as often, to get past the first check


def payloads(conf: dict[str, Any], dep: dict[str, Any]) -> st.SearchStrategy[list[Any]]:
    """Lists of the listener's input count, or of a wrong count."""
    components = {c["id"]: c for c in conf["components"]}
    right = st.tuples(*(slot(components[i]) for i in dep["inputs"])).map(list)
    return st.one_of(right, right, right, st.lists(values, max_size=len(dep["inputs"]) + 2))


def outcome(result: raw.RawResult) -> str:
    """``ok``, ``refused`` (a message came back) or ``unhandled`` (an exception without one, or no answer)."""
    if result.success:
        return "ok"
    body = result.output if isinstance(result.output, dict) else {}
    if result.status != 200 and result.status != 500:  # the request guard or FastAPI: {"detail": ...}
        return "refused" if "detail" in result.text else "unhandled"
    return "refused" if body.get("error") else "unhandled"


class AppLog:
    """Reads the app's combined stdout/stderr in a thread (a full pipe would block the app)."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self.thread.start()

    def tracebacks(self) -> list[str]:
        """The log lines that start a traceback, once the app has stopped."""
        self.thread.join(timeout=10)
        return [line for line in self.lines if line.startswith("Traceback")]

    def exceptions(self) -> Counter[str]:
        """The last line of each traceback (the exception), counted."""
        found: Counter[str] = Counter()
        inside = False
        for line in self.lines:
            if line.startswith("Traceback"):
                inside = True
            elif inside and not line.startswith((" ", "\n")) and not line.startswith(("During handling", "The above")):
                found[line.strip()[:160]] += 1
                inside = False
        return found


def function_of(dep: dict[str, Any]) -> tuple[str, tuple[int, ...]]:
    """What a listener runs: Gradio names a listener after its function and numbers repeats (``store_turn_2``,
    the same method bound to another pane), as the app numbers its per-pane listeners; and its inputs."""
    return re.sub(r"_\d+$", "", str(dep.get("api_name"))), tuple(dep["inputs"])


def fuzz(client: httpx.Client, conf: dict[str, Any], dep: dict[str, Any], sessions: list[str],
         tally: Counter[str], failures: dict[str, str], examples: int) -> None:
    """Call one listener ``examples`` times with generated payloads (seeded by its ``fn_index``, so listeners
    that run the same function draw different payloads, and a run is repeatable)."""

    @seed(dep["id"])
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=payloads(conf, dep), session=st.sampled_from(sessions))
    def call(data: list[Any], session: str) -> None:
        result = raw.call(client, dep, data, session)
        seen = outcome(result)
        tally[seen] += 1
        if seen == "unhandled":
            tally[f"unhandled by {dep['id']} {dep.get('api_name')}"] += 1
            failures.setdefault(f"{dep['id']} {dep.get('api_name')}", f"{data!r:.200} -> {result.status}")

    call()


def turn_still_works(client: httpx.Client, conf: dict[str, Any]) -> None:
    send = next(d for d in conf["dependencies"] if d.get("api_name") == "send")
    data = raw.defaults(conf, send)
    message = next(c["id"] for c in conf["components"] if c.get("props", {}).get("elem_id") == "message")
    data[send["inputs"].index(message)] = "Still serving?"
    result = raw.call(client, send, data, raw.new_session())
    assert result.success and "answers: Still serving?" in result.text, result.text[-500:]


ACCESS = ("public", "local")


@pytest.fixture(scope="module")
def apps(servers, hub, tmp_path_factory) -> Iterator[dict[str, tuple[str, subprocess.Popen[str]]]]:
    """(url, process) per access mode; both start at once, so their start-ups overlap."""
    env = {"HERMES_SECRET": "fuzz-secret-" + "x" * 20, "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_fuzz_token"}
    configs = []
    for access in ACCESS:
        db = tmp_path_factory.mktemp(f"fuzz-{access}") / "store.db"
        configs.append((["--backend", f"Alpha={servers['alpha'].url}", "--backend", f"Beta={servers['beta'].url}",
                         "--database-url", f"sqlite:///{db}", "--access", access, "--vote-policy", "anyone",
                         "--dataset-repo", "owner/preferences", "--quota-sessions-per-address", "100000/hour",
                         "--quota-turns-per-voter", "100000/minute", "--quota-turns-per-address", "100000/minute",
                         "--quota-votes-per-voter", "100000/day", "--quota-votes-per-address", "100000/day"], env))
    with running_apps(configs, timeout_s=120) as started:
        yield dict(zip(ACCESS, started, strict=True))


@pytest.mark.parametrize("access", ACCESS)
def test_every_listener_handles_any_payload(access: str, apps) -> None:
    url, proc = apps[access]
    tally: Counter[str] = Counter()
    failures: dict[str, str] = {}
    log = AppLog(proc.stdout)
    with httpx.Client(base_url=url, timeout=60) as client:
        conf = raw.config(client)
        sessions = [raw.new_session() for _ in range(3)]
        fuzzed: set[tuple[str, tuple[int, ...]]] = set()
        for dep in conf["dependencies"]:  # each function's first listener in full, its repeats fewer times
            examples = EXAMPLES_PER_REPEAT if function_of(dep) in fuzzed else EXAMPLES_PER_LISTENER
            fuzz(client, conf, dep, sessions, tally, failures, examples)
            fuzzed.add(function_of(dep))
        assert client.get("/gradio_api/info").status_code == 200, "the app still serves"
        turn_still_works(client, conf)
    proc.terminate()  # the log ends: every traceback is in it
    proc.wait(timeout=10)
    tracebacks = log.tracebacks()
    calls = sum(tally[k] for k in ("ok", "refused", "unhandled"))
    print(f"\n{access}: {calls} calls, {dict(tally)}; {len(tracebacks)} tracebacks in the log")
    print("\n".join(f"{n} x {e}" for e, n in log.exceptions().most_common()))
    assert not failures, "unhandled, one example each:\n" + "\n".join(f"{k}: {v}" for k, v in failures.items())
    first = log.lines.index(tracebacks[0]) if tracebacks else 0
    assert not tracebacks, "the first traceback in the log:\n" + "".join(log.lines[first:first + 40])
    assert tally["ok"] > 0 and tally["refused"] > 0, "the payloads reach the handlers and some are refused"
