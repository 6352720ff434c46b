"""The Docker Space: the Dockerfile follows Hugging Face's convention, and the app it describes starts as
uid 1000 from a read-only checkout, restores its store from the Hub log and writes new turns.

No Docker engine here: the second test does what the image does (the Dockerfile's files, its
environment with ``$HOME`` moved to a temporary home, an unprivileged uid 1000) with ``setpriv``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa
import yaml
from dockerfile_parse import DockerfileParser

from playground.store.db import get_turn, open_store, save_turn
from playground.store.restore import dumps, turn_line
from playground.store.synthetic import make_turn
from tests.support.app_process import ROOT, running_app
from tests.support.fake_hub import fake_hub
from tests.support.gradio_api import GradioApi
from tests.support.replies import echo

pytest_plugins = ["tests.support.fixtures"]

DOCKER_HOME = "/home/user"
REPO = "me/space-log"
# uid/gid 1000 with no group and no capability but reading (the interpreter here lives under /root,
# as a Space user's packages live in its ~/.local): it cannot write anything it does not own.
AS_UID_1000 = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
               "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


def _dockerfile() -> DockerfileParser:
    return DockerfileParser(str(ROOT / "Dockerfile"))


def _values(df: DockerfileParser, instruction: str) -> list[str]:
    return [i["value"] for i in df.structure if i["instruction"] == instruction]


def _copied(df: DockerfileParser) -> list[str]:
    """The checkout paths the image copies (``COPY --chown=user SRC... DEST``)."""
    return [src for value in _values(df, "COPY") for src in value.split()[1:-1]]


def test_dockerfile_follows_the_docker_space_convention():
    df = _dockerfile()
    order = [i["instruction"] for i in df.structure]
    assert re.search(r"\buseradd\b.*\s-u 1000\s+user\b", " ".join(_values(df, "RUN")))
    assert _values(df, "USER") == ["user"]
    assert order.index("USER") < order.index("WORKDIR") < order.index("COPY")  # nothing installed as root
    assert df.envs["HOME"] == DOCKER_HOME and df.envs["PATH"].startswith(f"{DOCKER_HOME}/.local/bin:")
    assert _values(df, "WORKDIR") == ["$HOME/app"]
    assert all(v.startswith("--chown=user ") for v in _values(df, "COPY"))
    assert {"requirements.txt", "app.py", "playground", "assets"} <= set(_copied(df))
    assert all((ROOT / src).exists() for src in _copied(df))
    assert df.envs["GRADIO_SERVER_NAME"] == "0.0.0.0" and _values(df, "EXPOSE") == [df.envs["GRADIO_SERVER_PORT"]]
    store_dir = Path(sa.make_url(df.envs["DATABASE_URL"]).database).parent
    assert store_dir.is_relative_to(DOCKER_HOME) and not store_dir.is_relative_to(f"{DOCKER_HOME}/app")
    assert re.search(r'CMD \["python", "app.py"\]', df.content)


def test_readme_documents_the_docker_front_matter_with_the_images_port():
    blocks = re.findall(r"```yaml\n(---\n.*?)---\n```", (ROOT / "README.md").read_text(), re.S)
    docker = [meta for meta in map(yaml.safe_load, blocks) if meta.get("sdk") == "docker"]
    assert docker and docker[0]["app_port"] == int(_values(_dockerfile(), "EXPOSE")[0])


@pytest.fixture
def read_only_checkout() -> Iterator[tuple[Path, Path]]:
    """(checkout, home): what the image copies, read-only for everyone; an empty home owned by uid 1000."""
    with tempfile.TemporaryDirectory(prefix="docker-space-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        checkout, home = root / "app", root / "home"
        checkout.mkdir()
        for src in _copied(_dockerfile()):
            if (ROOT / src).is_dir():
                shutil.copytree(ROOT / src, checkout / src, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(ROOT / src, checkout / src)
        for path in [checkout, *checkout.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        home.mkdir()
        os.chown(home, 1000, 1000)
        yield checkout, home


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to become uid 1000")
def test_the_app_starts_as_uid_1000_from_a_read_only_checkout_restores_and_writes_its_store(
        read_only_checkout, tgi_server_factory, tmp_path):
    checkout, home = read_only_checkout
    alpha = tgi_server_factory(behavior=echo("alpha"), model_id="test/alpha")
    beta = tgi_server_factory(behavior=echo("beta"), model_id="test/beta")
    env = {k: v.replace(DOCKER_HOME, str(home)) for k, v in _dockerfile().envs.items()}
    db_path = Path(sa.make_url(env["DATABASE_URL"]).database)
    seed = tmp_path / "seed.db"  # what an earlier run of the Space logged to the dataset repo
    seed_store = open_store(f"sqlite:///{seed}")
    logged = [get_turn(seed_store, save_turn(seed_store, make_turn(seed=s))) for s in (1, 2, 3)]
    before = _tree(checkout)
    with fake_hub() as hub:
        hub.state.repos[REPO] = {"log/turns-earlier.jsonl": b"".join(dumps(turn_line(t)) for t in logged)}
        env |= {"PATH": f"{env['PATH']}{os.environ['PATH']}", "SPACE_ID": "me/space", "HERMES_DATASET_REPO": REPO,
                "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_space_secret"}
        args = ["--backend", f"Alpha={alpha.url}", "--backend", f"Beta={beta.url}"]
        with running_app(args, env, cwd=checkout, prefix=AS_UID_1000) as (url, proc):
            assert httpx.get(f"{url}/", timeout=30).status_code == 200
            api = GradioApi(url)
            api.call("/send", Message="written by uid 1000")
            api.call("/store_turn")
            api.close()
        output = proc.stdout.read() if proc.stdout else ""
    assert db_path.exists() and db_path.stat().st_uid == 1000, output[-3000:]
    store = open_store(f"sqlite:///{db_path}", create=False)
    with store.engine.connect() as conn:
        ids = [r.id for r in conn.execute(sa.text("SELECT id FROM turns ORDER BY created_at"))]
    # restored on start (the synthetic turns' plain user ids are made pseudonyms at start, as legacy rows are)
    assert [replace(get_turn(store, t.id), user_id="") for t in logged] == [replace(t, user_id="") for t in logged]
    (new,) = set(ids) - {t.id for t in logged}
    assert get_turn(store, new).messages[-1].content == "written by uid 1000"
    store.close()
    (outbox,) = (db_path.parent / "hub-log" / "log").glob("turns-*.jsonl")  # beside the store, for the Hub
    assert orjson.loads(outbox.read_bytes().splitlines()[0])["id"] == new
    assert _tree(checkout) == before  # nothing written into the checkout
