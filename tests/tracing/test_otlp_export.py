"""``otlp_traces_endpoints`` and ``otlp_logs_endpoints`` export over OTLP/HTTP: a subprocess app with no provider
of its own sends its spans and ``DBOS.logger`` records to a local HTTP server standing for a collector, which
decodes the protobuf bodies."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

HERE = Path(__file__).parent


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: dict[str, list[bytes]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.bodies.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_spans_and_logs_reach_the_otlp_endpoints(tmp_path: Path, collector: Collector) -> None:
    done = subprocess.run([sys.executable, str(HERE / "otlp_app.py"), f"sqlite:///{tmp_path}/otlp.sqlite",
                           f"{collector.url}/v1/traces", f"{collector.url}/v1/logs"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    spans = {}
    for body in collector.bodies.get("/v1/traces", []):
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
            for scope in resource.scope_spans:
                for span in scope.spans:
                    spans[span.name] = (service, {a.key: a.value for a in span.attributes}, span)
    assert set(spans) == {"otlp.workflow", "otlp.step"}
    service, attributes, workflow = spans["otlp.workflow"]
    assert service == "otlp-app"  # the provider Tether made is named after the app, as in DBOS
    assert attributes["operationType"].string_value == "workflow"
    assert attributes["deployment"].string_value == "test"
    assert spans["otlp.step"][2].parent_span_id == workflow.span_id
    logs = [record for body in collector.bodies.get("/v1/logs", [])
            for resource in ExportLogsServiceRequest.FromString(body).resource_logs
            for scope in resource.scope_logs for record in scope.log_records]
    step_log = next(r for r in logs if r.body.string_value == "hello from the step")
    fields = {a.key: a.value for a in step_log.attributes}
    assert fields["step_name"].string_value == "otlp.step" and fields["attempt"].int_value == 1
    assert step_log.trace_id == workflow.trace_id
