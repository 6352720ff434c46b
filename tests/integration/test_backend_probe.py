"""Page loads reuse a recent probe of the backends; Refresh always asks the servers again."""

from __future__ import annotations

from playground.backends.registry import build_backends
from playground.settings import load_settings
from playground.ui.backends import RecentProbe

pytest_plugins = ["tests.support.fixtures"]


async def test_page_loads_share_a_recent_probe_and_refresh_probes_anew(tgi_server_factory):
    server = tgi_server_factory()
    settings = load_settings(["--backend", f"Local={server.url}"], {})
    now = [100.0]
    backends = build_backends(settings)
    probe = RecentProbe(settings, backends, max_age_s=15, clock=lambda: now[0])
    try:
        rows, _ = await probe.recent()
        assert rows[0][3] == "up" and server.info_requests == 1
        now[0] += 10
        assert (await probe.recent())[0] == rows and server.info_requests == 1
        await probe.fresh()
        assert server.info_requests == 2
        now[0] += 16
        await probe.recent()
        assert server.info_requests == 3
    finally:
        for backend in backends.values():
            await backend.aclose()
