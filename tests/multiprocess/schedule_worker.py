"""A worker process for the multi-process schedule test: registers ``mp_tick``, which records each run (its
scheduled time and this process's executor ID) by appending a line to a file, outside the database.

    python schedule_worker.py <database_url> <executor_id> <runs_file>

Prints "ready" once launched; exits when its stdin closes.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from tether import DBOS


def main() -> None:
    db_url, executor_id, runs_file = sys.argv[1:4]

    @DBOS.workflow(name="mp_tick")
    def mp_tick(scheduled_at: datetime, ctx: Any) -> None:
        with open(runs_file, "a") as f:  # one short append per run: atomic on Linux
            f.write(f"{scheduled_at.isoformat()} {executor_id} {DBOS.workflow_id}\n")

    DBOS(config={"name": "mp-sched", "system_database_url": db_url, "executor_id": executor_id,
                 "application_version": "mp", "sqlite_poll_interval_sec": 0.02})
    DBOS.launch()
    print("ready", flush=True)
    sys.stdin.read()
    DBOS.destroy()


if __name__ == "__main__":
    main()
