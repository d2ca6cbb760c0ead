"""pg_limit: the database's own ceiling, with no workflow library at all (PostgreSQL only).

One psycopg connection commits single-row INSERTs as fast as it can for ``duration_s`` (median over
``reps``), twice: as autocommit statements (one round trip per commit: the ceiling) and as explicit
``BEGIN; INSERT; COMMIT`` (three round trips, the shape of a typical checkpoint). A workflow of three
steps needs about ``commits_per_workflow`` commits (start, three step checkpoints, result), so
``commits/s / commits_per_workflow`` is the sequential workflows/s a library could reach here if the
database were its only cost.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench.common import Metric, median


def _rate(conn: psycopg.Connection[Any], explicit: bool, duration_s: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < duration_s:
        if explicit:
            with conn.transaction():
                conn.execute("INSERT INTO ceiling (payload) VALUES (%s)", ("x" * 64,))
        else:
            conn.execute("INSERT INTO ceiling (payload) VALUES (%s)", ("x" * 64,))
        count += 1
    return count / (time.perf_counter() - start)


def run(url: str, duration_s: float = 3.0, reps: int = 3, commits_per_workflow: int = 5) -> list[Metric]:
    with psycopg.connect(url, autocommit=True) as conn:
        settings = {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                    for name in ("synchronous_commit", "fsync", "wal_sync_method", "server_version")}
        conn.execute("CREATE TABLE ceiling (id bigserial PRIMARY KEY, payload text NOT NULL)")
        single = [_rate(conn, False, duration_s) for _ in range(reps)]
        explicit = [_rate(conn, True, duration_s) for _ in range(reps)]
    commits = median(single)
    return [
        Metric("INSERT+COMMIT", commits, "commits/s", "",
               {"reps": [round(r) for r in single], "commits_per_workflow": commits_per_workflow, **settings}),
        Metric("BEGIN+INSERT+COMMIT", median(explicit), "commits/s", "", {"reps": [round(r) for r in explicit]}),
        Metric(f"ceiling at {commits_per_workflow} commits/wf", commits / commits_per_workflow, "wf/s", ""),
    ]
