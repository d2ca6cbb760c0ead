"""wf_seq: a workflow of three trivial steps, called directly, one after another.

Reports workflows/s (median over repetitions), per-workflow latency p50/p99 and CPU time per workflow
(``time.process_time``: every thread of the process, so background pollers are counted too). After each
repetition the floor's operations are timed back-to-back on the same database (``bench/floorprobe.py``).
"""

from __future__ import annotations

import time

from bench.common import DBOS, Metric, launched, median, rep_latency_metrics, throughput_metric
from bench.floorprobe import FloorProbe, FloorSamples


@DBOS.step()
def add_one(x: int) -> int:
    return x + 1


@DBOS.workflow()
def three_steps(x: int) -> int:
    return add_one(add_one(add_one(x)))


def run(url: str, n: int = 200, reps: int = 5, warmup: int = 20) -> list[Metric]:
    rates: list[float] = []
    cpu_per_wf: list[float] = []
    latencies: list[list[float]] = []
    with launched(url):
        floors = FloorSamples(FloorProbe(url))
        for i in range(warmup):
            three_steps(i)
        for rep in range(reps):
            if rep:
                floors.new_rep()
            latencies.append([])
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(n):
                t = time.perf_counter()
                assert three_steps(i) == i + 3
                latencies[-1].append(time.perf_counter() - t)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            rates.append(n / wall)
            cpu_per_wf.append(cpu / n)
            floors.back_to_back(50)
        floors.probe.close()
    cpu_ms = [c * 1000.0 for c in cpu_per_wf]
    return [
        *floors.metrics(),
        throughput_metric("throughput", rates, n=n),
        *rep_latency_metrics("latency", latencies),
        Metric("CPU per workflow", median(cpu_ms), "ms", "lower", {"reps": [round(c, 3) for c in cpu_ms]}),
    ]
