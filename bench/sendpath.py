"""Where a communication call's time goes beyond its one commit: send (from outside a workflow and from one),
set_event and write_stream, on one backend, in this process.

    PYTHONPATH=src python3 bench/sendpath.py --backend postgres [--n 300] [--settle 0.05] [--top 12]

For each operation, ``n`` calls, each after ``settle`` seconds of idleness (as in the latency scenarios), and
interleaved with the floor (a raw one-row INSERT commit on its own connection, ``bench/floorprobe.py``), so
both see the same machine. Printed per operation:

* wall p50 of the call and of the floor commit (noisy on a shared machine: read the ratio);
* CPU per call of the calling thread (``time.thread_time``) and of the whole process (``time.process_time``:
  the listener and event-loop threads too) -- what the Python around the round trip costs;
* statements sent to the database per call, and Python function calls per call (cProfile, a second pass);
* the calling thread's top functions by self time under cProfile (shape, not absolute: cProfile adds about
  a microsecond per call). On PostgreSQL the time inside libpq (send, server, receive) is the self time of
  ``storage/postgres/wire.py run``.
* on PostgreSQL, the server's own execution time of the operation's statement (``EXPLAIN ANALYZE``, triggers
  included) against a plain one-row INSERT: the part of "beyond one commit" that is the server's work.
"""

from __future__ import annotations

import os
import sys

# Run as a script, bench/ comes first on sys.path, and bench/profile.py would shadow the standard library's
# ``profile``, which ``cProfile`` imports: take bench/ off the path first.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse
import cProfile
import pstats
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), os.environ.get("TETHER_SRC", str(ROOT / "src"))]  # TETHER_SRC: profile another tree
os.environ["BENCH_IMPL"] = "tether"

from bench import common  # noqa: E402
from bench.floorprobe import FloorProbe  # noqa: E402
from tether import DBOS  # noqa: E402

_pending: dict[str, Any] = {}


@DBOS.workflow()
def target() -> None:
    DBOS.recv("never", timeout_seconds=3600)  # a destination that stays PENDING


@DBOS.workflow()
def in_workflow(kind: str, n: int, settle_s: float, dest: str) -> list[float]:
    """Runs one operation ``n`` times from a workflow; returns each call's wall seconds and CPU seconds."""
    out: list[float] = []
    op = _pending["ops"][kind]
    for i in range(n):
        time.sleep(settle_s)
        w0, c0 = time.perf_counter(), time.thread_time()
        op(dest, i)
        out += [time.perf_counter() - w0, time.thread_time() - c0]
        _pending["floor"].append(_pending["probe"].commit() if settle_s == 0 else _idle_commit(settle_s))
    return out


def _idle_commit(settle_s: float) -> float:
    time.sleep(settle_s)
    return float(_pending["probe"].commit())


OPS: dict[str, Callable[[str, int], None]] = {
    "send from a workflow": lambda dest, i: DBOS.send(dest, i, "t"),
    "set_event": lambda dest, i: DBOS.set_event("k", i),
    "write_stream": lambda dest, i: DBOS.write_stream("s", i),
}


def _statements(prof: cProfile.Profile) -> int:
    st = pstats.Stats(prof)
    return sum(v[1] for k, v in st.stats.items()  # type: ignore[attr-defined]
               if (k[0].endswith("postgres/wire.py") and k[2] in ("_exec", "run_sql", "simple"))
               or (k[0] == "~" and "sqlite3.Connection" in k[2] and "execute" in k[2]))


def measure(kind: str, n: int, settle_s: float, dest: str, probe: FloorProbe) -> dict[str, Any]:
    _pending.update(ops=OPS, probe=probe, floor=[])
    if kind == "send from outside a workflow":
        walls, cpus, floor = [], [], []
        p0 = time.process_time()
        for i in range(n):
            time.sleep(settle_s)
            w0, c0 = time.perf_counter(), time.thread_time()
            DBOS.send(dest, i, "t")
            walls.append(time.perf_counter() - w0)
            cpus.append(time.thread_time() - c0)
            floor.append(_idle_commit(settle_s))
        proc_cpu = (time.process_time() - p0) / n
    else:
        p0 = time.process_time()
        pairs = DBOS.start_workflow(in_workflow, kind, n, settle_s, dest).get_result()
        proc_cpu = (time.process_time() - p0) / n
        walls, cpus, floor = pairs[0::2], pairs[1::2], _pending["floor"]
    return {"wall_ms": statistics.median(walls) * 1e3, "cpu_us": statistics.median(cpus) * 1e6,
            "floor_ms": statistics.median(floor) * 1e3, "proc_cpu_us": proc_cpu * 1e6}


