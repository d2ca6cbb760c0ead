"""event_latency: from ``DBOS.set_event`` being called in a workflow to a waiting ``DBOS.get_event`` returning.

The bench starts a workflow and immediately blocks in ``get_event``; the workflow waits ``settle_s``
(plain ``time.sleep``, so the reader is surely waiting), then calls ``set_event`` with the
``perf_counter()`` taken just before the call. Latency = get_event return time - that value, i.e. measured
from the call (the set_event call alone is reported too). ``reps`` repetitions of up to ``n`` round trips
(a repetition stops after ``budget_s / reps`` seconds, with at least ``min_n``); p50 = median of the
repetitions' p50s, p99 over all samples. ``config`` adds keys to the DBOS config. After each round trip
the floor's operations are timed on the same database after the same idle gap (``bench/floorprobe.py``).
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import DBOS, Metric, launched, rep_latency_metrics
from bench.floorprobe import FloorProbe, FloorSamples


@DBOS.workflow()
def publisher(settle_s: float) -> float:
    time.sleep(settle_s)
    before = time.perf_counter()
    DBOS.set_event("k", before)
    return time.perf_counter() - before


def run(url: str, n: int = 100, settle_s: float = 0.05, warmup: int = 3, budget_s: float = 30.0,
        min_n: int = 20, reps: int = 1, config: dict[str, Any] | None = None) -> list[Metric]:
    latencies: list[list[float]] = []
    set_calls: list[list[float]] = []
    with launched(url, config):
        floors = FloorSamples(FloorProbe(url))
        for rep in range(reps):
            if rep:
                floors.new_rep()
            latencies.append([])
            set_calls.append([])
            deadline = time.monotonic() + budget_s / reps
            for i in range((warmup if rep == 0 else 0) + n):
                if len(latencies[-1]) >= min_n and time.monotonic() > deadline:
                    break
                handle = DBOS.start_workflow(publisher, settle_s)
                set_at = DBOS.get_event(handle.workflow_id, "k", timeout_seconds=30)
                got_at = time.perf_counter()
                if set_at is None:
                    raise TimeoutError("get_event timed out")
                set_call = handle.get_result()
                if rep > 0 or i >= warmup:
                    latencies[-1].append(got_at - set_at)
                    set_calls[-1].append(set_call)
                    floors.after_idle(settle_s)
        floors.probe.close()
    return [*floors.metrics(),
        *rep_latency_metrics("set_event->get_event", latencies, measured_from="the call of set_event"),
        *rep_latency_metrics("set_event() call", set_calls),
    ]
