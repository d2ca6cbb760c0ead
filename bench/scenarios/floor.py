"""floor: the physical floor under the latencies, with no workflow library, as a table of its own.

The latency scenarios time these same operations between their own round trips (``bench/floorprobe.py``)
and the report divides each latency by the floor its own run measured (``bench/floors.py``); this scenario
shows the operations on their own, ``reps`` repetitions of ``n`` samples after ``settle_s`` of idleness
(the latency scenarios wait that long before the call they time; on this VM a round trip after an idle
gap costs several times a hot one) and ``n`` back-to-back.

On SQLite it also times a commit with SQLite's defaults (rollback journal, ``synchronous=FULL``: dbos
3.4.0's settings) next to tether's (WAL, ``synchronous=NORMAL``), since part of every SQLite ratio is that
choice.
"""

from __future__ import annotations

import sqlite3
import time

from bench.common import Metric, rep_latency_metrics
from bench.floorprobe import PAYLOAD, FloorProbe, FloorSamples


def run(url: str, n: int = 40, reps: int = 3, settle_s: float = 0.05) -> list[Metric]:
    probe = FloorProbe(url)
    samples = FloorSamples(probe)
    full = None
    full_idle: list[list[float]] = []
    full_hot: list[list[float]] = []
    if probe.sqlite:
        full = sqlite3.connect(url.removeprefix("sqlite:///") + ".full", isolation_level=None)
        full.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")

    def full_commit() -> float:
        assert full is not None
        start = time.perf_counter()
        full.execute("INSERT INTO floor (payload) VALUES (?)", (PAYLOAD,))
        return time.perf_counter() - start

    try:
        for rep in range(reps):
            if rep:
                samples.new_rep()
            full_idle.append([])
            for _ in range(n):
                samples.after_idle(settle_s)
                if full is not None:
                    time.sleep(settle_s)
                    full_idle[-1].append(full_commit())
            samples.back_to_back(n)
            if full is not None:
                full_hot.append([full_commit() for _ in range(n)])
    finally:
        probe.close()
        if full is not None:
            full.close()
    metrics = [m for m in samples.metrics()]
    for m in metrics:
        m.name = m.name.removeprefix("floor: ")
        m.detail["settle_s"] = settle_s
    if full_hot:
        metrics += rep_latency_metrics("commit (rollback journal, FULL) after idle", full_idle)
        metrics += rep_latency_metrics("commit (rollback journal, FULL) back-to-back", full_hot)
    for m in metrics:
        m.better = ""
    return metrics
