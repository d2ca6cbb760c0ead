"""Run by tests/tracing/test_without_opentelemetry.py with OpenTelemetry made unimportable: everything works, a
request's ``traceparent`` is ignored, nothing is recorded, ``enable_otlp`` is a clear error, and nothing
imports ``opentelemetry``. (FastAPI itself now requires ``opentelemetry-api``, so the gateway always has it;
the request path here is the gateway's tracing middleware around a plain Starlette app.)

    python no_otel_app.py <database_url>

Prints "ok" at the end.
"""

from __future__ import annotations

import logging
import sys
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tether import DBOS, ConfigError, DBOSClient, PropagateOtelContext, Queue, SetWorkflowID
from tether.http.tracing import TraceRequests


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def main() -> None:
    db_url = sys.argv[1]
    base = {"name": "no-otel", "system_database_url": db_url, "executor_id": f"no-otel-{uuid.uuid4().hex[:6]}",
            "application_version": "no-otel", "sqlite_poll_interval_sec": 0.02}
    try:
        DBOS(config={**base, "enable_otlp": True})  # type: ignore[typeddict-item]
        raise AssertionError("enable_otlp without OpenTelemetry was accepted")
    except ConfigError as exc:
        assert "pip install 'tether[otel]'" in str(exc), exc

    queue = Queue("no-otel-q")

    @DBOS.step(retries_allowed=True, interval_seconds=0.01)
    def flaky(tries: list[int]) -> int:
        tries.append(1)
        DBOS.logger.info("step runs")
        if len(tries) < 2:
            raise ValueError("once")
        return len(tries)

    @DBOS.workflow(name="no_otel.work")
    def work(x: int) -> int:
        assert DBOS.span is None
        DBOS.send(DBOS.workflow_id or "", x, "t")
        got = DBOS.recv("t", timeout_seconds=5)
        DBOS.set_event("e", got)
        DBOS.write_stream("s", got)
        DBOS.close_stream("s")
        return int(got) + flaky([])

    DBOS(config=base)  # type: ignore[arg-type]
    DBOS.launch()
    records = Records()
    DBOS.logger.addHandler(records)
    assert DBOS.tracer.disable_otlp and DBOS.tracer.get_current_span() is None and DBOS.span is None
    try:
        DBOS.tracer.start_span({"name": "x"})
        raise AssertionError("DBOS.tracer.start_span worked without OpenTelemetry")
    except ConfigError:
        pass
    with SetWorkflowID("direct"), PropagateOtelContext():
        assert work(1) == 3
    assert queue.enqueue(work, 2).get_result() == 4
    run = next(r for r in records.records if r.getMessage() == "step runs")
    assert (run.workflow_id, run.step_name, run.attempt) == ("direct", flaky.__qualname__, 1)  # type: ignore[attr-defined]
    assert not hasattr(run, "traceId")
    # a request with a traceparent header, through the gateway's middleware, enqueues with a client: run, and
    # no trace context stored
    header = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with DBOSClient(db_url) as client:
        async def enqueue(request: Request) -> JSONResponse:
            handle = await client.enqueue_async({"queue_name": "no-otel-q", "workflow_name": "no_otel.work"}, 5)
            return JSONResponse({"workflow_id": handle.workflow_id}, status_code=201)

        app = TraceRequests(Starlette(routes=[Route("/enqueue", enqueue, methods=["POST"])]))
        with TestClient(app, base_url="http://localhost") as http:  # type: ignore[arg-type]
            r = http.post("/enqueue", headers=header)
        assert r.status_code == 201, r.text
        wfid = r.json()["workflow_id"]
        assert client.retrieve_workflow(wfid).get_result(timeout_seconds=60) == 7
    for workflow_id in ("direct", wfid):
        row = DBOS._rt().store.get_workflow(workflow_id)
        assert row is not None and row.trace_context is None, row
    DBOS.destroy()
    loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
    assert not loaded, loaded
    print("ok")


if __name__ == "__main__":
    main()
