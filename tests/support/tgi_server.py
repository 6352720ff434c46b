"""A TGI-protocol test server on 127.0.0.1: real HTTP and server-sent events (PROTOCOLS.md §5).

In tests::

    with TGITestServer(behavior=Behavior(ttft=0.1, rate=50)) as server:
        server.enqueue(Behavior(failure="http_429"))   # next generation request only
        ...  # talk to server.url
        assert server.wait_for_disconnects(1, timeout=2)

From a shell (serves until SIGINT/SIGTERM)::

    python -m tests.support.tgi_server --port 8081 --ttft 0.2 --rate 20 --tokens 60

Each authorised generation or chat request consumes one queued Behavior (FIFO, even if it then
fails validation), else uses `server.behavior`. Streams follow real TGI: validation errors on
`/generate_stream` (and streaming `/`) arrive after HTTP 200 as an error event; `/generate`
answers them with HTTP 422. Mode "openai" serves only the OpenAI-style routes and `/health`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import socket
import threading
import time
from collections import deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.support import tgi_protocol as proto
from tests.support.tgi_protocol import Behavior, ValidationFailure
from tests.support.tgi_stream import Exchange, chat_stream, stream_error, tgi_stream, whole

DEFAULT_MODEL = "NousResearch/Hermes-3-Llama-3.1-8B"
Reply = Response | Exchange


class TGITestServer:
    """One scriptable TGI server running uvicorn in a background thread with its own loop."""

    def __init__(
        self, behavior: Behavior | None = None, *, model_id: str = DEFAULT_MODEL,
        max_total_tokens: int = 8192, max_input_tokens: int | None = None,
        api_key: str | None = None, mode: str = "tgi", host: str = "127.0.0.1", port: int = 0,
        keep_alive_s: float = 5.0, echo_headers: bool = False,
    ) -> None:
        """``keep_alive_s``: idle connections are closed after this long (uvicorn's default, so vLLM's);
        ``echo_headers``: every error (401, HTTP failures, error events) quotes the request's headers,
        as some gateways do."""
        if mode not in ("tgi", "openai"):
            raise ValueError("mode must be 'tgi' or 'openai'")
        self.model_id, self.api_key, self.mode = model_id, api_key, mode
        self.keep_alive_s, self.echo_headers = keep_alive_s, echo_headers
        self.max_total_tokens = max_total_tokens
        self.max_input_tokens = max_input_tokens or max_total_tokens - 1
        self.healthy = True
        self._host, self._port = host, port
        self._cond = threading.Condition()
        self._behavior = behavior or Behavior()
        self._queue: deque[Behavior] = deque()
        self._requests: list[dict[str, Any]] = []
        self._disconnect_times: list[float] = []
        self._completed = 0
        self.info_requests = 0  # GET /info, counted on the server's loop
        self._active: set[asyncio.Task[str]] = set()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._uvicorn: uvicorn.Server | None = None
        self.app = build_app(self)

    # --- scripting and observation (any thread) ---------------------------------------------

    @property
    def behavior(self) -> Behavior:
        with self._cond:
            return self._behavior

    @behavior.setter
    def behavior(self, value: Behavior) -> None:
        with self._cond:
            self._behavior = value

    def enqueue(self, *behaviors: Behavior) -> None:
        """Queue behaviors for the next generation requests, one each, in order."""
        with self._cond:
            self._queue.extend(behaviors)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Generation/chat requests received: path, body, headers, started_at (monotonic)."""
        with self._cond:
            return list(self._requests)

    @property
    def disconnects(self) -> int:
        """Responses the client abandoned (closed the connection) before the server finished."""
        with self._cond:
            return len(self._disconnect_times)

    @property
    def disconnect_times(self) -> list[float]:
        with self._cond:
            return list(self._disconnect_times)

    @property
    def completed(self) -> int:
        """Generations that delivered their final token event or full 200 body."""
        with self._cond:
            return self._completed

    @property
    def active(self) -> int:
        """Generation responses in progress."""
        with self._cond:
            return len(self._active)

    def wait_for_disconnects(self, n: int, timeout: float = 30.0) -> bool:
        """Block until at least n disconnects were seen; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._disconnect_times) >= n, timeout)

    def wait_for_completed(self, n: int, timeout: float = 30.0) -> bool:
        """Block until at least n generations completed; False on timeout.

        A client can read the final event before the server's generator has counted it."""
        with self._cond:
            return self._cond.wait_for(lambda: self._completed >= n, timeout)

    def wait_for_requests(self, n: int, timeout: float = 30.0) -> bool:
        """Block until at least n generation requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= n, timeout)

    def reset(self) -> None:
        """Forget recorded requests, counters and queued behaviors (keeps the default)."""
        with self._cond:
            self._queue.clear()
            self._requests.clear()
            self._disconnect_times.clear()
            self._completed = 0

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def start(self, timeout: float = 10.0) -> TGITestServer:
        """Bind, serve in a background thread, return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2,
                                timeout_keep_alive=self.keep_alive_s)  # type: ignore[arg-type] — uvicorn takes seconds as a float
        self._uvicorn = uvicorn.Server(config)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True,
                                        name=f"tgi-test-server-{self._port}")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"test server on port {self._port} did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Cut open streams, shut uvicorn down and join its thread."""
        if self._thread is None or self._uvicorn is None:
            return
        self._stopping = True
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._cancel_active)
            except RuntimeError:  # loop closed meanwhile
                pass
        self._uvicorn.should_exit = True
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> TGITestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            assert self._uvicorn is not None
            loop.run_until_complete(self._uvicorn.serve(sockets=[sock]))
        finally:
            loop.close()
            sock.close()

    def _cancel_active(self) -> None:
        with self._cond:
            tasks = list(self._active)
        for task in tasks:
            task.cancel()

    # --- hooks used by the app (server thread) ------------------------------------------------

    def _record(self, request: Request, body: Any) -> None:
        entry = {"path": request.url.path, "body": body, "headers": dict(request.headers),
                 "started_at": time.monotonic()}
        with self._cond:
            self._requests.append(entry)
            self._cond.notify_all()

    def _next_behavior(self, request: Request) -> Behavior:
        with self._cond:
            behavior = self._queue.popleft() if self._queue else self._behavior
        if not self.echo_headers:
            return behavior
        failure = behavior.http_failure()
        message = failure[1]["error"] if failure else behavior.event_error()[0]
        return dataclasses.replace(behavior, error_message=f"{message} {_echo(request)}")

    def _authorized(self, request: Request) -> bool:
        return self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}"

    def _stream_began(self, task: asyncio.Task[str]) -> None:
        with self._cond:
            self._active.add(task)

    def _stream_ended(self, task: asyncio.Task[str], outcome: str) -> None:
        with self._cond:
            self._active.discard(task)
            if outcome == "disconnect" and not self._stopping:
                self._disconnect_times.append(time.monotonic())
            elif outcome == "completed":
                self._completed += 1
            self._cond.notify_all()

    def metrics_text(self) -> str:
        with self._cond:
            total, done = len(self._requests), self._completed
            dropped, active = len(self._disconnect_times), len(self._active)
        return (
            "# TYPE tgi_request_count counter\n"
            f"tgi_request_count {total}\n"
            "# TYPE tgi_request_success counter\n"
            f"tgi_request_success {done}\n"
            "# TYPE tgi_request_failure counter\n"
            f'tgi_request_failure{{err="dropped"}} {dropped}\n'
            "# TYPE tgi_queue_size gauge\n"
            f"tgi_queue_size {active}\n"
        )


