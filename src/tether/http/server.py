"""Running the gateway or the demo with uvicorn: in the foreground (the CLI) or on a thread (tests, benches)."""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import logging
import signal
import socket
import threading
from types import FrameType, TracebackType

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.errors import ConfigError


def server_options() -> dict[str, str]:
    """uvicorn's HTTP protocol and event loop: ``httptools`` and ``uvloop`` when they are installed (the ``http``
    extra installs them, uvloop only where it builds: not on Windows or PyPy), else uvicorn's pure-Python ``h11``
    and asyncio's own loop. The gateway behaves the same either way; with them it spends less CPU per request
    and per SSE value delivered (docs/benchmarks.md)."""
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return {"http": http, "loop": loop}


def run(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted. On Ctrl-C (or SIGTERM) open SSE responses end at once, as if their
    clients had left, so the server stops without waiting for them or cancelling them mid-write; then the
    signal is raised again (``KeyboardInterrupt`` for Ctrl-C), for the caller to exit as it would have.

    The port is bound before the app starts up, so an app that launches DBOS at startup (the demo) never
    launches, and recovers workflows, only to find the port taken.

    Raises:
        KeyboardInterrupt: the server was stopped with Ctrl-C.
        ConfigError: ``host``:``port`` cannot be listened on (taken by another server, or not an address here).
    """
    sock = listening_socket(host, port)
    ending = EndStreamsOnExit(app)
    config = uvicorn.Config(ending, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=3,
                            **server_options())  # type: ignore[arg-type]
    try:
        _Server(config, ending).run(sockets=[sock])
    finally:
        sock.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (as uvicorn binds it), not yet accepting.

    Raises:
        ConfigError: the address is in use or cannot be bound here.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = "; another server is listening there: stop it or choose another --port" \
            if exc.errno == errno.EADDRINUSE else ""
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ending: EndStreamsOnExit) -> None:
        super().__init__(config)
        self._ending = ending

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if sockets is not None and self.started:  # uvicorn says where it listens only for sockets it bound
            host, port = sockets[0].getsockname()[:2]
            logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)",
                                                    f"[{host}]" if ":" in host else host, port)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if sig in (signal.SIGINT, signal.SIGTERM):
            self._ending.stop()


class EndStreamsOnExit:
    """ASGI middleware: after :meth:`stop`, every request still waiting on its client (an SSE response
    listening for the disconnect) hears a disconnect, so its response ends, and the body is closed properly
    (the client sees the end of the stream, and may reconnect elsewhere with ``Last-Event-ID``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def stop(self) -> None:
        """Safe from a signal handler or another thread."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._stopping is None:
            self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        stopping = self._stopping

        async def receive_or_stop() -> Message:
            if stopping.is_set():
                return {"type": "http.disconnect"}
            message = asyncio.ensure_future(receive())
            stop = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait({message, stop}, return_when=asyncio.FIRST_COMPLETED)
            except BaseException:  # cancelled from outside: leave nothing pending behind
                message.cancel()
                raise
            finally:
                stop.cancel()
            if message.done():
                return message.result()
            message.cancel()
            return {"type": "http.disconnect"}

        sent = {"started": False, "ended": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                sent["ended"] = True
            await send(message)

        await self.app(scope, receive_or_stop, tracking_send)
        if sent["started"] and not sent["ended"]:  # a stream cut short by the stop: end it properly
            await send({"type": "http.response.body", "body": b"", "more_body": False})


class ServerThread:
    """``app`` (any ASGI app) served by uvicorn on a background thread, on a free port of 127.0.0.1::

        with ServerThread(app) as server:
            httpx.get(server.url + "/health")

    The listening socket is bound before the thread starts, so requests made right away wait in its backlog
    instead of failing; no polling for readiness is needed.
    """

    def __init__(self, app: ASGIApp, *, log_level: str = "warning", backlog: int = 2048) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(backlog)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=2, backlog=backlog,
                                **server_options())  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]},
                                        name=f"uvicorn-{self.port}", daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
