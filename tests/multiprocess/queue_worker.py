"""A worker process for the multi-process tests: serves one queue and records each execution of ``mp_work``
(start and end wall-clock times) by appending a line to a file, outside the database; ``mp_steps`` records its
steps in ``<runs_file>.steps``.

    python queue_worker.py <database_url> <executor_id> <queue_name> <runs_file> [registered]

With ``registered`` the worker declares no queue in code: it serves the queues registered in the database.

Prints "ready" once launched; exits when its stdin closes.
"""

from __future__ import annotations

import random
import sys
import time

from tether import DBOS, Queue


def main() -> None:
    db_url, executor_id, queue_name, runs_file = sys.argv[1:5]
    if sys.argv[5:] != ["registered"]:
        # One at a time per process, so the two allowed at once must be in two processes and the third
        # process must be held back by the global limit alone.
        Queue(queue_name, concurrency=2, worker_concurrency=1)

    @DBOS.workflow(name="mp_work")
    def mp_work(i: int) -> int:
        start = time.time()
        time.sleep(0.05 + random.random() * 0.05)  # the workload
        end = time.time()
        with open(runs_file, "a") as f:  # one short append per execution: atomic on Linux
            f.write(f"{DBOS.workflow_id} {executor_id} {start!r} {end!r}\n")
        return i

    def record(what: str) -> None:
        with open(runs_file + ".steps", "a") as f:
            f.write(f"{what} {DBOS.workflow_id} {executor_id}\n")

    @DBOS.step(name="mp_one")
    def one() -> None:
        record("one")

    @DBOS.step(name="mp_two")
    def two() -> None:
        record("two")

    @DBOS.workflow(name="mp_steps")
    def mp_steps() -> str:
        one()
        DBOS.set_event("at", "recv")
        msg = DBOS.recv("go", timeout_seconds=60)
        two()
        return str(msg)

    DBOS(config={"name": "mp-worker", "system_database_url": db_url, "executor_id": executor_id,
                 "application_version": "mp", "sqlite_poll_interval_sec": 0.02})
    DBOS.launch()
    print("ready", flush=True)
    sys.stdin.read()
    DBOS.destroy()


if __name__ == "__main__":
    main()
