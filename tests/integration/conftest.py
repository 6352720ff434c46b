"""Fixtures several integration modules share, each started once for the directory: two echo test servers,
a fake Hub, and a public deployment over them. A test that shares them reads only what it made."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.support.fake_hub import fake_hub
from tests.support.public_deployment import start
from tests.support.replies import echo
from tests.support.tgi_server import TGITestServer


@pytest.fixture(scope="package")
def servers() -> Iterator[dict[str, TGITestServer]]:
    """Echo servers ``alpha`` and ``beta`` (model ids ``test/alpha``, ``test/beta``)."""
    started = {name: TGITestServer(echo(name), model_id=f"test/{name}").start() for name in ("alpha", "beta")}
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(scope="package")
def hub() -> Iterator[Any]:
    """The fake Hub the public deployments push to."""
    with fake_hub() as server:
        yield server


@pytest.fixture(scope="package")
def public_app(servers, hub, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A public deployment, (url, store URL): anonymous voters allowed; small quotas so tests can reach them."""
    with ExitStack() as stack:
        yield start(stack, servers, hub, tmp_path_factory.mktemp("public"), "--vote-policy", "anyone",
                    "--quota-turns-per-voter", "4/minute", "--quota-votes-per-voter", "3/day")
