"""A fake Hugging Face Hub on 127.0.0.1 (point ``HF_ENDPOINT`` at ``FakeHubServer.url``).

It speaks the few endpoints ``huggingface_hub`` uses to create a dataset repo, commit small
files (preupload + NDJSON commit, "regular" upload mode), download them again
(``snapshot_download``: repo info, tree, ``resolve``) and say who a token is, keeps the committed bytes in memory,
and records every request (method, path, Authorization header) so tests can check what
was sent and with which token. Hand-written because no library serves the Hub's API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

REPO = r"/(?P<repo>[^/]+/[^/]+)"


@dataclass
class HubState:
    """What the fake Hub holds: dataset repos (path -> bytes), commits, and the requests it saw."""

    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    commits: list[tuple[str, list[str]]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sha(self, repo: str) -> str:
        """A commit id that changes with every commit to ``repo``."""
        return hashlib.sha1(f"{repo}:{sum(1 for r, _ in self.commits if r == repo)}".encode()).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    state: HubState

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._reply(status, json.dumps(data).encode())

    def _not_found(self) -> None:
        self._reply(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _record(self) -> None:
        with self.state.lock:
            self.state.requests.append((self.command, self.path, self.headers.get("Authorization") or ""))

    def do_POST(self) -> None:  # noqa: N802 — http.server's naming
        self._record()
        path, st = self.path.split("?")[0], self.state
        if path == "/api/repos/create":
            data = json.loads(self._body())
            repo = f"{data['organization']}/{data['name']}"
            with st.lock:
                st.repos.setdefault(repo, {})
            return self._json(200, {"url": f"http://{self.headers['Host']}/datasets/{repo}"})
        if path == "/api/validate-yaml":  # a dataset card's front matter must be YAML
            card = json.loads(self._body())["content"]
            try:
                yaml.safe_load(card.split("---\n")[1] if card.startswith("---\n") else "")
            except yaml.YAMLError as exc:
                return self._json(400, {"errors": [{"message": str(exc)}]})
            return self._json(200, {})
        if m := re.fullmatch(rf"/api/datasets{REPO}/preupload/[^/]+", path):
            files = json.loads(self._body())["files"]
            return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                              for f in files]})
        if m := re.fullmatch(rf"/api/datasets{REPO}/commit/[^/]+", path):
            repo = m["repo"]
            lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
            files = {v["value"]["path"]: base64.b64decode(v["value"]["content"]) for v in lines if v["key"] == "file"}
            with st.lock:
                if repo not in st.repos:
                    return self._not_found()
                st.repos[repo].update(files)
                st.commits.append((repo, sorted(files)))
                sha = st.sha(repo)
            url = f"http://{self.headers['Host']}/datasets/{repo}/commit/{sha}"
            return self._json(200, {"commitUrl": url, "commitOid": sha})
        self._reply(404)

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        path, st = self.path.split("?")[0], self.state
        if path == "/api/whoami-v2":  # Gradio's local OAuth stand-in asks who the token belongs to
            return self._json(200, {"type": "user", "name": "space-owner", "fullname": "Space Owner",
                                    "avatarUrl": ""})
        if m := re.fullmatch(rf"/api/datasets{REPO}(?:/revision/[^/]+)?", path):
            with st.lock:
                files = st.repos.get(m["repo"])
                sha = st.sha(m["repo"])
            if files is None:
                return self._not_found()
            return self._json(200, {"id": m["repo"], "sha": sha, "private": True,
                                    "siblings": [{"rfilename": p} for p in sorted(files)]})
        if m := re.fullmatch(rf"/api/datasets{REPO}/tree/[^/]+", path):  # every file (recursive)
            with st.lock:
                files = dict(st.repos.get(m["repo"], {}))
            return self._json(200, [{"type": "file", "path": p, "size": len(data),
                                     "oid": hashlib.sha1(data).hexdigest()} for p, data in sorted(files.items())])
        if m := re.fullmatch(rf"/datasets{REPO}/resolve/[^/]+/(?P<file>.+)", path):
            with st.lock:
                data = st.repos.get(m["repo"], {}).get(m["file"])
                sha = st.sha(m["repo"])
            if data is None:
                return self._reply(404, b"{}", {"X-Error-Code": "EntryNotFound"})
            etag = f'"{hashlib.sha1(data).hexdigest()}"'
            return self._reply(200, data, {"ETag": etag, "X-Repo-Commit": sha}, "application/octet-stream")
        self._reply(404)

    do_HEAD = do_GET


@dataclass
class FakeHubServer:
    """A running fake Hub: its base URL and its state."""

    url: str
    state: HubState

    def files(self, repo: str) -> dict[str, bytes]:
        """Every file of ``repo`` as last committed."""
        with self.state.lock:
            return dict(self.state.repos.get(repo, {}))


@contextmanager
def fake_hub() -> Iterator[FakeHubServer]:
    """Serve a fake Hub on a free port of 127.0.0.1 for the ``with`` block."""
    state = HubState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeHubServer(f"http://127.0.0.1:{server.server_address[1]}", state)
    finally:
        server.shutdown()
        server.server_close()


def point_hub_client_at(monkeypatch: Any, url: str) -> None:
    """In this process, what ``HF_ENDPOINT=url`` does when set before ``huggingface_hub`` is imported.

    (Subprocesses get ``HF_ENDPOINT`` in their environment instead.)
    """
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_URL_HOSTS", constants.HF_URL_HOSTS | {"127.0.0.1"})
