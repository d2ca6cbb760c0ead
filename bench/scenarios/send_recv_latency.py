"""send_recv_latency: from ``DBOS.send`` returning in the bench to ``DBOS.recv`` returning in a workflow.

Each round trip starts a workflow that publishes a "ready" event and then blocks in
``DBOS.recv("t", timeout_seconds=30)``. The bench waits for "ready" (``get_event``), sleeps ``settle_s``
so the workflow is surely blocked in recv, sends, and notes ``perf_counter()`` when send returns. The
workflow returns ``perf_counter()`` taken right after recv returned (same process, same clock).
Stops after ``n`` round trips or ``budget_s`` seconds, whichever comes first (at least ``min_n``).
"""

from __future__ import annotations

import time

from bench.common import DBOS, Metric, latency_metrics, launched


@DBOS.workflow()
def receiver() -> tuple[float, float]:
    DBOS.set_event("ready", True)
    sent_at = DBOS.recv("t", timeout_seconds=30)
    received_at = time.perf_counter()
    if sent_at is None:
        raise TimeoutError("recv timed out")
    return sent_at, received_at


def run(url: str, n: int = 100, settle_s: float = 0.05, warmup: int = 3, budget_s: float = 30.0,
        min_n: int = 20) -> list[Metric]:
    latencies: list[float] = []
    send_calls: list[float] = []
    with launched(url):
        deadline = time.monotonic() + budget_s
        for i in range(warmup + n):
            if len(latencies) >= min_n and time.monotonic() > deadline:
                break
            handle = DBOS.start_workflow(receiver)
            if DBOS.get_event(handle.workflow_id, "ready", timeout_seconds=30) is not True:
                raise TimeoutError("workflow never became ready")
            time.sleep(settle_s)
            before = time.perf_counter()
            DBOS.send(handle.workflow_id, before, "t")
            after = time.perf_counter()
            _, received_at = handle.get_result()
            if i >= warmup:
                latencies.append(received_at - after)
                send_calls.append(after - before)
    return [*latency_metrics("send->recv", latencies), *latency_metrics("send() call", send_calls)]
