"""Running the gateway or the demo with uvicorn: in the foreground (the CLI) or on a thread (tests, benches)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp


def run(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted (Ctrl-C). ``timeout_graceful_shutdown`` bounds waiting for SSE readers."""
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=3)


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
        config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=2, backlog=backlog)
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
