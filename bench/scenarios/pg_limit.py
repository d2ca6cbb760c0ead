"""pg_limit: the database's own ceiling, with no workflow library at all (PostgreSQL only).

One psycopg connection runs single-row ``INSERT`` + ``COMMIT`` as fast as it can for ``duration_s``
(median over ``reps``). A workflow of three steps needs about ``commits_per_workflow`` commits
(start, three step checkpoints, result), so ``commits/s / commits_per_workflow`` is the sequential
workflows/s a library could reach on this machine if the database were its only cost.
"""

from __future__ import annotations

import time

import psycopg

from bench.common import Metric, median


def run(url: str, duration_s: float = 3.0, reps: int = 3, commits_per_workflow: int = 5) -> list[Metric]:
    rates: list[float] = []
    with psycopg.connect(url, autocommit=True) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                    for name in ("synchronous_commit", "fsync", "wal_sync_method", "server_version")}
        conn.execute("CREATE TABLE ceiling (id bigserial PRIMARY KEY, payload text NOT NULL)")
        for _ in range(reps):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < duration_s:
                with conn.transaction():
                    conn.execute("INSERT INTO ceiling (payload) VALUES (%s)", ("x" * 64,))
                count += 1
            rates.append(count / (time.perf_counter() - start))
    commits = median(rates)
    return [
        Metric("INSERT+COMMIT", commits, "commits/s", "", {"reps": [round(r) for r in rates], **settings}),
        Metric(f"ceiling at {commits_per_workflow} commits/wf", commits / commits_per_workflow, "wf/s", "",
               {"commits_per_workflow": commits_per_workflow}),
    ]
