"""stream: a workflow writes ``n`` values with ``DBOS.write_stream`` while the bench reads them.

Each value carries ``perf_counter()`` at write time; the reader (``DBOS.read_stream`` in the bench's
main thread, started right after the workflow) records write-to-read latency. Write throughput is
measured inside the workflow, from the first write to ``close_stream`` returning.
"""

from __future__ import annotations

import time

from bench.common import DBOS, Metric, latency_metrics, launched, throughput_metric


@DBOS.workflow()
def writer(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        DBOS.write_stream("s", (i, time.perf_counter()))
    DBOS.close_stream("s")
    return time.perf_counter() - start


def run(url: str, n: int = 2000, reps: int = 3) -> list[Metric]:
    rates: list[float] = []
    latencies: list[float] = []
    with launched(url):
        for _ in range(reps):
            handle = DBOS.start_workflow(writer, n)
            seen = 0
            for i, written_at in DBOS.read_stream(handle.workflow_id, "s"):
                latencies.append(time.perf_counter() - written_at)
                if i != seen:
                    raise AssertionError(f"stream out of order: got {i}, expected {seen}")
                seen += 1
            if seen != n:
                raise AssertionError(f"read {seen} values, expected {n}")
            rates.append(n / handle.get_result())
    return [throughput_metric("write throughput", rates, unit="values/s", n=n),
            *latency_metrics("write->read", latencies)]
