"""The HTTP gateway: JSON over HTTP (and SSE for streams) for everything a client can do with workflows.

    from tether import DBOSClient
    from tether.http import create_gateway

    app.mount("/tether", create_gateway(DBOSClient(url), token="s3cret"))

A gateway refuses to be built without a token unless ``insecure=True`` says so. Tokens may be scoped (read,
send, admin) and limited to a workflow-ID prefix: see :mod:`tether.http.auth`. Every request first passes
:mod:`tether.http.guard` (Host allow-list, Origin check on state-changing requests, a body limit, then the
token), before its body is read.

Routes (the schema is at ``/openapi.json``, the interactive page at ``/docs``)::

    GET  /health                                  liveness (no token needed)
    GET  /workflows                               list (filters: status, name, queue_name, prefix, times)   read
    GET  /workflows/{id}                          status                                                    read
    GET  /workflows/{id}/result?timeout=30        wait for the end, then the status                         read
    GET  /workflows/{id}/steps                    recorded steps                                            read
    GET  /workflows/{id}/messages                 messages nobody received yet (counts, a page of them)     read
    POST /workflows/{id}/cancel | resume | fork   management                                                admin
    POST /workflows/{id}/messages                 send {"message", "topic", "idempotency_key"}              send
    GET  /workflows/{id}/events                   every event                                               read
    GET  /workflows/{id}/events/{key}?timeout=5   one event (long poll)                                     read
    GET  /workflows/{id}/events/{key}/latest      the latest value with its version (long poll)             read
    GET  /workflows/{id}/events/{key}/versions    versions as JSON; SSE (id = version, resumable) to follow read
    GET  /workflows/{id}/streams/{key}?offset=0   a snapshot; SSE with Accept: text/event-stream            read
    GET  /queues/{name}/workflows                 queued workflows                                          read
    POST /queues/{name}/workflows                 enqueue by workflow name (gateway over a DBOSClient)      admin
    GET  /schedules, /schedules/{name}            durable schedules                                         read
    GET  /ui                                      the dashboard (pages public; their data needs a token)
    GET  /changes, /workflows/{id}/changes        live changes (SSE) for the dashboard                      read
    GET  /workflows/{id}/streams                  the streams a workflow wrote                              read
    GET  /queues                                  queues: limits and load                                   read
    POST /schedules/{name}/pause | resume | trigger                                                         admin
    DELETE /schedules/{name}                                                                                admin

Only JSON crosses HTTP: messages and enqueued arguments are stored in the portable (JSON) format, and client
input is never unpickled. Values that workflows stored as pickles are decoded and re-encoded as JSON (406 when
a value has no JSON form). Errors are JSON bodies with 4xx codes, listed in :mod:`tether.http.errors`.

With OpenTelemetry installed, each request is a span that continues the trace of its ``traceparent`` header, and
workflows it starts or enqueues join that trace (:mod:`tether.http.tracing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from pydantic import Field
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tether.engine import tracing
from tether.engine.validation import MAX_INT
from tether.errors import ConfigError, InvalidArgumentError, SerializationError, WorkflowNotFoundError
from tether.http.api import WorkflowAPI
from tether.http.auth import require_scope
from tether.http.dashboard import ChangeWatcher, add_dashboard
from tether.http.docs import add_offline_docs, docs_app_options
from tether.http.encoding import RequestBody, status_json, to_json, to_json_or_marker
from tether.http.errors import install_error_handlers
from tether.http.event_routes import add_event_routes
from tether.http.guard import BODY_SEND, DEFAULT_MAX_BODY_BYTES, LOOPBACK_HOSTS, Guard
from tether.http.mailboxes import add_mailbox_routes
from tether.http.management import add_management_routes
from tether.http.responses import JSONObject, TetherJSONResponse
from tether.http.schedules import ScheduleAPI, add_schedule_routes
from tether.http.sse import StreamFanout, resume_offset
from tether.http.sse_response import StreamEventsResponse
from tether.http.tokens import Token, check_unique, parse_token
from tether.http.tracing import TraceRequests
from tether.types import WorkflowSerializationFormat

MAX_WAIT_SECONDS = 600.0
WorkflowId = Path(min_length=1, description="The workflow's ID")


class SendMessage(RequestBody):
    """A message for a workflow. ``message`` is any JSON value."""

    message: Any = Field(description="Any JSON value; stored in the portable (JSON) format")
    topic: str | None = Field(default=None, description="The topic queue; null for the default queue")
    idempotency_key: str | None = Field(default=None, description="Repeated sends with one key deliver once")


async def sse_answer(request: Request, fanout: StreamFanout, api: WorkflowAPI, workflow_id: str, key: str,
                     start: int, last_event_id: str | None) -> Response | None:
    """The stream as live SSE from ``start`` when the client accepts ``text/event-stream``, else None.

    A reconnect (``Last-Event-ID`` sent) to a stream with nothing left is answered 204, which tells a
    browser's EventSource to stop reconnecting.
    """
    if "text/event-stream" not in request.headers.get("accept", ""):
        return None
    if last_event_id is not None:
        snap = await api.read_stream_nowait_async(workflow_id, key, start)
        if snap.closed and not snap.values:
            return Response(status_code=204)
    return StreamEventsResponse(fanout, api, workflow_id, key, start)


async def status_document(api: WorkflowAPI, workflow_id: str) -> dict[str, Any]:
    """A workflow's status as JSON; when its input, output or error cannot be decoded in this process, those
    fields are error markers and the rest is still given.

    Raises:
        WorkflowNotFoundError: no workflow has this ID.
    """
    try:
        status = await api.get_workflow_status_async(workflow_id)
    except SerializationError as exc:
        found = await api.list_workflows_async(workflow_ids=[workflow_id], load_input=False, load_output=False)
        if not found:
            raise WorkflowNotFoundError(workflow_id) from None
        return status_json(found[0], undecoded=str(exc))
    if status is None:
        raise WorkflowNotFoundError(workflow_id)
    return status_json(status)


class Gateway(FastAPI):
    """The gateway's app: FastAPI, which also leaves the ``send`` it was given in the scope (``BODY_SEND``) for
    the body of a stream's events, as long as no middleware but its own is installed (one added to the
    returned app may want to see every body)."""

    own_middleware = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if len(self.user_middleware) == self.own_middleware:
                scope[BODY_SEND] = send
            else:  # not one left by a gateway this one is mounted in: it would skip the added middleware
                scope.pop(BODY_SEND, None)
        await super().__call__(scope, receive, send)


def gateway_tokens(token: str | None = None, tokens: Iterable[Token | str] | None = None) -> list[Token]:
    """The tokens a gateway accepts: ``token`` (a bare secret or a spec) and ``tokens`` (specs or
    :class:`~tether.http.auth.Token` objects).

    Raises:
        ConfigError: a malformed spec, or two tokens with one name or one secret.
    """
    out = [parse_token(token)] if token is not None else []
    out += [t if isinstance(t, Token) else parse_token(t) for t in tokens or ()]
    return check_unique(out)


def create_gateway(api: WorkflowAPI, *, token: str | None = None, tokens: Iterable[Token | str] | None = None,
                   insecure: bool = False, allowed_hosts: Sequence[str] | None = None,
                   allowed_origins: Sequence[str] = (), max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                   fanout: StreamFanout | None = None, title: str = "Tether gateway") -> Gateway:
    """An ASGI app serving ``api`` (the launched ``DBOS`` class or a ``DBOSClient``); mount it anywhere.

    ``token`` (one secret, full access) and ``tokens`` (scoped tokens, ``NAME:SCOPES[:PREFIX]=SECRET``, see
    :mod:`tether.http.auth`) turn on bearer authentication for every route but ``/health`` and the docs;
    without either the gateway is only built with ``insecure=True``. ``allowed_hosts`` are the ``Host`` names
    served (default: any when tokens are set, else only loopback names, against DNS rebinding; ``"*"`` for
    any); ``allowed_origins`` are other origins (``https://app.example.com``) whose pages may make
    state-changing requests; ``max_body_bytes`` bounds request bodies (default 1 MiB).

    Raises:
        ConfigError: no token and not ``insecure``, or a malformed token.
    """
    accepted = gateway_tokens(token, tokens)
    if not accepted and not insecure:
        raise ConfigError("The gateway needs a token (token=... or tokens=[...]); pass insecure=True to serve "
                          "without authentication")
    if allowed_hosts is None:
        allowed_hosts = ["*"] if accepted else list(LOOPBACK_HOSTS)
    fanout = fanout or StreamFanout()
    app = Gateway(title=title, version="1", default_response_class=TetherJSONResponse, **docs_app_options())
    add_offline_docs(app)
    install_error_handlers(app)
    app.add_middleware(Guard, tokens=accepted, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins,
                       max_body_bytes=max_body_bytes)
    if tracing.available():  # outermost: refused requests are traced too
        app.add_middleware(TraceRequests)
    app.own_middleware = len(app.user_middleware)
    app.state.fanout = fanout
    router = APIRouter(dependencies=[Depends(require_scope("read"))])
    sender = APIRouter(dependencies=[Depends(require_scope("send"))])
    admin = APIRouter(dependencies=[Depends(require_scope("admin"))])

    @app.get("/health", summary="Liveness check (never needs a token)")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "streams_followed": fanout.followed()}

    @router.get("/workflows/{workflow_id}", summary="A workflow's status")
    async def get_status(workflow_id: str = WorkflowId) -> Response:
        return TetherJSONResponse(await status_document(api, workflow_id))

    @router.get("/workflows/{workflow_id}/result", summary="Wait for a workflow to end, then its status")
    async def get_result(workflow_id: str = WorkflowId,
                         timeout: float = Query(30.0, ge=0, le=MAX_WAIT_SECONDS)) -> Response:
        handle = await api.retrieve_workflow_async(workflow_id)
        try:
            await handle.get_result(timeout_seconds=timeout)
        except (TimeoutError, WorkflowNotFoundError):
            raise
        except Exception:  # the workflow's own error (or cancellation): reported in the status below
            pass
        return await get_status(workflow_id)

    @sender.post("/workflows/{workflow_id}/messages", status_code=202, summary="Send a message to a workflow")
    async def send(body: SendMessage, workflow_id: str = WorkflowId,
                   idempotency_key: str | None = Header(
                       None, alias="Idempotency-Key",
                       description="The body's idempotency_key as a header: printable ASCII only (a header is read as "
                                   "Latin-1); if both are given they must agree")) -> dict[str, Any]:
        key = _idempotency_key(body.idempotency_key, idempotency_key)
        await api.send_async(workflow_id, body.message, body.topic, idempotency_key=key,
                             serialization_type=WorkflowSerializationFormat.PORTABLE)
        return {"workflow_id": workflow_id, "topic": body.topic, "idempotency_key": key, "sent": True}

    @router.get("/workflows/{workflow_id}/events", summary="The latest value of every event", response_model=JSONObject)
    async def all_events(workflow_id: str = WorkflowId) -> Response:
        await api.retrieve_workflow_async(workflow_id)
        events = await api.get_all_events_async(workflow_id)
        return TetherJSONResponse({"workflow_id": workflow_id,
                                   "events": {k: to_json_or_marker(v) for k, v in events.items()}})

    @router.get("/workflows/{workflow_id}/events/{key}",
                summary="An event's value, waiting up to `timeout` seconds for it to be published",
                response_model=JSONObject)
    async def get_event(key: str, workflow_id: str = WorkflowId,
                        timeout: float = Query(5.0, ge=0, le=MAX_WAIT_SECONDS)) -> Response:
        await api.retrieve_workflow_async(workflow_id)
        value = await api.get_event_async(workflow_id, key, timeout_seconds=timeout)
        found = value is not None or key in await api.get_all_events_async(workflow_id)
        return TetherJSONResponse({"workflow_id": workflow_id, "key": key, "found": found, "value": to_json(value)})

    @router.get("/workflows/{workflow_id}/streams/{key}",
                summary="A stream: a JSON snapshot, or live Server-Sent Events with `Accept: text/event-stream`",
                responses={200: {"content": {"text/event-stream": {}}}})
    async def read_stream(request: Request, key: str, workflow_id: str = WorkflowId,
                          offset: int = Query(0, ge=0, le=MAX_INT, description="First offset to read"),
                          last_event_id: str | None = Header(None, alias="Last-Event-ID"),
                          access_token: str | None = Query(None, description="Token, for EventSource")
                          ) -> Response:
        await api.retrieve_workflow_async(workflow_id)
        start = resume_offset(offset, last_event_id)
        live = await sse_answer(request, fanout, api, workflow_id, key, start, last_event_id)
        if live is not None:
            return live
        snap = await api.read_stream_nowait_async(workflow_id, key, start)
        return TetherJSONResponse({"workflow_id": workflow_id, "key": key, "offset": start,
                                   "values": [to_json_or_marker(v) for v in snap.values],
                                   "closed": snap.closed, "next_offset": snap.next_offset})

    add_event_routes(router, api)
    add_management_routes(router, admin, api)
    add_dashboard(app, router, api, ChangeWatcher(api))
    add_mailbox_routes(router, api)
    add_schedule_routes(router, admin, cast(ScheduleAPI, api))
    for part in (router, sender, admin):
        app.include_router(part)
    return app


def _idempotency_key(in_body: str | None, in_header: str | None) -> str | None:
    """The send's idempotency key, from the body or the ``Idempotency-Key`` header.

    A header carries bytes, which the server reads as Latin-1: a UTF-8 key there would become another key than
    the same key in the body, so a header key must be printable ASCII (as the IETF draft's ``sf-string``).

    Raises:
        InvalidArgumentError: the header key is not printable ASCII, or the body and the header give two
            different keys.
    """
    if in_header is not None and not (in_header.isascii() and in_header.isprintable()):
        raise InvalidArgumentError("Idempotency-Key", "a header key must be printable ASCII; give any other key "
                                   "as the body's idempotency_key")
    if in_body is not None and in_header is not None and in_body != in_header:
        raise InvalidArgumentError("Idempotency-Key", "the body and the header give two different keys")
    return in_body if in_body is not None else in_header
