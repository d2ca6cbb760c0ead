"""One OpenTelemetry SDK ``TracerProvider`` per test process, exporting to memory, and ways to read a trace.

The global provider can be set only once per process, so every tracing test shares this one and clears its
exporter first.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter: InMemorySpanExporter | None = None
_log_exporter: InMemoryLogRecordExporter | None = None


def memory_exporter() -> InMemorySpanExporter:
    """The process's in-memory exporter (installing the provider on first use), emptied."""
    global _exporter
    if _exporter is None:
        _exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    _exporter.clear()
    return _exporter


def memory_log_exporter() -> InMemoryLogRecordExporter:
    """The process's in-memory log exporter (installing the global ``LoggerProvider`` on first use), emptied."""
    global _log_exporter
    if _log_exporter is None:
        _log_exporter = InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(_log_exporter))
        set_logger_provider(provider)
    _log_exporter.clear()
    return _log_exporter


def finished(exporter: InMemorySpanExporter, *names: str, count: int = 1, timeout: float = 30.0
             ) -> list[dict[str, Any]]:
    """The finished spans, once ``count`` spans of each of ``names`` have ended. A workflow's outcome is
    visible to waiters before its span ends (the span covers recording it), so tests wait for the span."""
    deadline = time.monotonic() + timeout
    while True:
        got = records(exporter.get_finished_spans())
        if all(sum(1 for s in got if s["name"] == n) >= count for n in names) or time.monotonic() > deadline:
            return got
        time.sleep(0.01)


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """What the tests look at in a span, as plain data (also what worker processes write to a file)."""
    assert span.context is not None
    return {
        "name": span.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent is not None else None,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
        "status": span.status.status_code.name,
        "kind": span.kind.name,
    }


def records(spans: Iterable[ReadableSpan]) -> list[dict[str, Any]]:
    return [span_record(s) for s in spans]


def only(spans: Sequence[dict[str, Any]], name: str, **attributes: Any) -> dict[str, Any]:
    """The one span named ``name`` (with these attribute values)."""
    found = [s for s in spans if s["name"] == name
             and all(s["attributes"].get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, (name, attributes, [(s["name"], s["attributes"]) for s in spans])
    return found[0]


def child_of(span: dict[str, Any], parent: dict[str, Any]) -> bool:
    return span["trace_id"] == parent["trace_id"] and span["parent_id"] == parent["span_id"]


def descends(span: dict[str, Any], ancestor: dict[str, Any], spans: Sequence[dict[str, Any]]) -> bool:
    """``span`` is ``ancestor``'s child, or a child of one of its descendants among ``spans``."""
    by_id = {s["span_id"]: s for s in spans}
    parent = span["parent_id"]
    while parent is not None and span["trace_id"] == ancestor["trace_id"]:
        if parent == ancestor["span_id"]:
            return True
        parent = by_id[parent]["parent_id"] if parent in by_id else None
    return False
