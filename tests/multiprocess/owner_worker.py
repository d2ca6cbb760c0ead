"""A worker process for the ownership tests. Every step of its workflows holds an exclusive ``flock`` on a file
named after the workflow while it runs (the OS drops the lock when the process dies), so two executions of one
workflow at the same instant, in any two processes, are seen outside the database: the second fails to take
the lock and appends a line to ``<workdir>/violations``. Each step start and end is appended to
``<workdir>/steps`` as ``start|end <workflow> <step> <pid> <time>``.

    python owner_worker.py <database_url> <executor_id or -> <workdir>

Prints "ready" once launched, then reads commands from stdin, one per line:
``start <n> <prefix> <steps|wait>`` starts n workflows in the background (IDs <prefix>-0 ...) and prints "ok";
``quit`` (or the end of stdin) destroys DBOS and exits.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from tether import DBOS, Queue, SetWorkflowID

HEARTBEAT = {"heartbeat_interval_sec": 0.2, "heartbeat_timeout_sec": 1.0}
QUEUE = "owned-q"
STEP_SECONDS = 0.3


def main() -> None:
    db_url, executor_id, workdir = sys.argv[1:4]
    work = Path(workdir)
    (work / "locks").mkdir(exist_ok=True)
    Queue(QUEUE, concurrency=2)

    def log(line: str, name: str = "steps") -> None:
        with open(work / name, "a") as f:  # one short append per line: atomic on Linux
            f.write(line + "\n")

    @DBOS.step(name="owned_step")
    def step(k: int) -> int:
        wfid = DBOS.workflow_id
        fd = os.open(work / "locks" / str(wfid), os.O_CREAT | os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log(f"{wfid} {k} {os.getpid()}", "violations")
                fcntl.flock(fd, fcntl.LOCK_EX)
            log(f"start {wfid} {k} {os.getpid()} {time.time()!r}")
            time.sleep(STEP_SECONDS)
            log(f"end {wfid} {k} {os.getpid()} {time.time()!r}")
        finally:
            os.close(fd)  # releases the lock
        return k

    @DBOS.workflow(name="owned_steps")
    def owned_steps(i: int) -> int:
        for k in range(3):
            step(k)
        return i

    @DBOS.workflow(name="owned_wait")
    def owned_wait(i: int) -> int:
        step(0)
        got = DBOS.recv("go", timeout_seconds=120)
        step(1)
        return i if got == "go" else -1

    config = {"name": "owner-test", "system_database_url": db_url, "application_version": "owner",
              "sqlite_poll_interval_sec": 0.02, **HEARTBEAT}
    if executor_id != "-":
        config["executor_id"] = executor_id
    DBOS(config=config)  # type: ignore[arg-type]
    DBOS.launch()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "start":
            n, prefix, kind = int(cmd[1]), cmd[2], cmd[3]
            for i in range(n):
                with SetWorkflowID(f"{prefix}-{i}"):
                    DBOS.start_workflow(owned_steps if kind == "steps" else owned_wait, i)
            print("ok", flush=True)
        elif cmd and cmd[0] == "quit":
            break
    DBOS.destroy()


if __name__ == "__main__":
    main()
