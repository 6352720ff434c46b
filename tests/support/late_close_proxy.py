"""A TCP relay that shows a client a server's idle close only when the client next sends.

A server closes a keep-alive connection after it idled ``keep_alive_s``; a client whose event
loop is busy (under load) has not yet read that close when it picks the connection from its
pool and sends the next request on it, which then fails before any answer. This relay makes
that race certain: when the server closes an idle connection, the relay keeps the client's
side open, and the next bytes the client sends are answered by a reset (nothing is sent on).

    with LateCloseProxy(server.url) as proxy:
        ...  # talk to proxy.url; proxy.connections, proxy.dropped
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from urllib.parse import urlsplit


class LateCloseProxy:
    """Relays 127.0.0.1:<port> to ``target``, one upstream connection per client connection."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._connections = 0
        self._dropped = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="late-close-proxy")
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """Client connections accepted."""
        with self._lock:
            return self._connections

    @property
    def dropped(self) -> int:
        """Requests that arrived on a connection the server had closed (answered by a reset)."""
        with self._lock:
            return self._dropped

    def start(self) -> LateCloseProxy:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, sock=sock), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()
        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> LateCloseProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        server_closed = asyncio.Event()

        async def downstream() -> None:
            while data := await upstream_reader.read(65536):
                client_writer.write(data)
                await client_writer.drain()
            server_closed.set()  # the close is not passed on: the client learns of it by sending

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if server_closed.is_set():
                    with self._lock:
                        self._dropped += 1
                    client_writer.transport.abort()  # a reset, as a closed socket answers
                    return
                upstream_writer.write(data)
                await upstream_writer.drain()

        down = asyncio.create_task(downstream())
        try:
            await upstream()
        finally:
            down.cancel()
            for writer in (upstream_writer, client_writer):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
