"""Pytest fixtures for the support servers; load with `pytest_plugins = ["tests.support.fixtures"]`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer

TGIServerFactory = Callable[..., TGITestServer]


@pytest.fixture
def tgi_server_factory() -> Iterator[TGIServerFactory]:
    """Call with TGITestServer's arguments to get a started server; all stop at teardown."""
    servers: list[TGITestServer] = []

    def make(**kwargs: Any) -> TGITestServer:
        server = TGITestServer(**kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def renew(*servers: TGITestServer, behavior: Behavior | None = None) -> None:
    """Ready servers shared by a module's tests (one app start-up) for the next test: forget what they
    recorded and queued, and answer with ``behavior`` (the default Behavior when None)."""
    for server in servers:
        server.reset()
        server.behavior = behavior or Behavior()