# --- HTTP app ---------------------------------------------------------------------------------


def renew(*servers: TGITestServer, behavior: Behavior | None = None) -> None:
    """Ready servers that a module's tests share (behind one app start-up) for the next test: forget what
    they recorded and queued, and answer with ``behavior`` (the default Behavior when None)."""
    for server in servers:
        server.reset()
        server.behavior = behavior or Behavior()


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _echo(request: Request) -> str:
    """What an echoing gateway adds to its errors: the request line and headers."""
    return f"(request: POST {request.url} headers {json.dumps(dict(request.headers))})"


def _deserialize_error(detail: str) -> Response:
    """axum's answer to a body that does not fit the request type."""
    return PlainTextResponse(
        f"Failed to deserialize the JSON body into the target type: {detail}", status_code=422)


def _unauthorized(server: TGITestServer, request: Request) -> Response:
    if server.echo_headers:
        return JSONResponse({"error": f"Unauthorized {_echo(request)}", "error_type": "authentication"},
                            status_code=401)
    return Response(status_code=401)


def build_app(server: TGITestServer) -> Starlette:
    """The Starlette app; every route reads and writes state on `server`."""

    async def admit(request: Request) -> tuple[Any, Behavior | None, Reply | None]:
        """Record, authorise, pick a behavior; a response here ends the request early."""
        body = _json_or_text(await request.body())
        server._record(request, body)
        if not server._authorized(request):
            return body, None, _unauthorized(server, request)
        behavior = server._next_behavior(request)
        failure = behavior.http_failure()
        if failure is not None:
            return body, behavior, JSONResponse(failure[1], status_code=failure[0])
        if not isinstance(body, dict):
            return body, behavior, PlainTextResponse(
                "Failed to parse the request body as JSON", status_code=400)
        return body, behavior, None

    async def generate(request: Request) -> Reply:
        body, behavior, early = await admit(request)
        if early is not None:
            return early
        assert behavior is not None
        path = request.url.path
        stream = path == "/generate_stream" or (path == "/" and body.get("stream") is True)
        inputs, params = body.get("inputs"), body.get("parameters") or {}
        if not isinstance(inputs, str) or not isinstance(params, dict):
            return _deserialize_error("invalid `inputs` or `parameters`")
        try:
            gen = proto.validate(inputs, params, max_total_tokens=server.max_total_tokens,
                                 max_input_tokens=server.max_input_tokens, stream=stream)
        except ValidationFailure as exc:
            if stream:
                return Exchange(server, stream_error(exc.body()))
            return JSONResponse(exc.body(), status_code=422)
        except (TypeError, ValueError) as exc:
            return _deserialize_error(str(exc))
        result = proto.plan(behavior.reply_pieces(inputs), gen)
        if stream:
            return Exchange(server, tgi_stream(behavior, gen, result))
        answer = proto.generate_response(result, gen)
        return Exchange(server, whole(behavior, result, [answer] if path == "/" else answer))

    async def chat(request: Request) -> Reply:
        body, behavior, early = await admit(request)
        if early is not None:
            return early
        assert behavior is not None
        if not isinstance(body.get("messages"), list):
            return _deserialize_error("missing field `messages`")
        stream = body.get("stream") is True
        try:
            prompt, params = proto.chat_to_params(body)
            gen = proto.validate(prompt, params, max_total_tokens=server.max_total_tokens,
                                 max_input_tokens=server.max_input_tokens, stream=False)
        except ValidationFailure as exc:
            if stream:
                event = proto.chat_error_event(exc.body()["error"], "validation")
                return Exchange(server, stream_error(event))
            return JSONResponse(exc.body(), status_code=422)
        except (TypeError, ValueError) as exc:
            return _deserialize_error(str(exc))
        result = proto.plan(behavior.reply_pieces(prompt), gen)
        model = server.model_id  # TGI names its own model whatever the request says
        if stream:
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Exchange(server, chat_stream(behavior, model, gen, result, usage))
        return Exchange(server, whole(behavior, result, proto.chat_completion(model, result, gen)))

    async def tokenize(request: Request) -> Response:
        if not server._authorized(request):
            return _unauthorized(server, request)
        body = _json_or_text(await request.body())
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), str):
            return _deserialize_error("missing field `inputs`")
        return JSONResponse(proto.tokenize(body["inputs"]))

    async def info(_: Request) -> Response:
        server.info_requests += 1
        return JSONResponse(proto.info(server.model_id, server.max_input_tokens,
                                       server.max_total_tokens))

    async def health(_: Request) -> Response:
        if server.healthy:
            return Response(status_code=200)
        return JSONResponse({"error": "unhealthy", "error_type": "healthcheck"}, status_code=503)

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(server.metrics_text())

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": server.model_id, "object": "model", "created": 0, "owned_by": server.model_id}]})

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    if server.mode == "tgi":
        routes += [
            Route("/", generate, methods=["POST"]),
            Route("/generate", generate, methods=["POST"]),
            Route("/generate_stream", generate, methods=["POST"]),
            Route("/tokenize", tokenize, methods=["POST"]),
            Route("/info", info, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    return Starlette(routes=routes)


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--text", default=Behavior.text)
    parser.add_argument("--model-id", default=DEFAULT_MODEL)
    parser.add_argument("--max-total-tokens", type=int, default=8192)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--mode", choices=["tgi", "openai"], default="tgi")
    parser.add_argument("--keep-alive", type=float, default=5.0,
                        help="close idle connections after this many seconds (uvicorn's default: 5)")
    args = parser.parse_args(argv)
    behavior = Behavior(ttft=args.ttft, rate=args.rate, tokens=args.tokens, text=args.text)
    server = TGITestServer(behavior, model_id=args.model_id, max_total_tokens=args.max_total_tokens,
                           api_key=args.api_key, mode=args.mode, host=args.host, port=args.port,
                           keep_alive_s=args.keep_alive)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    print(f"listening on {server.url}", flush=True)
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
