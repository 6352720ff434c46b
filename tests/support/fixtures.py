"""Pytest fixtures for the support servers; load with `pytest_plugins = ["tests.support.fixtures"]`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

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
