"""wf_seq: a workflow of three trivial steps, called directly, one after another.

Reports workflows/s (median over repetitions), per-workflow latency p50/p99 and CPU time per workflow
(``time.process_time``: every thread of the process, so background pollers are counted too).
"""

from __future__ import annotations

import time

from bench.common import DBOS, Metric, latency_metrics, launched, median, throughput_metric


@DBOS.step()
def add_one(x: int) -> int:
    return x + 1


@DBOS.workflow()
def three_steps(x: int) -> int:
    return add_one(add_one(add_one(x)))


def run(url: str, n: int = 200, reps: int = 5, warmup: int = 20) -> list[Metric]:
    rates: list[float] = []
    cpu_per_wf: list[float] = []
    latencies: list[float] = []
    with launched(url):
        for i in range(warmup):
            three_steps(i)
        for _ in range(reps):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(n):
                t = time.perf_counter()
                assert three_steps(i) == i + 3
                latencies.append(time.perf_counter() - t)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            rates.append(n / wall)
            cpu_per_wf.append(cpu / n)
    cpu_ms = [c * 1000.0 for c in cpu_per_wf]
    return [
        throughput_metric("throughput", rates, n=n),
        *latency_metrics("latency", latencies),
        Metric("CPU per workflow", median(cpu_ms), "ms", "lower", {"reps": [round(c, 3) for c in cpu_ms]}),
    ]
