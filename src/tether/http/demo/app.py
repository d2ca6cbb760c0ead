"""The demo server on Tether: start workflows, read their events and streams, send them messages.

Routes (those of DBOS's communication demo, plus SSE and pages)::

    GET  /                                    a landing page: links to the dashboard and API docs, the latest
                                              workflows, the routes
    GET  /ui                                  the dashboard (redirects to /api/ui/)
    POST /start-workflow-events/{id}/{n}      an events workflow of n steps
    GET  /workflow-events/{id}/{key}          one event (progress, status, result), waiting up to ?timeout=5
    GET  /workflow-events/{id}/all            every event
    POST /start-workflow-messaging/{id}/{n}   a workflow that waits for {"approved": true}
    POST /send-message/{id}                   send it a JSON message
    POST /start-workflow-streaming/{id}/{n}   a streaming workflow
    GET  /workflow-stream/{id}                the stream so far (?offset=); SSE with Accept: text/event-stream
    GET  /stream-page/{id}                    the stream so far, rendered here, then followed with EventSource
    GET  /health                              process memory
    /api/...                                  the full gateway (see tether.http.gateway) on the same DBOS
"""

from __future__ import annotations

import logging
import resource
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Header, Path, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tether import DBOS, SetWorkflowID, WorkflowHandleAsync
from tether.http.docs import add_offline_docs, docs_app_options
from tether.http.encoding import to_json, to_json_or_marker
from tether.http.errors import ApiError, install_error_handlers
from tether.http.gateway import create_gateway, sse_answer
from tether.http.guard import DEFAULT_MAX_BODY_BYTES, LOOPBACK_HOSTS, Guard
from tether.http.responses import TetherJSONResponse
from tether.http.sse import StreamFanout, resume_offset
from tether.http.tokens import Token
from tether.types import WorkflowSerializationFormat

from .page import landing_page, not_found_page, stream_page
from .workflows import (
    EVENTS_BASE,
    MESSAGING_BASE,
    NOTIFICATION_TOPIC,
    STREAM_KEY,
    STREAMING_BASE,
    WorkflowEvent,
    workflow_with_events,
    workflow_with_messaging,
    workflow_with_streaming,
)

DEFAULT_DATABASE_URL = "sqlite:///tether-demo.sqlite"
STEP_NOTE = ("Step i computes fibonacci(base + i) the slow way, so each step takes about 1.6 times as long as "
             "the one before: with the default bases (23 for events and streaming, 20 for messaging) 19 steps "
             "take over a minute. tether demo --fib-base 5 makes every step fast.")
log = logging.getLogger("uvicorn.error")  # printed where uvicorn prints "Application startup complete"
WorkflowId = Path(min_length=1)
Steps = Path(ge=0, le=1000, description="Number of steps")


