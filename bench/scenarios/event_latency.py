"""event_latency: from ``DBOS.set_event`` in a workflow to a waiting ``DBOS.get_event`` returning.

The bench starts a workflow and immediately blocks in ``get_event``; the workflow waits ``settle_s``
(plain ``time.sleep``, so the reader is surely waiting), then calls ``set_event`` with the
``perf_counter()`` taken just before the call. Latency = get_event return time - that value.
Stops after ``n`` round trips or ``budget_s`` seconds, whichever comes first (at least ``min_n``).
"""

from __future__ import annotations

import time

from bench.common import DBOS, Metric, latency_metrics, launched


@DBOS.workflow()
def publisher(settle_s: float) -> float:
    time.sleep(settle_s)
    before = time.perf_counter()
    DBOS.set_event("k", before)
    return time.perf_counter() - before


def run(url: str, n: int = 100, settle_s: float = 0.05, warmup: int = 3, budget_s: float = 30.0,
        min_n: int = 20) -> list[Metric]:
    latencies: list[float] = []
    set_calls: list[float] = []
    with launched(url):
        deadline = time.monotonic() + budget_s
        for i in range(warmup + n):
            if len(latencies) >= min_n and time.monotonic() > deadline:
                break
            handle = DBOS.start_workflow(publisher, settle_s)
            set_at = DBOS.get_event(handle.workflow_id, "k", timeout_seconds=30)
            got_at = time.perf_counter()
            if set_at is None:
                raise TimeoutError("get_event timed out")
            set_call = handle.get_result()
            if i >= warmup:
                latencies.append(got_at - set_at)
                set_calls.append(set_call)
    return [
        *latency_metrics("set_event->get_event", latencies),
        *latency_metrics("set_event() call", set_calls),
    ]
