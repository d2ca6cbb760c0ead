"""The gateway's requests as OpenTelemetry spans that continue the caller's trace (its ``traceparent`` header),
so a workflow started or enqueued by a request, and run by any process, is part of the request's trace. Added by
:func:`tether.http.create_gateway` only when OpenTelemetry is installed (see :mod:`tether.engine.tracing`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tether.engine import tracing

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TraceRequests:
    """ASGI middleware: one SERVER span per HTTP request, named ``METHOD /route/{template}`` once routed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        status: list[int] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        with tracing.request_span(method, str(scope.get("path", "")), headers) as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                if span is not None:
                    route = getattr(scope.get("route"), "path", None)
                    if route is not None:
                        span.update_name(f"{method} {scope.get('root_path', '')}{route}")
                        span.set_attribute("http.route", route)
                    if status:
                        span.set_attribute("http.response.status_code", status[0])
