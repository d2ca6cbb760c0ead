"""The gateway's front door: checks every HTTP request makes before it is routed, parsed or authorized.

In order, each answered with a JSON error and without reading the body:

1. ``Host`` must be on the allow-list (400 ``host_not_allowed``): a server without tokens on loopback would
   otherwise answer a web page whose own domain was re-pointed at 127.0.0.1 (DNS rebinding).
2. A state-changing request (``POST``, ``PUT``, ``PATCH``, ``DELETE``) that carries an ``Origin`` must come from
   the server's own origin or an allowed one (403 ``origin_not_allowed``): a cross-site form cannot cancel a
   workflow. Clients that are not browsers send no ``Origin`` and pass.
3. The body may not exceed ``max_body_bytes`` (413 ``body_too_large``): a ``Content-Length`` over it is refused
   at once, and a chunked body is cut off as soon as it passes the limit.
4. With tokens configured, the request must carry one (401 ``unauthorized``), except on public paths (health
   and the API documentation). The token found is left in ``scope["state"]`` for the routes' scope checks.

``?access_token=`` is removed from the request's query string before anything else runs, so the secret never
reaches an access log (servers such as uvicorn log the query string of the scope they handed to the app).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tether.http.tokens import STATE_KEY, Token, find_token

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/ui",
                          "/ui/"})
PUBLIC_PREFIXES = ("/docs-assets/", "/ui/assets/")
"""Static files (the API docs' scripts, the dashboard's pages): they hold no data; the dashboard's scripts
send the token the user gives them with each request for data."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_QUERY_TOKEN = "tether_access_token"
BODY_SEND = "tether.body_send"
"""Scope key of the ``send`` the gateway app itself was given (what sits outside it: the server, or the app it
is mounted in); set by :class:`tether.http.gateway.Gateway`. A streaming response sends its body chunks there
once its start went through the whole gateway: every layer of the gateway (Starlette's error handling, the
request tracing, this guard) looks only at a response's start, and at a body only to refuse it before any
start, so a value written to many readers skips them (see :mod:`tether.http.sse_response`)."""


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port; IPv6 brackets removed; lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, as given to ``--host``) is this machine's loopback."""
    import ipaddress

    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_public(path: str) -> bool:
    """Whether ``path`` (relative to the app's mount point) is served without a token."""
    return path in PUBLIC_PATHS or (path.startswith(PUBLIC_PREFIXES) and "/.." not in path)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Guard:
    """ASGI middleware doing the four checks above for ``app``.

    ``tokens`` empty means no authentication (the factories only allow that when told to). ``allowed_hosts``
    holds host names without ports; ``"*"`` accepts any. ``allowed_origins`` holds ``scheme://host[:port]``.
    """

    def __init__(self, app: ASGIApp, *, tokens: Sequence[Token] = (), allowed_hosts: Iterable[str] = ("*",),
                 allowed_origins: Iterable[str] = (), max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.tokens = tuple(tokens)
        hosts = {h.strip("[]").lower() for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.allowed_hosts = frozenset(hosts)
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secret = self._take_query_token(scope)
        problem = self._check(scope)
        if problem is not None:
            await _answer(send, *problem)
            return
        if self.tokens and not is_public(_route_path(scope)):
            bearer = _header(scope, b"authorization")
            given = None
            if bearer is not None and bearer[:7].lower() == "bearer ":
                given = bearer[7:].strip()
            elif secret is not None and scope["method"] == "GET" and _follows_live(_route_path(scope)):
                given = secret
            token = find_token(self.tokens, given)
            if token is None:
                await _answer(send, 401, "unauthorized", "A valid bearer token is required",
                              [(b"www-authenticate", b"Bearer")])
                return
            scope.setdefault("state", {})[STATE_KEY] = token
        await self._call_limited(scope, receive, send)

    def _take_query_token(self, scope: Scope) -> str | None:
        """Remove ``access_token`` from the query string, in place; return its value. It is kept in
        ``scope["state"]`` for a gateway mounted inside this one (the demo's ``/api``)."""
        state = scope.setdefault("state", {})
        query: bytes = scope.get("query_string", b"")
        if b"access_token" in query:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            state[_QUERY_TOKEN] = next((v for k, v in pairs if k == "access_token"), None)
            scope["query_string"] = urlencode([(k, v) for k, v in pairs if k != "access_token"]).encode("latin-1")
        secret = state.get(_QUERY_TOKEN)
        return secret if isinstance(secret, str) else None

    def _check(self, scope: Scope) -> tuple[int, str, str] | None:
        host = _header(scope, b"host") or ""
        if not self.any_host and host_name(host) not in self.allowed_hosts:
            return (400, "host_not_allowed", f"Host {host!r} is not served here (allowed: "
                    f"{', '.join(sorted(self.allowed_hosts))}); start the server with --allow-host to add it")
        if scope["method"] in UNSAFE_METHODS:
            origin = _header(scope, b"origin")
            if origin is not None and not self._origin_ok(origin.rstrip("/").lower(), scope, host):
                return (403, "origin_not_allowed", f"Requests from origin {origin!r} may not change anything "
                        "here; start the server with --allow-origin to allow it")
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                return (400, "bad_request", "Content-Length is not a number")
            if size > self.max_body_bytes:
                return (413, "body_too_large", f"The request body ({size} bytes) exceeds the limit of "
                        f"{self.max_body_bytes} bytes")
        return None

    def _origin_ok(self, origin: str, scope: Scope, host: str) -> bool:
        if origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        scheme = scope.get("scheme", "http")
        return parts.scheme == scheme and parts.netloc == host.strip().lower() and bool(host)

    async def _call_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; a body that grows past the limit is answered 413 at once, and the app is told the
        client left (whatever it sends afterwards is dropped)."""
        received = 0
        started = answered = False

        async def limited_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not started:
                    answered = True
                    await _answer(send, 413, "body_too_large",
                                  f"The request body exceeds the limit of {self.max_body_bytes} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except Exception:
            if not answered:
                raise


def _follows_live(path: str) -> bool:
    """The routes an EventSource opens (it cannot send headers), where ``?access_token=`` stands for one: a
    stream (``/workflows/{id}/streams/{key}``), and an event's versions (``/workflows/{id}/events/{key}/versions``).
    Matched segment by segment: a workflow ID or key that is itself ``streams`` or ``versions`` opens no other
    route to it."""
    parts = path.split("/")
    if len(parts) < 5 or parts[0] != "" or parts[1] != "workflows" or not parts[2]:
        return False
    if len(parts) == 5:
        return parts[3] == "streams" and bool(parts[4])
    return len(parts) == 6 and parts[3] == "events" and bool(parts[4]) and parts[5] == "versions"


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root):] or "/"
    return path


async def _answer(send: Send, status: int, code: str, detail: str,
                  extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    message: dict[str, Any] = {"type": "http.response.start", "status": status,
                               "headers": headers + (extra_headers or [])}
    await send(message)
    await send({"type": "http.response.body", "body": body})
