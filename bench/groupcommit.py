"""Group commit at work (tether only): the wf_concurrent async workload, reporting how many checkpoints
were committed per second and in how many transactions, next to one connection's commit ceiling measured in
the same process run (pg_limit's libpq loop on PostgreSQL).

    PYTHONPATH=src python3 bench/groupcommit.py [--backend postgres|sqlite] [--inflight 256] [--reps 3]

A three-step workflow makes five checkpoints (start, three steps, end); ``engine/groupcommit.py`` counts the
transactions it wrote them in (``Runtime.commits``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
os.environ["BENCH_IMPL"] = "tether"

from bench import common  # noqa: E402
from bench.scenarios import pg_limit, wf_concurrent  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--inflight", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    rows: list[tuple[float, float, float, int]] = []
    with common.database(args.backend, "groupcommit") as url:
        with common.launched(url):
            commits = common.DBOS._runtime.commits

            async def measure() -> None:
                await wf_concurrent.run_async(8, 16)  # warm-up
                for _ in range(args.reps):
                    batches, checkpoints = commits.batches, commits.checkpoints
                    total = 4 * args.inflight
                    seconds = await wf_concurrent.run_async(args.inflight, total)
                    rows.append((total / seconds, (commits.checkpoints - checkpoints) / seconds,
                                 (commits.batches - batches) / seconds, commits.largest))

            asyncio.run(measure())
        ceiling = None
        if args.backend == "postgres":
            ceiling = next(m for m in pg_limit.run(url, duration_s=2.0, reps=args.reps)
                           if m.name == "INSERT+COMMIT (libpq)")
    for wf, cps, tps, largest in rows:
        print(f"{wf:8.0f} wf/s  {cps:8.0f} checkpoints/s  in {tps:6.0f} transactions/s  "
              f"({cps / tps:5.1f} per transaction; largest so far {largest})")
    print(f"median: {statistics.median(r[0] for r in rows):.0f} wf/s, "
          f"{statistics.median(r[1] for r in rows):.0f} checkpoints/s, "
          f"{statistics.median(r[2] for r in rows):.0f} transactions/s")
    if ceiling is not None:
        print(f"one connection's ceiling (pg_limit, libpq, same run): {ceiling.value:.0f} commits/s "
              f"(repetitions {ceiling.detail['reps']})")


if __name__ == "__main__":
    main()