def memory_mb() -> float:
    """This process's resident memory in MB (``VmRSS``; the peak from ``getrusage`` where /proc is absent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 2)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2)


def create_demo_app(database_url: str | None = DEFAULT_DATABASE_URL, *, manage_dbos: bool = True,
                    token: str | None = None, fib_base: int | None = None,
                    approval_timeout: float = 60.0, tokens: Iterable[Token | str] | None = None,
                    allowed_hosts: Sequence[str] | None = None, allowed_origins: Sequence[str] = (),
                    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The demo application.

    With ``manage_dbos`` (the default) the app launches DBOS on ``database_url`` at startup and destroys it at
    shutdown; without, it uses the DBOS already launched in this process. ``fib_base`` replaces the default
    Fibonacci base numbers (smaller is faster); ``token`` and ``tokens`` protect the mounted gateway under
    ``/api`` (see :func:`tether.http.create_gateway`); the demo's own routes need none, so the demo is meant
    for loopback. Every request passes the Host check (``allowed_hosts``, default the loopback names), the
    Origin check on state-changing requests (``allowed_origins``) and the body limit (``max_body_bytes``) of
    :mod:`tether.http.guard`.

    Raises:
        ConfigError: ``database_url`` is not a supported database URL (at startup), or a token is malformed.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not manage_dbos:
            yield
            return
        DBOS(config={"name": "tether-demo", "system_database_url": database_url})
        DBOS.launch()
        await _say_what_was_resumed()
        try:
            yield
        finally:
            DBOS.destroy()

    async def _say_what_was_resumed() -> None:
        """Right after launch, this executor's PENDING workflows are those launch() just resumed."""
        resumed = await DBOS.list_workflows_async(status="PENDING", executor_id=DBOS.executor_id,
                                                  load_input=False, load_output=False)
        if resumed:
            log.info("Resumed %d workflow(s) an earlier run left unfinished: %s", len(resumed),
                     ", ".join(f"{s.workflow_id} ({s.name})" for s in resumed))

    fanout = StreamFanout()
    app = FastAPI(title="Tether demo: workflow events, messaging and streaming", lifespan=lifespan,
                  **docs_app_options())
    add_offline_docs(app)
    install_error_handlers(app)
    app.add_middleware(Guard, allowed_hosts=LOOPBACK_HOSTS if allowed_hosts is None else allowed_hosts,
                       allowed_origins=allowed_origins, max_body_bytes=max_body_bytes)
    tokens = list(tokens or ())
    app.mount("/api", create_gateway(DBOS, token=token, tokens=tokens, insecure=token is None and not tokens,
                                     allowed_hosts=["*"], allowed_origins=allowed_origins,
                                     max_body_bytes=max_body_bytes, fanout=fanout))

    def base(default: int) -> int:
        return default if fib_base is None else fib_base

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> HTMLResponse:
        latest = await DBOS.list_workflows_async(limit=20, sort_desc=True, load_input=False, load_output=False)
        return HTMLResponse(landing_page([(s.workflow_id, s.name or "", s.status) for s in latest], STEP_NOTE))

    @app.get("/ui", include_in_schema=False)
    async def dashboard() -> Response:
        return RedirectResponse("api/ui/", status_code=307)  # the dashboard of the gateway under /api

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "memory_mb": memory_mb()}

    @app.post("/start-workflow-events/{workflow_id}/{n_steps}")
    async def start_events(workflow_id: str = WorkflowId, n_steps: int = Steps) -> dict[str, Any]:
        with SetWorkflowID(workflow_id):
            handle: WorkflowHandleAsync[list[dict[str, int]]] = await DBOS.start_workflow_async(
                workflow_with_events, n_steps, base(EVENTS_BASE))
        endpoints = {e.value: f"/workflow-events/{workflow_id}/{e.value}" for e in WorkflowEvent}
        return {"workflow_id": handle.workflow_id, "message": "Workflow started with events",
                "query_endpoints": {**endpoints, "all_events": f"/workflow-events/{workflow_id}/all"},
                "steps_note": STEP_NOTE}

    @app.get("/workflow-events/{workflow_id}/all")
    async def all_events(workflow_id: str = WorkflowId) -> dict[str, Any]:
        await DBOS.retrieve_workflow_async(workflow_id)
        events = await DBOS.get_all_events_async(workflow_id)
        return {"workflow_id": workflow_id, "events": {k: to_json_or_marker(v) for k, v in events.items()}}

    @app.get("/workflow-events/{workflow_id}/{event_key}")
    async def one_event(event_key: WorkflowEvent, workflow_id: str = WorkflowId,
                        timeout: float = Query(5.0, ge=0, le=600)) -> dict[str, Any]:
        await DBOS.retrieve_workflow_async(workflow_id)
        value = await DBOS.get_event_async(workflow_id, event_key, timeout_seconds=timeout)
        if value is None:
            raise ApiError(404, "event_not_found",
                           f"Event {event_key.value!r} not found or timeout ({timeout}s) reached")
        return {"workflow_id": workflow_id, "event_key": event_key.value, "value": to_json(value)}

    @app.post("/start-workflow-messaging/{workflow_id}/{n_steps}")
    async def start_messaging(workflow_id: str = WorkflowId, n_steps: int = Steps) -> dict[str, Any]:
        with SetWorkflowID(workflow_id):
            handle: WorkflowHandleAsync[dict[str, Any]] = await DBOS.start_workflow_async(
                workflow_with_messaging, n_steps, base(MESSAGING_BASE), approval_timeout)
        return {"workflow_id": handle.workflow_id,
                "message": "Workflow started and will wait for approval notification",
                "send_approval": f"/send-message/{workflow_id}",
                "note": 'POST a JSON body such as {"approved": true}. Messages are queued until received.',
                "steps_note": STEP_NOTE}

    @app.post("/send-message/{workflow_id}")
    async def send_message(message: dict[str, Any], workflow_id: str = WorkflowId,
                           idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> dict[str, Any]:
        await DBOS.send_async(workflow_id, message, NOTIFICATION_TOPIC, idempotency_key=idempotency_key,
                              serialization_type=WorkflowSerializationFormat.PORTABLE)
        return {"workflow_id": workflow_id, "message": "Notification sent to workflow", "payload": message}

    @app.post("/start-workflow-streaming/{workflow_id}/{n_steps}")
    async def start_streaming(workflow_id: str = WorkflowId, n_steps: int = Steps) -> dict[str, Any]:
        with SetWorkflowID(workflow_id):
            handle: WorkflowHandleAsync[list[dict[str, int]]] = await DBOS.start_workflow_async(
                workflow_with_streaming, n_steps, base(STREAMING_BASE))
        return {"workflow_id": handle.workflow_id, "message": "Workflow started with streaming",
                "read_stream": f"/workflow-stream/{workflow_id}",
                "live_page": f"/stream-page/{workflow_id}", "steps_note": STEP_NOTE}

    @app.get("/workflow-stream/{workflow_id}", responses={200: {"content": {"text/event-stream": {}}}})
    async def read_stream(request: Request, workflow_id: str = WorkflowId, offset: int = Query(0, ge=0),
                          last_event_id: str | None = Header(None, alias="Last-Event-ID")) -> Response:
        await DBOS.retrieve_workflow_async(workflow_id)
        start = resume_offset(offset, last_event_id)
        live = await sse_answer(request, fanout, DBOS, workflow_id, STREAM_KEY, start, last_event_id)
        if live is not None:
            return live
        snap = await DBOS.read_stream_nowait_async(workflow_id, STREAM_KEY, start)
        values = [to_json_or_marker(v) for v in snap.values]
        return TetherJSONResponse({"workflow_id": workflow_id, "stream_values": values, "total_messages": len(values),
                      "closed": snap.closed, "next_offset": snap.next_offset})

    @app.get("/stream-page/{workflow_id}", response_class=HTMLResponse)
    async def page(workflow_id: str = WorkflowId,
                   key: str | None = Query(None, description="Another stream than the demo's, via /api")
                   ) -> HTMLResponse:
        if await DBOS.get_workflow_status_async(workflow_id) is None:
            return HTMLResponse(not_found_page(workflow_id), status_code=404)
        snap = await DBOS.read_stream_nowait_async(workflow_id, STREAM_KEY if key is None else key)
        base = (f"/workflow-stream/{quote(workflow_id, safe='')}" if key is None
                else f"/api/workflows/{quote(workflow_id, safe='')}/streams/{quote(key, safe='')}")
        return HTMLResponse(stream_page(workflow_id, f"{base}?offset={snap.next_offset}",
                                        [to_json_or_marker(v) for v in snap.values], closed=snap.closed,
                                        next_offset=snap.next_offset))

    return app