def profile(kind: str, n: int, dest: str, top: int) -> tuple[float, float, str]:
    """(statements per call, Python calls per call, top functions) of ``n`` back-to-back calls."""
    prof = cProfile.Profile()
    if kind == "send from outside a workflow":
        prof.enable()
        for i in range(n):
            DBOS.send(dest, i, "t")
        prof.disable()
    else:
        @DBOS.workflow(name=f"sendpath.profiled.{kind}")
        def profiled() -> None:
            prof.enable()
            for i in range(n):
                OPS[kind](dest, i)
            prof.disable()
        profiled()
    st = pstats.Stats(prof)
    calls = sum(v[1] for v in st.stats.values()) / n  # type: ignore[attr-defined]
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    lines = [f"      {'calls/op':>8} {'self us/op':>10} {'cum us/op':>10}  function"]
    for (file, line, func), (_cc, nc, tt, ct, _callers) in rows:
        where = func if file == "~" else f"{re.sub(r'^.*/(src/tether|lib/python3[.0-9]*)/', '', file)}:{line}({func})"
        lines.append(f"      {nc / n:>8.1f} {tt * 1e6 / n:>10.1f} {ct * 1e6 / n:>10.1f}  {where}")
    return _statements(prof) / n, calls, "\n".join(lines)


def server_side(url: str, dest: str) -> str:
    """Median server execution time of the send statement (with its triggers) and of a plain INSERT."""
    import psycopg

    from tether.storage.postgres.store import _SOURCES

    sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", _SOURCES["send_message"])
    params = {"destination_uuid": dest, "topic": "x", "message": b"P.", "now": 1, "idempotency_key": None,
              "sender_id": None, "sender_function_id": None, "receiver_function_id": None,
              "receiver_function_name": None, "receiver_started_at": None}
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET search_path TO tether")
        for label, q, p in (("send_message statement", sql, params),
                            ("plain one-row INSERT", "INSERT INTO public.bench_floor (payload) VALUES (%s)",
                             (b"x" * 64,))):
            execs, trig = [], {}
            for _ in range(40):
                conn.execute("BEGIN")
                plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE) " + q, p).fetchall()]  # type: ignore[arg-type]
                conn.execute("ROLLBACK")
                execs.append(float(re.search(r"Execution Time: ([\d.]+)", plan[-1]).group(1)))  # type: ignore[union-attr]
                for line in plan:
                    m = re.match(r"Trigger (?:for constraint )?(\S+).*time=([\d.]+)", line)
                    if m:
                        trig.setdefault(m.group(1), []).append(float(m.group(2)))
            parts = ", ".join(f"{k} {statistics.median(v) * 1000:.0f} us" for k, v in trig.items())
            out[label] = f"{statistics.median(execs) * 1000:.0f} us" + (f" (triggers: {parts})" if parts else "")
    return "\n".join(f"    {k}: {v}" for k, v in out.items())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--settle", type=float, default=0.05)
    p.add_argument("--top", type=int, default=12)
    args = p.parse_args()
    kinds = ["send from outside a workflow", *OPS]
    with common.database(args.backend, "sendpath") as url, common.launched(url):
        probe = FloorProbe(url)
        dest = DBOS.start_workflow(target).workflow_id
        print(f"backend {args.backend}, {args.n} calls per operation, each after {args.settle} s idle; "
              f"floor = a raw one-row INSERT commit after the same idle gap, interleaved\n")
        for kind in kinds:
            measure(kind, 10, 0.0, dest, probe)  # warm up
            r = measure(kind, args.n, args.settle, dest, probe)
            stmts, calls, top = profile(kind, max(200, args.n), dest, args.top)
            print(f"== {kind}: wall p50 {r['wall_ms']:.3f} ms against a floor commit of {r['floor_ms']:.3f} ms "
                  f"({r['wall_ms'] / r['floor_ms']:.2f}x); CPU of the calling thread {r['cpu_us']:.0f} us/call, "
                  f"of the process {r['proc_cpu_us']:.0f} us/call (floor commits included); "
                  f"{stmts:.2f} statements/call, {calls:.0f} Python calls/call")
            print("    top functions by self time (cProfile, back-to-back calls):")
            print(top)
        if args.backend == "postgres":
            print("\n== server execution time (EXPLAIN ANALYZE, median of 40, rolled back):")
            print(server_side(url, dest))
        probe.close()
        DBOS.cancel_workflow(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
