"""What the A/B scripts share: run one child program on a fresh database (a SQLite file, a PostgreSQL database)
against one source tree, and take turns between two trees so the machine's load favours neither.

A child program is Python source that takes the database URL and ``--n`` as ``sys.argv[1:3]`` and prints its
measurements (floats, microseconds) as the last words of its output.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def run_child(child: str, src: str, backend: str, n: int, count: int) -> list[float]:
    """Run ``child`` with ``src`` first on ``PYTHONPATH``, on a fresh database of ``backend``; the last
    ``count`` words of its output, as floats."""
    env = {**os.environ, "PYTHONPATH": src}

    def run(url: str) -> list[float]:
        out = subprocess.run([sys.executable, "-c", child, url, str(n)], env=env, capture_output=True,
                             text=True, check=True, timeout=600)
        return [float(word) for word in out.stdout.split()[-count:]]

    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            return run(f"sqlite:///{Path(tmp) / 'ab.sqlite'}")
    db = f"ab_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        return run(f"{PG}/{db}")
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def parser(doc: str | None, rounds: int, n_help: str) -> argparse.ArgumentParser:
    """The command line every A/B script takes: two source trees, ``--rounds``, ``--n``, ``--backend``."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a_src")
    p.add_argument("b_src")
    p.add_argument("--rounds", type=int, default=rounds)
    p.add_argument("--n", type=int, default=500, help=n_help)
    p.add_argument("--backend", choices=["both", "sqlite", "postgres"], default="both")
    return p


def take_turns(args: argparse.Namespace, measure: Callable[[str, str, int], dict[str, float]],
               what: str) -> None:
    """Run ``measure(src, backend, n)`` for tree A then B, on each backend, ``args.rounds`` times, and print
    per backend, measured place and tree every round's value, their median and their minimum."""
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    trees = {"A": str(Path(args.a_src).resolve()), "B": str(Path(args.b_src).resolve())}
    got: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(args.rounds):
        for backend in backends:
            for name, src in trees.items():
                for place, value in measure(src, backend, args.n).items():
                    got.setdefault((backend, place, name), []).append(value)
    for (backend, place, name), runs in sorted(got.items()):
        label = f"{place} " if place else ""
        print(f"{backend:8} {label}{name} ({trees[name]}): {what} median per run (us) "
              f"{[round(r) for r in runs]}, median {statistics.median(runs):.0f}, min {min(runs):.0f}")
