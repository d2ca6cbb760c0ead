"""set_event's cost in two source trees, measured in turns (A, B, A, B, ...) on both backends.

    python bench/set_event_ab.py /tmp/before/src src              # e.g. main before a change vs the worktree
    python bench/set_event_ab.py A_SRC B_SRC --rounds 8 --n 500 --backend sqlite

Each round runs, for each tree, a fresh process on a fresh database (a SQLite file, a PostgreSQL database) that
launches DBOS and times ``DBOS.set_event`` inside a workflow (``--n`` calls on 4 keys, 3 times, after a warm-up),
and prints the median per call. Reported per tree and backend: every round's median, their median and their
minimum. Taking turns keeps the machine's load (shared here) from favouring one tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")

CHILD = """
import statistics, sys, time, uuid
from tether import DBOS

@DBOS.workflow()
def publisher(n: int) -> list[float]:
    took = []
    for i in range(n):
        before = time.perf_counter()
        DBOS.set_event(f"k{i % 4}", i)
        took.append(time.perf_counter() - before)
    return took

DBOS(config={"name": "set-event-ab", "system_database_url": sys.argv[1], "executor_id": uuid.uuid4().hex})
DBOS.launch()
publisher(50)
calls = [t for _ in range(3) for t in publisher(int(sys.argv[2]))]
DBOS.destroy()
print(statistics.median(calls) * 1e6)
"""


def one_run(src: str, backend: str, n: int) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'ab.sqlite'}"
            out = subprocess.run([sys.executable, "-c", CHILD, url, str(n)], env=env, capture_output=True,
                                 text=True, check=True, timeout=600)
        return float(out.stdout.split()[-1])
    db = f"set_event_ab_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, f"{PG}/{db}", str(n)], env=env, capture_output=True,
                             text=True, check=True, timeout=600)
        return float(out.stdout.split()[-1])
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a_src")
    p.add_argument("b_src")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--n", type=int, default=500, help="set_event calls per timed workflow (3 are timed)")
    p.add_argument("--backend", choices=["both", "sqlite", "postgres"], default="both")
    args = p.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    trees = {"A": str(Path(args.a_src).resolve()), "B": str(Path(args.b_src).resolve())}
    got: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for backend in backends:
            for name, src in trees.items():
                got.setdefault((backend, name), []).append(one_run(src, backend, args.n))
    for (backend, name), runs in got.items():
        print(f"{backend:8} {name} ({trees[name]}): set_event() call median per run (us) "
              f"{[round(r) for r in runs]}, median {statistics.median(runs):.0f}, min {min(runs):.0f}")


if __name__ == "__main__":
    main()
