"""stream: a workflow writes ``n`` values with ``DBOS.write_stream`` while the bench reads them.

Each value carries ``perf_counter()`` taken as ``write_stream`` is called; the reader (``DBOS.read_stream`` in the
bench's main thread, started right after the workflow) records the latency from that call to the value's
arrival (p50 = median of the repetitions' p50s, p99 over all values). After each repetition the floor's
operations are timed back-to-back on the same database (``bench/floorprobe.py``). Write throughput is
measured inside the workflow, from the first write to ``close_stream`` returning. ``step write throughput`` is
the same loop run inside one step (on tether such writes are exactly-once per step call; on dbos they are
at-least-once), read back and checked the same way after the timed repetitions.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import DBOS, Metric, launched, rep_latency_metrics, throughput_metric
from bench.floorprobe import FloorProbe, FloorSamples


@DBOS.workflow()
def writer(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        DBOS.write_stream("s", (i, time.perf_counter()))
    DBOS.close_stream("s")
    return time.perf_counter() - start


@DBOS.step()
def step_writes(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        DBOS.write_stream("s", (i, time.perf_counter()))
    return time.perf_counter() - start


@DBOS.workflow()
def step_writer(n: int) -> float:
    took = step_writes(n)
    DBOS.close_stream("s")
    return took


def _read_all(workflow_id: str, n: int) -> None:
    seen = 0
    for i, _ in DBOS.read_stream(workflow_id, "s"):
        if i != seen:
            raise AssertionError(f"stream out of order: got {i}, expected {seen}")
        seen += 1
    if seen != n:
        raise AssertionError(f"read {seen} values, expected {n}")


def run(url: str, n: int = 2000, reps: int = 3, config: dict[str, Any] | None = None) -> list[Metric]:
    rates: list[float] = []
    latencies: list[list[float]] = []
    with launched(url, config):
        floors = FloorSamples(FloorProbe(url))
        for rep in range(reps):
            if rep:
                floors.new_rep()
            latencies.append([])
            handle = DBOS.start_workflow(writer, n)
            seen = 0
            for i, written_at in DBOS.read_stream(handle.workflow_id, "s"):
                latencies[-1].append(time.perf_counter() - written_at)
                if i != seen:
                    raise AssertionError(f"stream out of order: got {i}, expected {seen}")
                seen += 1
            if seen != n:
                raise AssertionError(f"read {seen} values, expected {n}")
            rates.append(n / handle.get_result())
            floors.back_to_back(50)
        floors.probe.close()
        step_rates: list[float] = []
        for _ in range(reps):
            handle = DBOS.start_workflow(step_writer, n)
            _read_all(handle.workflow_id, n)
            step_rates.append(n / handle.get_result())
    return [*floors.metrics(), throughput_metric("write throughput", rates, unit="values/s", n=n),
            throughput_metric("step write throughput", step_rates, unit="values/s", n=n),
            *rep_latency_metrics("write->read", latencies, measured_from="the call of write_stream")]
