"""A worker process for the cross-process tracing test: launched with ``enable_otlp`` and an in-memory span
exporter, it serves one queue and runs ``xp.order`` (two steps and an event). When its stdin closes it waits
for the ``xp.order`` span to end, stops, and writes every span it recorded to a JSON file.

    python trace_worker.py <database_url> <executor_id> <queue_name> <spans_file>

Prints "ready" once launched.
"""

from __future__ import annotations

import json
import sys

from support import finished, memory_exporter  # this script's folder is on sys.path

from tether import DBOS, Queue


def main() -> None:
    db_url, executor_id, queue_name, spans_file = sys.argv[1:5]
    spans = memory_exporter()
    Queue(queue_name)

    @DBOS.step(name="xp.reserve")
    def reserve(item: str) -> str:
        return f"reserved {item}"

    @DBOS.step(name="xp.charge")
    def charge(item: str) -> str:
        return f"charged {item}"

    @DBOS.workflow(name="xp.order")
    def order(item: str) -> str:
        first = reserve(item)
        DBOS.set_event("status", "reserved")
        return f"{first}, {charge(item)}"

    DBOS(config={"name": "trace-worker", "system_database_url": db_url, "executor_id": executor_id,
                 "application_version": "trace", "sqlite_poll_interval_sec": 0.02, "enable_otlp": True})
    DBOS.launch()
    print("ready", flush=True)
    sys.stdin.read()
    got = finished(spans, "xp.order", timeout=20)
    DBOS.destroy()
    with open(spans_file, "w") as f:
        json.dump(got, f)


if __name__ == "__main__":
    main()
