"""A worker process for the multi-process queue test: serves one queue and records each execution of its
workflow (start and end wall-clock times) in a table of its own, outside Tether's tables.

    python queue_worker.py <postgres_url> <executor_id> <queue_name> <runs_table>

Prints "ready" once launched; exits when its stdin closes.
"""

from __future__ import annotations

import random
import sys
import time

import psycopg

from tether import DBOS, Queue


def main() -> None:
    db_url, executor_id, queue_name, table = sys.argv[1:5]
    Queue(queue_name, concurrency=2)

    @DBOS.workflow(name="mp_work")
    def mp_work(i: int) -> int:
        start = time.time()
        time.sleep(0.05 + random.random() * 0.05)  # the workload
        end = time.time()
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"INSERT INTO {table} (wfid, executor, started, ended) VALUES (%s, %s, %s, %s)",
                         (DBOS.workflow_id, executor_id, start, end))
        return i

    DBOS(config={"name": "mp-worker", "system_database_url": db_url, "executor_id": executor_id,
                 "application_version": "mp"})
    DBOS.launch()
    print("ready", flush=True)
    sys.stdin.read()
    DBOS.destroy()


if __name__ == "__main__":
    main()
