"""pg_limit: the database's own ceiling, with no workflow library at all (PostgreSQL only).

One connection commits single-row INSERTs as fast as it can for ``duration_s`` per repetition (median
over ``reps``; the variants take turns, so drift on this shared machine hits them alike), three ways:

* ``INSERT+COMMIT (psycopg)``: psycopg ``Connection.execute`` in autocommit, one round trip per commit;
* ``INSERT+COMMIT (libpq)``: the same statement through libpq directly,
  ``conn.pgconn.exec_params(b"INSERT ... VALUES ($1)", [b"x" * 64], [0])`` on the same kind of
  autocommit psycopg connection. tether's PostgreSQL store talks to libpq this way
  (``src/tether/storage/postgres/wire.py``), so this is the ceiling it can approach; psycopg's
  high-level ``execute`` adds its own Python per statement on top of the round trip;
* ``BEGIN+INSERT+COMMIT (psycopg)``: an explicit transaction, three round trips (informational).

A workflow of three steps needs ``commits_per_workflow`` commits (start, three step checkpoints,
result), so ``commits/s / commits_per_workflow`` is the sequential workflows/s a library could reach
here if the database round trip were its only cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq

from bench.common import Metric, median

PAYLOAD = "x" * 64
SQL = "INSERT INTO ceiling (payload) VALUES (%s)"
SQL_LIBPQ = b"INSERT INTO ceiling (payload) VALUES ($1)"


def _rate(one: Callable[[], None], duration_s: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < duration_s:
        one()
        count += 1
    return count / (time.perf_counter() - start)


def run(url: str, duration_s: float = 3.0, reps: int = 3, commits_per_workflow: int = 5) -> list[Metric]:
    with psycopg.connect(url, autocommit=True) as conn:
        settings = {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                    for name in ("synchronous_commit", "fsync", "wal_sync_method", "server_version")}
        conn.execute("CREATE TABLE ceiling (id bigserial PRIMARY KEY, payload text NOT NULL)")
        pgconn = conn.pgconn
        payload = [PAYLOAD.encode()]

        def psycopg_autocommit() -> None:
            conn.execute(SQL, (PAYLOAD,))

        def libpq_autocommit() -> None:
            res = pgconn.exec_params(SQL_LIBPQ, payload, [0])
            if res.status != pq.ExecStatus.COMMAND_OK:
                raise RuntimeError(f"INSERT failed: {res.error_message.decode(errors='replace')}")

        def psycopg_explicit() -> None:
            with conn.transaction():
                conn.execute(SQL, (PAYLOAD,))

        variants: dict[str, Callable[[], None]] = {
            "INSERT+COMMIT (psycopg)": psycopg_autocommit,
            "INSERT+COMMIT (libpq)": libpq_autocommit,
            "BEGIN+INSERT+COMMIT (psycopg)": psycopg_explicit,
        }
        for one in variants.values():  # warm up: connection, plan cache, WAL
            _rate(one, min(0.2, duration_s))
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(reps):
            for name, one in variants.items():
                rates[name].append(_rate(one, duration_s))

    metrics: list[Metric] = []
    for name, values in rates.items():
        commits = median(values)
        detail: dict[str, Any] = {"reps": [round(r) for r in values], "commits_per_workflow": commits_per_workflow,
                                  "us_per_commit": 1e6 / commits, **settings}
        metrics.append(Metric(name, commits, "commits/s", "", detail))
    for name in ("INSERT+COMMIT (psycopg)", "INSERT+COMMIT (libpq)"):
        ceiling = median(rates[name]) / commits_per_workflow
        metrics.append(Metric(f"ceiling at {commits_per_workflow} commits/wf {name.split(' ', 1)[1]}", ceiling,
                              "wf/s", ""))
    return metrics
