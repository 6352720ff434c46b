"""Where the app's CPU goes: record it with py-spy, then group the samples by stage and by package.

py-spy samples a running process from outside (no code change, little overhead); its ``raw``
output is one line per distinct stack, ``frame;frame;… count``, each frame ``func (file:line)``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# Stage of a sample = the first of these (in this order) with a frame in the callback the event
# loop is running (the frames below asyncio's ``Handle._run``: uvicorn's server sits at the root of
# every stack); samples outside any callback are the loop's own work (select, scheduling).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("backend stream (playground/backends + hub client + httpx2)", ("playground/backends/",)),
    ("turn merge (playground/compare/run.py)", ("playground/compare/run.py",)),
    ("pane formatting (playground/ui)", ("playground/ui/",)),
    ("gradio per-yield processing (postprocess, diff)", ("gradio/blocks.py", "gradio/components/",
                                                         "gradio/processing_utils.py", "gradio/data_classes.py",
                                                         "gradio/utils.py", "gradio_client/")),
    ("gradio queue + SSE messages", ("gradio/queueing.py", "gradio/routes.py", "gradio/server_messages.py",
                                     "gradio/route_utils.py")),
    ("HTTP server (uvicorn, starlette, fastapi, h11)", ("uvicorn/", "starlette/", "fastapi/", "h11/",
                                                       "httptools")),
    ("event loop (asyncio, selectors)", ("asyncio/", "selectors.py", "anyio/")),
)

# Package of a leaf frame (self time), by path fragment; the first match wins.
PACKAGES: tuple[tuple[str, str], ...] = (
    ("huggingface_hub/", "huggingface_hub"), ("httpx2/", "httpx2"), ("httpcore2/", "httpcore2"),
    ("httpx/", "httpx"), ("httpcore/", "httpcore"), ("h11/", "h11"), ("playground/", "playground"),
    ("gradio/", "gradio"), ("gradio_client/", "gradio_client"), ("pydantic", "pydantic"),
    ("orjson", "orjson"), ("uvicorn/", "uvicorn"), ("starlette/", "starlette"), ("fastapi/", "fastapi"),
    ("anyio/", "anyio"), ("asyncio/", "asyncio"), ("json/", "json (stdlib)"), ("dataclasses.py", "dataclasses"),
    ("ssl.py", "ssl"), ("copy.py", "copy"), ("typing.py", "typing"), ("re/", "re"),
)


def available() -> bool:
    """Whether the py-spy executable is on PATH (``pip install py-spy``)."""
    return shutil.which("py-spy") is not None


def start_recording(pid: int, duration_s: float, out: Path, rate_hz: int = 100) -> subprocess.Popen[bytes]:
    """Start ``py-spy record`` on ``pid`` for ``duration_s``.

    ``--gil``: only the thread holding the GIL is sampled, i.e. Python CPU time (idle worker
    threads waiting on a queue would otherwise count); ``--nonblocking``: the app is never paused.
    """
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s))),
                             "--rate", str(rate_hz), "--gil", "--nonblocking", "--format", "raw",
                             "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """Stacks (root first, frames as ``func (file:line)``) with their sample counts."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _file(frame: str) -> str:
    match = _FRAME.match(frame)
    return match.group("file") if match else frame


LOOP_STAGE = "event loop (asyncio, selectors)"


def stage_of(stack: tuple[str, ...]) -> str:
    """The stage a stack's CPU belongs to: the first of ``STAGES`` its running callback names."""
    paths = [_file(frame) for frame in stack]
    runs = [i for i, frame in enumerate(stack) if frame.startswith("Handle._run ") and "asyncio/events.py" in frame]
    if runs:
        paths = paths[runs[-1] + 1:]
    elif any("asyncio/" in p for p in paths):
        return LOOP_STAGE
    for name, fragments in STAGES:
        if any(f in path for path in paths for f in fragments):
            return name
    return "other"


def package_of(frame: str) -> str:
    """The package a leaf frame's code belongs to (self time)."""
    path = _file(frame)
    for fragment, name in PACKAGES:
        if fragment in path:
            return name
    return "other (stdlib / builtins)"


@dataclass
class Profile:
    """Samples grouped three ways; each value is a share of all samples (0..1)."""

    samples: int
    stages: dict[str, float]
    packages: dict[str, float]
    functions: dict[str, float]  # top leaf functions (self time)


def summarize(stacks: Counter[tuple[str, ...]], top: int = 15) -> Profile:
    """Shares by stage (inclusive), by package and by function of the leaf frame (self)."""
    total = sum(stacks.values()) or 1
    stages: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for stack, count in stacks.items():
        stages[stage_of(stack)] += count
        leaf = stack[-1] if stack else "?"
        packages[package_of(leaf)] += count
        functions[re.sub(r":\d+\)$", ")", leaf)] += count
    share = lambda c: {k: v / total for k, v in c.most_common()}  # noqa: E731
    return Profile(sum(stacks.values()), share(stages), share(packages),
                   {k: v / total for k, v in functions.most_common(top)})
