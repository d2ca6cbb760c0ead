"""Run by tests/tracing/test_otlp_export.py: a DBOS app with ``enable_otlp`` and OTLP endpoints and no provider
of its own, so Tether makes the providers; runs one workflow, logs from its step, flushes, and exits.

    python otlp_app.py <database_url> <traces_endpoint> <logs_endpoint>
"""

from __future__ import annotations

import sys

from opentelemetry import _logs, trace

from tether import DBOS


def main() -> None:
    db_url, traces, logs = sys.argv[1:4]

    @DBOS.step(name="otlp.step")
    def step() -> str:
        DBOS.logger.info("hello from the step")
        return "done"

    @DBOS.workflow(name="otlp.workflow")
    def workflow() -> str:
        return step()

    DBOS(config={"name": "otlp-app", "system_database_url": db_url, "enable_otlp": True,
                 "otlp_traces_endpoints": [traces], "otlp_logs_endpoints": [logs],
                 "otlp_attributes": {"deployment": "test"}})
    DBOS.launch()
    assert workflow() == "done"
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    _logs.get_logger_provider().force_flush()  # type: ignore[attr-defined]
    DBOS.destroy()
    print("ok")


if __name__ == "__main__":
    main()
