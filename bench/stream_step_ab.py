"""write_stream's cost from a step and from the workflow body, in two source trees, measured in turns.

    python bench/stream_step_ab.py /tmp/before/src src            # e.g. main before a change vs the worktree
    python bench/stream_step_ab.py A_SRC B_SRC --rounds 6 --n 500 --backend sqlite

Each round runs, for each tree, a fresh process on a fresh database (a SQLite file, a PostgreSQL database) that
launches DBOS and times ``DBOS.write_stream`` calls inside one step and inside the workflow body (``--n`` calls,
3 times each, after a warm-up), and prints the median per call of each. Reported per tree, backend and place:
every round's median, their median and their minimum. Taking turns keeps the machine's load (shared here)
from favouring one tree.
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

def timed(n):
    took = []
    for i in range(n):
        before = time.perf_counter()
        DBOS.write_stream("s", i)
        took.append(time.perf_counter() - before)
    return took

@DBOS.step()
def in_step(n: int) -> list[float]:
    return timed(n)

@DBOS.workflow()
def step_writer(n: int) -> list[float]:
    return in_step(n)

@DBOS.workflow()
def body_writer(n: int) -> list[float]:
    return timed(n)

DBOS(config={"name": "stream-step-ab", "system_database_url": sys.argv[1], "executor_id": uuid.uuid4().hex})
DBOS.launch()
step_writer(50)
body_writer(50)
step, body = [], []
for _ in range(3):
    step += step_writer(int(sys.argv[2]))
    body += body_writer(int(sys.argv[2]))
DBOS.destroy()
print(statistics.median(step) * 1e6, statistics.median(body) * 1e6)
"""


def one_run(src: str, backend: str, n: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": src}

    def run(url: str) -> tuple[float, float]:
        out = subprocess.run([sys.executable, "-c", CHILD, url, str(n)], env=env, capture_output=True,
                             text=True, check=True, timeout=600)
        step, body = out.stdout.split()[-2:]
        return float(step), float(body)

    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            return run(f"sqlite:///{Path(tmp) / 'ab.sqlite'}")
    db = f"stream_step_ab_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        return run(f"{PG}/{db}")
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a_src")
    p.add_argument("b_src")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--n", type=int, default=500, help="write_stream calls per timed workflow (3 of each)")
    p.add_argument("--backend", choices=["both", "sqlite", "postgres"], default="both")
    args = p.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    trees = {"A": str(Path(args.a_src).resolve()), "B": str(Path(args.b_src).resolve())}
    got: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(args.rounds):
        for backend in backends:
            for name, src in trees.items():
                step, body = one_run(src, backend, args.n)
                got.setdefault((backend, "step", name), []).append(step)
                got.setdefault((backend, "body", name), []).append(body)
    for (backend, where, name), runs in sorted(got.items()):
        print(f"{backend:8} {where:4} {name} ({trees[name]}): write_stream() call median per run (us) "
              f"{[round(r) for r in runs]}, median {statistics.median(runs):.0f}, min {min(runs):.0f}")


if __name__ == "__main__":
    main()
