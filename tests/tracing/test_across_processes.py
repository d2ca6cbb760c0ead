"""Acceptance: one trace spans a caller, its HTTP request through the gateway (here over a ``DBOSClient``), the
workflow that request enqueued, run by another process (a real subprocess), and that workflow's steps; on both
backends. Each process records its spans with the OpenTelemetry SDK's in-memory exporter; the worker hands its
spans back in a file. Also the gateway's own request spans, where FastAPI makes none."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.propagate import inject
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tether import DBOSClient
from tether.engine import tracing
from tether.http import create_gateway
from tether.http.tracing import TraceRequests

from .support import child_of, descends, finished, memory_exporter, only

WORKER = Path(__file__).with_name("trace_worker.py")


def test_one_trace_from_an_http_request_to_a_workflow_in_another_process_and_its_steps(
        db_url: str, tmp_path: Path) -> None:
    spans = memory_exporter()
    queue = f"xp-{uuid.uuid4().hex[:8]}"
    spans_file = tmp_path / "worker-spans.json"
    worker = subprocess.Popen([sys.executable, str(WORKER), db_url, f"xp-{uuid.uuid4().hex[:6]}", queue,
                               str(spans_file)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        with DBOSClient(db_url) as client, \
                TestClient(create_gateway(client, insecure=True), base_url="http://localhost") as http:
            with trace.get_tracer("test").start_as_current_span("caller"):
                headers: dict[str, str] = {}
                inject(headers)  # the caller's traceparent, as an instrumented HTTP client sends it
            r = http.post(f"/queues/{queue}/workflows", headers=headers,
                          json={"workflow_name": "xp.order", "args": ["book"]})
            assert r.status_code == 201, r.text
            wfid = r.json()["workflow_id"]
            assert client.retrieve_workflow(wfid).get_result(timeout_seconds=60) == "reserved book, charged book"
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        assert worker.wait(timeout=60) == 0
    here = finished(spans, "caller")
    caller = only(here, "caller")
    request = only(here, "POST /queues/{queue_name}/workflows")
    assert child_of(request, caller) and request["kind"] == "SERVER"
    assert request["attributes"]["http.response.status_code"] == 201
    there = json.loads(spans_file.read_text())
    workflow = only(there, "xp.order")
    # The trace crossed the database into the other process: the workflow's parent is the request's span, or
    # (FastAPI instruments its endpoints itself when OpenTelemetry is installed) the endpoint's span within it.
    assert descends(workflow, request, here)
    assert workflow["attributes"]["operationUUID"] == wfid and workflow["attributes"]["queueName"] == queue
    for step in ("xp.reserve", "xp.charge"):
        assert child_of(only(there, step), workflow)
    assert [e["name"] for e in workflow["events"]] == ["DBOS.setEvent"]


def test_the_gateway_middleware_continues_the_callers_trace_where_fastapi_does_not() -> None:
    spans = memory_exporter()
    stored: list[str | None] = []

    async def start(request: Request) -> JSONResponse:
        stored.append(tracing.capture())  # what a workflow started here would store
        return JSONResponse({}, status_code=202)

    app = TraceRequests(Starlette(routes=[Route("/orders/{order_id}", start, methods=["POST"])]))
    with trace.get_tracer("test").start_as_current_span("caller"):
        headers: dict[str, str] = {}
        inject(headers)
    with TestClient(app, base_url="http://localhost") as http:  # type: ignore[arg-type]
        assert http.post("/orders/7", headers=headers).status_code == 202
    got = finished(spans, "caller")
    request = only(got, "POST /orders/{order_id}")
    assert child_of(request, only(got, "caller")) and request["kind"] == "SERVER"
    assert request["attributes"] == {"http.request.method": "POST", "url.path": "/orders/7",
                                     "http.route": "/orders/{order_id}", "http.response.status_code": 202}
    assert stored[0] is not None and json.loads(stored[0])["traceparent"].split("-")[2] == request["span_id"]
