"""Spans for workflows and steps in one process, recorded by the OpenTelemetry SDK's in-memory exporter, on both
backends: DBOS's names and attributes, the operations as events, and the trace context following
``start_workflow``, children, queues (also a workflow enqueued by a ``DBOSClient`` before any worker ran) and
``PropagateOtelContext``."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from tether import (
    DBOS,
    DBOSClient,
    DBOSContextSetAuth,
    OnEvent,
    PropagateOtelContext,
    Queue,
    SetWorkflowAttributes,
    SetWorkflowID,
)

from ..conftest import make_config
from .support import child_of, finished, memory_exporter, memory_log_exporter, only, records

queue = Queue("trace-q")


@DBOS.step(name="trace.flaky", retries_allowed=True, interval_seconds=0.01, max_attempts=3)
def flaky(tries: list[int]) -> str:
    tries.append(1)
    DBOS.logger.info("flaky runs")
    if len(tries) < 2:
        raise ValueError("first attempt fails")
    span = DBOS.span
    return str(span.name) if span is not None else "no span"  # type: ignore[attr-defined]


@DBOS.workflow(name="trace.child")
def child(x: int) -> int:
    DBOS.set_event("child-event", x)
    return plus_one(x)


@DBOS.step(name="trace.plus_one")
def plus_one(x: int) -> int:
    return x + 1


@DBOS.workflow(name="trace.parent")
def parent(x: int) -> int:
    direct = child(x)
    started = DBOS.start_workflow(child, x + 10).get_result()
    queued = queue.enqueue(child, x + 20).get_result()
    return direct + started + queued


@DBOS.workflow(name="trace.operations")
def operations() -> str:
    tries: list[int] = []
    seen = flaky(tries)
    DBOS.send(DBOS.workflow_id or "", "hello", "topic")
    got = DBOS.recv("topic", timeout_seconds=5)
    DBOS.set_event("progress", 1)
    DBOS.get_event(DBOS.workflow_id or "", "progress", timeout_seconds=0)
    assert DBOS.select([OnEvent(DBOS.workflow_id or "", "progress")], timeout_seconds=0) is not None
    DBOS.write_stream("out", "v")
    DBOS.close_stream("out")
    return f"{seen}/{got}"


release = threading.Event()
blocked = threading.Event()


@DBOS.step(name="trace.blocks")
def blocks() -> str:
    blocked.set()
    release.wait(30)
    return "released"


@DBOS.workflow(name="trace.resumable")
def resumable() -> str:
    return blocks()


@DBOS.workflow(name="trace.fails")
def fails() -> None:
    raise RuntimeError("workflow error")


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return memory_exporter()


@pytest.fixture
def traced(db_url: str, spans: InMemorySpanExporter) -> Iterator[type[DBOS]]:
    DBOS(config=make_config(db_url, enable_otlp=True, otlp_attributes={"team": "orders"}))
    DBOS.launch()
    try:
        yield DBOS
    finally:
        DBOS.destroy()


def test_workflow_and_step_spans_carry_dbos_names_and_attributes(traced: type[DBOS],
                                                                  spans: InMemorySpanExporter) -> None:
    wfid = f"ops-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(wfid):
        assert operations() == "trace.flaky/hello"
    got = records(spans.get_finished_spans())
    wf = only(got, "trace.operations")
    assert wf["attributes"] == {"operationUUID": wfid, "operationType": "workflow", "applicationVersion": "test",
                                "executorID": traced.executor_id, "team": "orders"}
    assert wf["parent_id"] is None and wf["status"] == "OK"
    step = only(got, "trace.flaky")
    assert child_of(step, wf)
    assert step["attributes"]["operationType"] == "step" and step["attributes"]["operationUUID"] == wfid
    assert step["attributes"]["stepID"] == 1 and step["attributes"]["team"] == "orders"
    assert [e["name"] for e in step["events"]] == ["Step attempt 0 failed"]  # as DBOS names it
    assert step["events"][0]["attributes"]["error"] == "first attempt fails"
    # the workflow's operations are events on its span, with their step numbers
    events = {e["name"]: e["attributes"] for e in wf["events"]}
    assert list(events) == ["DBOS.send", "DBOS.recv", "DBOS.setEvent", "DBOS.getEvent", "DBOS.select",
                            "DBOS.writeStream", "DBOS.closeStream"]
    assert events["DBOS.send"] == {"stepID": 2, "destinationID": wfid, "topic": "topic"}
    assert events["DBOS.setEvent"]["key"] == "progress" and events["DBOS.writeStream"]["key"] == "out"


@DBOS.required_roles(["user"])
@DBOS.workflow(name="trace.for_users")
def for_users() -> str:
    return DBOS.assumed_role or ""


def test_a_workflow_span_names_the_user_its_roles_and_the_role_assumed(traced: type[DBOS],
                                                                        spans: InMemorySpanExporter) -> None:
    with DBOSContextSetAuth("user1", ["user", "engineer"]):
        assert for_users() == "user"
        DBOS.start_workflow(for_users).get_result()  # checked (and assumed) when it runs, in another thread
    # the started one's span ends after its outcome is visible: wait for it
    got = [r for r in finished(spans, "trace.for_users", count=2, timeout=10) if r["name"] == "trace.for_users"]
    assert len(got) == 2
    for span in got:
        assert span["attributes"]["authenticatedUser"] == "user1"
        assert span["attributes"]["authenticatedUserRoles"] == '["user", "engineer"]'  # DBOS's form
        assert span["attributes"]["authenticatedUserAssumedRole"] == "user"


def test_a_failing_workflow_span_has_error_status(traced: type[DBOS], spans: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError):
        fails()
    span = only(records(spans.get_finished_spans()), "trace.fails")
    assert span["status"] == "ERROR" and span["events"][0]["name"] == "exception"


def test_one_trace_through_children_start_workflow_and_a_queue(traced: type[DBOS], spans: InMemorySpanExporter
                                                               ) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("request"):
        handle = DBOS.start_workflow(parent, 1)  # runs on another thread
        assert handle.get_result() == 2 + 12 + 22
    finished(spans, "trace.parent")
    got = finished(spans, "trace.child", count=3)  # a child's result is seen before its span ends
    request = only(got, "request")
    top = only(got, "trace.parent")
    assert child_of(top, request)
    kids = [s for s in got if s["name"] == "trace.child"]
    assert len(kids) == 3 and all(child_of(k, top) for k in kids)
    assert sorted(k["attributes"].get("queueName", "") for k in kids) == ["", "", "trace-q"]
    for kid in kids:  # each child's step is the child's
        step = only(got, "trace.plus_one", operationUUID=kid["attributes"]["operationUUID"])
        assert child_of(step, kid)
    # the context is stored with each workflow
    stored = traced._rt().store.get_workflow(handle.workflow_id)
    assert stored is not None and stored.trace_context is not None
    assert json.loads(stored.trace_context)["traceparent"].split("-")[1] == request["trace_id"]


def test_a_workflow_enqueued_by_a_client_before_any_worker_runs_joins_the_clients_trace(
        db_url: str, spans: InMemorySpanExporter) -> None:
    wfid = f"later-{uuid.uuid4().hex[:8]}"
    with DBOSClient(db_url) as client, trace.get_tracer("test").start_as_current_span("client-call"):
        client.enqueue({"queue_name": "trace-q", "workflow_name": "trace.child", "workflow_id": wfid,
                        "authenticated_user": "alice"}, 5)
    DBOS(config=make_config(db_url, enable_otlp=True))
    DBOS.launch()
    try:
        assert DBOS.retrieve_workflow(wfid).get_result() == 6
        got = finished(spans, "trace.child")
    finally:
        DBOS.destroy()
    workflow = only(got, "trace.child")
    assert child_of(workflow, only(got, "client-call"))
    assert workflow["attributes"]["authenticatedUser"] == "alice"
    assert workflow["attributes"]["queueName"] == "trace-q"


def test_propagate_otel_context_and_semconv_names(db_url: str, spans: InMemorySpanExporter) -> None:
    DBOS(config=make_config(db_url, enable_otlp=True, otel_attribute_format="semconv"))
    DBOS.launch()
    remote = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    elsewhere = trace.set_span_in_context(NonRecordingSpan(remote))
    try:
        with trace.get_tracer("test").start_as_current_span("ambient"), PropagateOtelContext(elsewhere):
            handle = DBOS.start_workflow(child, 1)
        handle.get_result()
        wf = only(finished(spans, "trace.child"), "trace.child")
    finally:
        DBOS.destroy()
    assert wf["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and wf["parent_id"] == "b7ad6b7169203331"
    assert wf["attributes"]["dbos.operation.workflow_id"] == handle.workflow_id
    assert wf["attributes"]["dbos.operation.type"] == "workflow" and "operationUUID" not in wf["attributes"]


def test_without_enable_otlp_nothing_is_recorded_but_the_context_is_stored(dbos: type[DBOS],
                                                                           spans: InMemorySpanExporter) -> None:
    assert DBOS.tracer.disable_otlp
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        handle = DBOS.start_workflow(child, 1)
    assert handle.get_result() == 2
    stored = dbos._rt().store.get_workflow(handle.workflow_id)
    DBOS.destroy(workflow_completion_timeout_sec=5)  # its execution has ended
    assert [s.name for s in spans.get_finished_spans()] == ["caller"]
    assert stored is not None and stored.trace_context is not None
    assert f"{caller.get_span_context().span_id:016x}" in stored.trace_context


def test_dbos_tracer_and_span(traced: type[DBOS], spans: InMemorySpanExporter) -> None:
    assert DBOS.span is None  # outside any span
    assert not DBOS.tracer.disable_otlp and DBOS.tracer.otlp_attributes == {"team": "orders"}

    @DBOS.workflow(name="trace.custom")
    def custom() -> str:
        current = DBOS.span
        assert current is not None
        mine = DBOS.tracer.start_span({"name": "custom-work", "operationType": "custom"}, parent=current)
        DBOS.tracer.end_span(mine)
        return str(current.name)  # type: ignore[attr-defined]

    assert custom() == "trace.custom"
    got = records(spans.get_finished_spans())
    mine = only(got, "custom-work")
    assert child_of(mine, only(got, "trace.custom"))
    assert mine["attributes"]["operationType"] == "custom" and mine["attributes"]["team"] == "orders"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_records_carry_workflow_step_attempt_and_trace(traced: type[DBOS], spans: InMemorySpanExporter
                                                           ) -> None:
    handler = _Records()
    DBOS.logger.addHandler(handler)
    wfid = f"logs-{uuid.uuid4().hex[:8]}"
    try:
        with SetWorkflowID(wfid):
            operations()
    finally:
        DBOS.logger.removeHandler(handler)
    runs = [r for r in handler.records if r.getMessage() == "flaky runs"]
    retry = [r for r in handler.records if "automatically retried" in r.getMessage()]
    assert [(r.workflow_id, r.step_id, r.step_name, r.attempt) for r in runs] == [  # type: ignore[attr-defined]
        (wfid, 1, "trace.flaky", 1), (wfid, 1, "trace.flaky", 2)]
    assert len(retry) == 1 and retry[0].attempt == 1 and retry[0].levelno == logging.WARNING  # type: ignore[attr-defined]
    wf = only(records(spans.get_finished_spans()), "trace.operations")
    assert {r.traceId for r in runs} == {wf["trace_id"]}  # type: ignore[attr-defined]
    assert all(r.team == "orders" for r in runs)  # type: ignore[attr-defined]


def test_dbos_logger_records_reach_the_logger_provider_with_their_workflow(db_url: str,
                                                                          spans: InMemorySpanExporter) -> None:
    logs = memory_log_exporter()
    DBOS(config=make_config(db_url, enable_otlp=True, otlp_log_level="INFO"))
    DBOS.launch()
    wfid = f"otlp-logs-{uuid.uuid4().hex[:8]}"
    try:
        with SetWorkflowID(wfid):
            operations()
    finally:
        DBOS.destroy()
    runs = [r.log_record for r in logs.get_finished_logs() if r.log_record.body == "flaky runs"]
    assert [(r.attributes or {}).get("attempt") for r in runs] == [1, 2]
    first = runs[0].attributes or {}
    assert (first["workflow_id"], first["step_id"], first["step_name"]) == (wfid, 1, "trace.flaky")
    assert first["operationUUID"] == wfid
    assert f"{runs[0].trace_id:032x}" == only(records(spans.get_finished_spans()), "trace.operations")["trace_id"]
    logs.clear()
    DBOS.logger.warning("after destroy")  # the handler left with the application
    assert not logs.get_finished_logs()


def test_a_workflow_recovered_after_a_crash_continues_its_trace(db_url: str, spans: InMemorySpanExporter) -> None:
    config = make_config(db_url, enable_otlp=True)
    DBOS(config=config)
    DBOS.launch()
    release.clear()
    blocked.clear()
    wfid = f"recovered-{uuid.uuid4().hex[:8]}"
    try:
        with trace.get_tracer("test").start_as_current_span("caller"), SetWorkflowID(wfid):
            DBOS.start_workflow(resumable)
        assert blocked.wait(30)
        DBOS.destroy()  # the execution is abandoned mid-step, as in a crash
        DBOS(config=config)
        DBOS.launch()  # recovery runs it again from its stored row, in a thread with no span current
        release.set()
        assert DBOS.retrieve_workflow(wfid).get_result() == "released"
        deadline = time.monotonic() + 30
        while not [s for s in records(spans.get_finished_spans())
                   if s["name"] == "trace.resumable" and s["status"] == "OK"] and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        release.set()
        DBOS.destroy()
    # the abandoned execution ends too once released (so its span does not land in a later test)
    got = finished(spans, "trace.resumable", count=2, timeout=10)
    caller = only(got, "caller")
    runs = [s for s in got if s["name"] == "trace.resumable"]
    assert any(s["status"] == "OK" for s in runs) and all(child_of(s, caller) for s in runs)


def test_a_workflow_enqueued_by_dbos_with_propagate_otel_context_continues_that_trace(
        traced: type[DBOS], spans: InMemorySpanExporter) -> None:
    # what DBOS 3.4's PropagateOtelContext stores, in the attributes of a workflow it enqueued
    carrier = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with SetWorkflowAttributes({"dbos.otelContext": carrier}):
        handle = queue.enqueue(child, 1)
    assert handle.get_result() == 2
    wf = only(finished(spans, "trace.child"), "trace.child")
    assert (wf["trace_id"], wf["parent_id"]) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
