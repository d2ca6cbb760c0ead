"""Profile one benchmark scenario under cProfile: where does the wall time and the CPU time go?

    python3 bench/profile.py wf_seq --backend postgres
    python3 bench/profile.py send_recv_latency --backend postgres [--impl dbos] [--top 20]
    python3 bench/profile.py wf_seq --clock cpu --params '{"n": 500, "reps": 2}'

Runs the scenario's ``run()`` (the same code ``bench/run.py`` measures) on a fresh database, twice, each
in a subprocess of its own: once with a wall clock (``time.perf_counter``) and once with a per-thread CPU
clock (``time.thread_time``: with a profiler per thread, ``time.process_time`` would charge one thread's
CPU to whatever frames another thread has open). Every thread gets its own ``cProfile.Profile`` (the
``threading.Thread.run`` of every thread started after this script loads is wrapped), and the main
thread is profiled from the moment ``DBOS.launch()`` returns until ``DBOS.destroy()`` is called, so
set-up and tear-down stay out of the main thread's numbers.

Printed, per clock: the scenario's own metrics (slowed down by the profiler), time per thread group
(main, workers, event loop, I/O pool, listener...), time by area (tether engine, storage, psycopg,
libpq round trips, sqlite3, locks and queues, asyncio, ...), and the top functions by self time and by
cumulative time, with totals per unit of work (workflow or round trip). Wall time of a thread includes
the time it spends blocked (on the database, a lock, a queue): that is the point of the wall profile.

cProfile adds roughly a microsecond per Python call, so Python-heavy code looks heavier than it is;
compare shares within one profile, and absolute numbers with ``bench/run.py``.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's directory comes first on sys.path, and this file is named like the
# standard library's ``profile``, which ``cProfile`` imports: take bench/ off the path first.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse
import cProfile
import json
import pstats
import re
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Default sizes: long enough for stable shares, short enough to take ~10-20 s per clock under cProfile.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "wf_seq": {"n": 200, "reps": 3, "warmup": 20},
    "send_recv_latency": {"n": 60, "budget_s": 20, "min_n": 10, "warmup": 2},
    "event_latency": {"n": 60, "budget_s": 20, "min_n": 10, "warmup": 2},
    "stream": {"n": 500, "reps": 2},
    "wf_concurrent": {"inflight": [32], "per_slot": 1, "min_total": 128, "reps": 1},
}


def units_of_work(scenario: str, params: dict[str, Any], metrics: list[Any]) -> tuple[int, str] | None:
    """How many workflows / round trips the profiled part ran (to print per-unit figures)."""
    if scenario == "wf_seq":
        return params.get("warmup", 20) + params.get("n", 200) * params.get("reps", 5), "workflow"
    if scenario in ("send_recv_latency", "event_latency") and metrics:
        return metrics[0].detail["n"] + params.get("warmup", 3), "round trip"
    if scenario == "stream":
        return params.get("n", 2000) * params.get("reps", 3), "value"
    return None


# --------------------------------------------------------------------------- the profiled child


class _Snapshot:
    """What ``pstats.Stats`` needs, taken from a profiler that may still be running in another thread."""

    def __init__(self, prof: cProfile.Profile) -> None:
        prof.snapshot_stats()
        self.stats = prof.stats  # type: ignore[attr-defined]

    def create_stats(self) -> None:
        pass


def _thread_group(name: str) -> str:
    name = re.sub(r"[-_ ]?\d+(_\d+)?$", "", name)  # tether-worker-3 -> tether-worker, Thread-5 -> Thread
    name = re.sub(r" \(.*\)$", "", name)  # "Thread-5 (target)" -> Thread
    return re.sub(r"[-_]?\d+$", "", name) or "?"


AREAS: list[tuple[str, str]] = [  # (regex on "file:function", area); first match wins
    # psycopg_binary's pq calls are Cython without profiling hooks: cProfile charges the libpq call (send,
    # wait for the server, parse) to the self time of the Python function that makes it.
    (r"tether/storage/postgres/wire\.py:(run|run_sql|_exec\w*)$", "libpq round trips (self time of wire.py run)"),
    (r"psycopg/connection\.py:wait$|psycopg/generators\.py|psycopg/waiting\.py", "psycopg waits (listener, pool)"),
    (r"sqlite3\.|of 'sqlite3", "sqlite3 calls"),
    (r"'(get|put)' of '_queue|acquire' of '_thread|_thread\.lock|threading\.py:\d+\(wait",
     "locks, queues, thread waits"),
    (r"'poll' of 'select|'select' of|selectors\.py", "select/epoll (event-loop idle or socket wait)"),
    (r"'(send|recv|sendall)' of '_socket", "socket send/recv"),
    (r"time\.sleep|built-in method time\.sleep", "time.sleep"),
    (r"/tether/storage/", "tether storage (Python)"),
    (r"/tether/engine/", "tether engine (Python)"),
    (r"/tether/api/", "tether API (Python)"),
    (r"/tether/", "tether other (Python)"),
    (r"/dbos/", "dbos (Python)"),
    (r"/sqlalchemy/", "SQLAlchemy (Python)"),
    (r"/psycopg_pool/", "psycopg_pool (Python)"),
    (r"/psycopg/", "psycopg (Python)"),
    (r"/asyncio/|_asyncio|'run' of '_contextvars", "asyncio"),
    (r"threading\.py|queue\.py|contextvars", "threading, queue (Python)"),
    (r"json|pickle|base64|uuid|urandom", "serialization, ids"),
    (r"/bench/", "benchmark code"),
]


def _area_of(key: tuple[str, int, str]) -> str | None:
    text = f"{key[0]}:{key[2]}" if key[0] != "~" else key[2]
    for pattern, area in AREAS:
        if re.search(pattern, text):
            return area
    return None


def areas_of(stats: dict[Any, Any]) -> dict[str, float]:
    """Self time by area. A built-in no pattern names (list.append, isinstance...) is charged to the
    areas of its callers, in proportion to the time each caller spent in it."""
    areas: dict[str, float] = defaultdict(float)
    for key, (_cc, _nc, tt, _ct, callers) in stats.items():
        area = _area_of(key)
        if area is not None or key[0] != "~" or not callers:
            areas[area or "other"] += tt
            continue
        spent = sum(c[2] for c in callers.values()) or 1.0
        for caller, c in callers.items():
            areas[_area_of(caller) or "other"] += tt * c[2] / spent
    return areas


def _short(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func
    for marker in ("/src/tether/", "/site-packages/", "/lib/python3", "/bench/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            if marker == "/lib/python3":
                file = "py:" + file.split("/", 1)[1]
            break
    return f"{file}:{line}({func})"


def _print_top(stats: pstats.Stats, sort: str, top: int, units: tuple[int, str] | None, scale: float) -> None:
    entries = stats.stats  # type: ignore[attr-defined]
    idx = 2 if sort == "tottime" else 3
    rows = sorted(entries.items(), key=lambda kv: kv[1][idx], reverse=True)[:top]
    per = f"ms/{units[1]}" if units else "ms"
    print(f"  {'calls':>9} {'self ms':>9} {'cum ms':>9} {'self ' + per:>18} {'cum ' + per:>17}  function")
    for key, (_cc, nc, tt, ct, _callers) in rows:
        n = units[0] if units else 1
        print(f"  {nc:>9,} {tt * scale:>9.1f} {ct * scale:>9.1f} {tt * scale / n:>18.4f} {ct * scale / n:>17.4f}  "
              f"{_short(key)}")


def child(args: argparse.Namespace) -> int:
    os.environ["BENCH_IMPL"] = args.impl
    sys.path[:0] = [str(ROOT)] + ([str(ROOT / "src")] if args.impl == "tether" else [])
    timer = time.perf_counter if args.clock == "wall" else time.thread_time

    profiles: list[tuple[str, cProfile.Profile]] = []
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        prof = cProfile.Profile(timer)
        profiles.append((self.name, prof))
        prof.enable()
        try:
            original_run(self)
        finally:
            prof.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]

    import importlib

    from bench import common

    scenario = importlib.import_module(f"bench.scenarios.{args.scenario}")
    dbos_cls = common.DBOS
    main_prof = cProfile.Profile(timer)
    window: dict[str, float] = {}
    original_launch, original_destroy = dbos_cls.launch, dbos_cls.destroy

    def launch(*a: Any, **k: Any) -> Any:
        result = original_launch(*a, **k)
        window["start"] = time.perf_counter()
        main_prof.enable()
        return result

    def destroy(*a: Any, **k: Any) -> Any:
        main_prof.disable()
        window["end"] = time.perf_counter()
        return original_destroy(*a, **k)

    dbos_cls.launch, dbos_cls.destroy = staticmethod(launch), staticmethod(destroy)
    params = json.loads(args.params) if args.params else DEFAULT_PARAMS.get(args.scenario, {})

    with common.database(args.backend, f"prof_{args.impl}_{args.scenario}") as url:
        metrics = list(scenario.run(url, **params))
    threading.Thread.run = original_run  # type: ignore[method-assign]
    elapsed = window.get("end", 0.0) - window.get("start", 0.0)

    groups: dict[str, list[cProfile.Profile]] = defaultdict(list)
    groups["MainThread"].append(main_prof)
    for name, prof in profiles:
        groups[_thread_group(name)].append(prof)

    units = units_of_work(args.scenario, params, metrics)
    clock = "wall (perf_counter)" if args.clock == "wall" else "CPU (thread_time, per thread)"
    print(f"=== {args.impl} / {args.backend} / {args.scenario}, clock: {clock}, params {json.dumps(params)}")
    print(f"profiled window (launch returned -> destroy called): {elapsed:.2f} s wall"
          + (f", {units[0]} {units[1]}s, {1000 * elapsed / units[0]:.3f} ms wall per {units[1]}" if units else ""))
    print("scenario metrics under the profiler: " + ", ".join(
        f"{m.name} {m.value:.3g} {m.unit}" for m in metrics))

    merged: pstats.Stats | None = None
    by_group: dict[str, pstats.Stats] = {}
    print("\n-- time per thread group (sum of self time of every profiled function; wall includes blocking)")
    for group, profs in sorted(groups.items(), key=lambda kv: kv[0] != "MainThread"):
        stats = pstats.Stats(*[_Snapshot(p) for p in profs])  # type: ignore[arg-type]
        by_group[group] = stats
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        per = f", {1000 * total / units[0]:.3f} ms per {units[1]}" if units else ""
        print(f"  {group:<24} threads {len(profs):>3}  {1000 * total:>10.1f} ms{per}")
    for stats in by_group.values():
        if merged is None:
            merged = pstats.Stats(_Snapshot(main_prof))  # type: ignore[arg-type]
        else:
            merged.add(stats)
    assert merged is not None

    print("\n-- self time by area, all threads")
    areas = areas_of(merged.stats)  # type: ignore[attr-defined]
    total = sum(areas.values()) or 1.0
    for area, t in sorted(areas.items(), key=lambda kv: -kv[1]):
        per = f" {1000 * t / units[0]:>9.4f} ms/{units[1]}" if units else ""
        print(f"  {area:<44} {1000 * t:>10.1f} ms {100 * t / total:>5.1f}%{per}")

    main_stats = pstats.Stats(_Snapshot(main_prof))  # type: ignore[arg-type]
    for title, stats, sort in (("main thread, by self time", main_stats, "tottime"),
                               ("main thread, by cumulative time", main_stats, "cumtime"),
                               ("all threads, by self time", merged, "tottime")):
        print(f"\n-- top {args.top} functions: {title}")
        _print_top(stats, sort, args.top, units, 1000.0)
    if args.per_thread:
        for group, stats in by_group.items():
            if group != "MainThread":
                print(f"\n-- top {min(args.top, 10)} functions: thread group {group}, by self time")
                _print_top(stats, "tottime", min(args.top, 10), units, 1000.0)
    if args.dump:
        merged.dump_stats(args.dump)
        print(f"\n(all-thread stats written to {args.dump}; open with python -m pstats)")
    return 0


# --------------------------------------------------------------------------- the driver


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="wf_seq, send_recv_latency, event_latency, stream, wf_concurrent")
    p.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--impl", choices=["tether", "dbos"], default="tether")
    p.add_argument("--clock", choices=["both", "wall", "cpu"], default="both")
    p.add_argument("--params", help="JSON keyword arguments for the scenario's run() (default: sizes in this file)")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--per-thread", action="store_true", help="also print the top functions of every thread group")
    p.add_argument("--dump", help="also write the merged pstats file here (single clock only)")
    p.add_argument("--python", default=sys.executable, help="interpreter for the profiled run")
    args = p.parse_args(argv)
    if args.clock != "both":
        return child(args)
    rc = 0
    for clock in ("wall", "cpu"):
        cmd = [args.python, str(Path(__file__).resolve()), args.scenario, "--backend", args.backend,
               "--impl", args.impl, "--clock", clock, "--top", str(args.top)]
        if args.per_thread:
            cmd.append("--per-thread")
        if args.params:
            cmd += ["--params", args.params]
        sys.stdout.flush()
        rc |= subprocess.run(cmd, cwd=ROOT, timeout=600).returncode
        print()
    return rc


if __name__ == "__main__":
    sys.exit(main())
