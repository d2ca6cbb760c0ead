"""Shared helpers for the benchmark scenarios.

* the implementation switch: scenarios write ``from bench.common import DBOS`` and get ``tether.DBOS`` or
  ``dbos.DBOS`` according to ``BENCH_IMPL`` (set by ``bench/run.py`` for each subprocess);
* throwaway databases (a fresh PostgreSQL database or a SQLite file in a temp dir per scenario run);
* ``launched(url)``: configure, launch and destroy the process-wide DBOS object;
* timing and statistics helpers, and the ``Metric`` record every scenario returns.

The implementation is imported lazily, on first access to ``DBOS``/``SetWorkflowID``, so that
``bench/run.py`` and the ``pg_limit`` scenario never import either library.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

__all__ = [
    "DBOS",
    "IMPL",
    "PG_BASE_URL",
    "Metric",
    "SetEnqueueOptions",
    "SetWorkflowID",
    "database",
    "launched",
    "median",
    "percentile",
    "process_stats",
    "rep_latency_metrics",
    "wait_until",
]

IMPL = os.environ.get("BENCH_IMPL", "none")
PG_BASE_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")

if TYPE_CHECKING:  # both libraries expose the same surface; type-check against the peer's stubs
    from dbos import DBOS, SetEnqueueOptions, SetWorkflowID


def __getattr__(name: str) -> Any:
    """PEP 562 hook: import the selected implementation the first time a scenario asks for it."""
    if name not in ("DBOS", "SetWorkflowID", "SetEnqueueOptions"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if IMPL not in ("tether", "dbos"):
        raise RuntimeError(f"BENCH_IMPL must be 'tether' or 'dbos' to use {name}, got {IMPL!r}")
    module = importlib.import_module(IMPL)
    globals().update(DBOS=module.DBOS, SetWorkflowID=module.SetWorkflowID,
                     SetEnqueueOptions=module.SetEnqueueOptions)
    return globals()[name]


def _dbos() -> Any:
    """The selected ``DBOS`` class, for use inside this module (where ``__getattr__`` does not apply)."""
    return __getattr__("DBOS")


# --------------------------------------------------------------------------- results


@dataclass
class Metric:
    """One number a scenario reports. ``better`` is "higher", "lower" or "" (informational only)."""

    name: str
    value: float
    unit: str
    better: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def latency_metrics(prefix: str, seconds: Sequence[float], **detail: Any) -> list[Metric]:
    """p50 and p99 in milliseconds of a list of durations in seconds."""
    ms = [s * 1000.0 for s in seconds]
    extra = {"n": len(ms), "min_ms": min(ms, default=math.nan), "max_ms": max(ms, default=math.nan), **detail}
    return [
        Metric(f"{prefix} p50", percentile(ms, 50), "ms", "lower", extra),
        Metric(f"{prefix} p99", percentile(ms, 99), "ms", "lower", extra),
    ]


def rep_latency_metrics(prefix: str, reps: Sequence[Sequence[float]], **detail: Any) -> list[Metric]:
    """p50 and p99 in milliseconds over repetitions of durations in seconds: the p50 is the median of the
    repetitions' p50s (each kept in the detail), the p99 pools every sample (a repetition alone is too short
    for a p99 of its own)."""
    ms_reps = [[s * 1000.0 for s in rep] for rep in reps if rep]
    pooled = [v for rep in ms_reps for v in rep]
    p50s = [percentile(rep, 50) for rep in ms_reps]
    extra = {"n": len(pooled), "reps": len(ms_reps), "min_ms": min(pooled, default=math.nan),
             "max_ms": max(pooled, default=math.nan), **detail}
    return [
        Metric(f"{prefix} p50", median(p50s), "ms", "lower", {**extra, "rep_p50s": [round(p, 4) for p in p50s]}),
        Metric(f"{prefix} p99", percentile(pooled, 99), "ms", "lower", extra),
    ]


def throughput_metric(name: str, rates: Sequence[float], unit: str = "wf/s", **detail: Any) -> Metric:
    """Median over repetitions of a rate; every repetition is kept in the detail."""
    return Metric(name, median(rates), unit, "higher", {"reps": [round(r, 2) for r in rates], **detail})


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return whether it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def process_stats() -> dict[str, float]:
    """Current RSS (MiB), peak RSS (MiB) and thread counts of this process."""
    import resource

    import psutil  # type: ignore[import-untyped,unused-ignore]

    proc = psutil.Process()
    return {
        "rss_mib": proc.memory_info().rss / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,  # KiB on Linux
        "os_threads": float(proc.num_threads()),
        "py_threads": float(threading.active_count()),
    }


# --------------------------------------------------------------------------- databases


def _admin_connect() -> Any:
    import psycopg

    return psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True)


def _drop(name: str, attempts: int = 5) -> None:
    """Drop a bench database, retrying while a still-running library reconnects to it (capped runs)."""
    for attempt in range(attempts):
        try:
            with _admin_connect() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception as exc:
            if attempt == attempts - 1:
                print(f"(could not drop database {name}: {exc})", flush=True)
            time.sleep(0.5)


@contextlib.contextmanager
def database(backend: str, label: str) -> Iterator[str]:
    """Yield the URL of a fresh, empty database for one scenario run, and remove it afterwards."""
    if backend == "postgres":
        name = f"bench_{label}_{os.getpid()}".lower()
        with _admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_BASE_URL}/{name}"
        finally:
            _drop(name)
    elif backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix=f"bench_{label}_")
        try:
            yield f"sqlite:///{tmp}/bench.sqlite"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        raise ValueError(f"unknown backend {backend!r}")


def configure(url: str, config: dict[str, Any] | None = None) -> None:
    """Create the process-wide DBOS object (not launched) with the one config every scenario uses, plus
    ``config`` (extra keys, e.g. dbos's ``notification_listener_polling_interval_sec`` for one variant)."""
    _dbos()(config={"name": "bench", "system_database_url": url, **(config or {})})


@contextlib.contextmanager
def launched(url: str, config: dict[str, Any] | None = None) -> Iterator[None]:
    """Configure and launch DBOS on ``url`` for the duration of the block, then destroy it."""
    configure(url, config)
    _dbos().launch()
    try:
        yield
    finally:
        _dbos().destroy()
