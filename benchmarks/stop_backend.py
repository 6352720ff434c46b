"""A TGI-protocol test server that also tells when its clients hung up (for ``benchmarks.stop_latency``).

    python -m benchmarks.stop_backend --port 8081 --ttft 0.2 --rate 50 --tokens 1000

Serves ``tests.support.tgi_server`` unchanged plus ``GET /disconnects``: ``{"requests": n,
"completed": n, "disconnects": [t, …]}``, each ``t`` the server's ``time.monotonic()`` when a client closed a
stream before its end. The clock is the machine's, so the benchmark compares it with its own.
"""

from __future__ import annotations

import argparse
import signal
import threading

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import TGITestServer


def with_disconnect_log(server: TGITestServer) -> TGITestServer:
    """Add ``GET /disconnects`` to ``server`` (before it starts)."""

    async def disconnects(_: Request) -> JSONResponse:
        return JSONResponse({"requests": len(server.requests), "completed": server.completed,
                             "disconnects": server.disconnect_times})

    server.app.router.routes.append(Route("/disconnects", disconnects, methods=["GET"]))
    return server


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM (the arguments of ``benchmarks.procs.start_tgi_servers``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ttft", type=float, default=0.0)
    p.add_argument("--rate", type=float, default=None)
    p.add_argument("--tokens", type=int, default=None)
    p.add_argument("--keep-alive", type=float, default=5.0)
    args = p.parse_args(argv)
    server = with_disconnect_log(TGITestServer(Behavior(ttft=args.ttft, rate=args.rate, tokens=args.tokens),
                                               port=args.port, keep_alive_s=args.keep_alive))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    print(f"listening on {server.url}", flush=True)
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
