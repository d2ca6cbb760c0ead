"""send_recv_latency: from the caller calling ``DBOS.send`` to ``DBOS.recv`` returning in a workflow.

Each round trip starts a workflow that publishes a "ready" event and then blocks in
``DBOS.recv("t", timeout_seconds=30)``. The bench waits for "ready" (``get_event``), sleeps ``settle_s``
so the workflow is surely blocked in recv, notes ``perf_counter()`` and calls send, and notes it again
when send returns. The workflow returns ``perf_counter()`` taken right after recv returned (same process,
same clock). Reported:

* ``send->recv`` -- from the call of send to the return of recv: the latency a user sees (the headline);
* ``send->recv after return`` -- from send returning to recv returning (the figure older runs reported;
  it leaves the send call out, and is negative when the receiver returns before the sender);
* ``send() call`` -- the send call alone.

``reps`` repetitions of up to ``n`` round trips each (a repetition stops after ``budget_s / reps`` seconds,
with at least ``min_n`` round trips); p50 = median of the repetitions' p50s, p99 over all samples.
``config`` adds keys to the DBOS config (the dbos-on-SQLite variant with its fastest polling).
After each round trip the floor's operations are timed on the same database after the same idle gap
(``bench/floorprobe.py``) and reported as ``floor: ...`` metrics.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import DBOS, Metric, launched, rep_latency_metrics
from bench.floorprobe import FloorProbe, FloorSamples


@DBOS.workflow()
def receiver() -> tuple[float, float]:
    DBOS.set_event("ready", True)
    sent_at = DBOS.recv("t", timeout_seconds=30)
    received_at = time.perf_counter()
    if sent_at is None:
        raise TimeoutError("recv timed out")
    return sent_at, received_at


def run(url: str, n: int = 100, settle_s: float = 0.05, warmup: int = 3, budget_s: float = 30.0,
        min_n: int = 20, reps: int = 1, config: dict[str, Any] | None = None) -> list[Metric]:
    from_call: list[list[float]] = []
    after_return: list[list[float]] = []
    send_calls: list[list[float]] = []
    with launched(url, config):
        floors = FloorSamples(FloorProbe(url))
        for rep in range(reps):
            if rep:
                floors.new_rep()
            from_call.append([])
            after_return.append([])
            send_calls.append([])
            deadline = time.monotonic() + budget_s / reps
            for i in range((warmup if rep == 0 else 0) + n):
                if len(from_call[-1]) >= min_n and time.monotonic() > deadline:
                    break
                handle = DBOS.start_workflow(receiver)
                if DBOS.get_event(handle.workflow_id, "ready", timeout_seconds=30) is not True:
                    raise TimeoutError("workflow never became ready")
                time.sleep(settle_s)
                before = time.perf_counter()
                DBOS.send(handle.workflow_id, before, "t")
                after = time.perf_counter()
                _, received_at = handle.get_result()
                if rep > 0 or i >= warmup:
                    from_call[-1].append(received_at - before)
                    after_return[-1].append(received_at - after)
                    send_calls[-1].append(after - before)
                    floors.after_idle(settle_s)
        floors.probe.close()
    return [*floors.metrics(),*rep_latency_metrics("send->recv", from_call, measured_from="the call of send"),
            *rep_latency_metrics("send->recv after return", after_return, measured_from="send returning"),
            *rep_latency_metrics("send() call", send_calls)]
