"""Sample the transactions per second of the PostgreSQL databases whose name matches a pattern.

    python3 bench/dbload.py --like 'bench_tether_many_waiting_%' --out /tmp/dbload.log   # until interrupted
    python3 bench/dbload.py --summary /tmp/dbload.log --bucket 10

Reads ``pg_stat_database`` (commits + rollbacks) once a second and writes one line per database per
second: epoch seconds, database, transactions in that second. Beside a scenario (for example
``many_waiting`` with a long ``settle_s``) it shows the database load each phase makes, such as the re-checks
of parked waiters while nothing happens. The server publishes a backend's counts when its transaction ends
(at most once a second, within 10 s for an idle one), so read buckets of several seconds, not single lines.
"""

from __future__ import annotations

import argparse
import collections
import os
import time

import psycopg

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432") + "/postgres"


def sample(like: str, out_path: str) -> None:
    prev: dict[str, int] = {}
    with open(out_path, "w") as out, psycopg.connect(PG_URL, autocommit=True) as conn:
        while True:
            rows = conn.execute("SELECT datname, xact_commit + xact_rollback FROM pg_stat_database "
                                "WHERE datname LIKE %s", (like,)).fetchall()
            now = time.time()
            for name, count in rows:
                if name in prev:
                    out.write(f"{now:.0f} {name} {count - prev[name]}\n")
                prev[name] = count
            out.flush()
            time.sleep(1.0)


def summary(path: str, bucket: int) -> None:
    per_db: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            t, name, n = line.split()
            per_db[name].append((int(t), int(n)))
    for name, points in per_db.items():
        t0 = points[0][0]
        sums: dict[int, int] = collections.defaultdict(int)
        for t, n in points:
            sums[(t - t0) // bucket * bucket] += n
        print(f"{name}: {sum(n for _, n in points)} transactions in {len(points)} s; per second, by {bucket} s:")
        print("  " + " ".join(f"{start}s:{n / bucket:.0f}" for start, n in sorted(sums.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--like", default="bench_%", help="a LIKE pattern of database names")
    parser.add_argument("--out", help="sample until interrupted, writing here")
    parser.add_argument("--summary", help="summarize a file written by --out")
    parser.add_argument("--bucket", type=int, default=10)
    args = parser.parse_args()
    if args.summary:
        summary(args.summary, args.bucket)
    elif args.out:
        sample(args.like, args.out)
    else:
        parser.error("give --out or --summary")


if __name__ == "__main__":
    main()
