"""Instructions per communication call, counted by callgrind (noise-free on a shared machine).

    createdb ...; valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=/tmp/cg.%p \\
        /path/to/python3.11 bench/callgrind_send.py src postgresql://postgres@127.0.0.1:5432/DB 100
    grep ^summary: /tmp/cg.<pid>.<phase>-<thread>      # phases 1-4, one file per thread

Give valgrind the interpreter binary itself (not a pyenv shim). Four phases of ``n`` calls each, counters
zeroed before and dumped after each phase with ``callgrind_control``: (1) ``DBOS.send`` from outside a workflow,
(2) ``DBOS.send`` from a workflow, (3) ``DBOS.set_event``, (4) ``DBOS.write_stream``. The calling thread is the
largest file of a phase; the PostgreSQL listener (which receives this process's own NOTIFYs back) is the next.
Long heartbeat settings keep the slowed-down process from fencing itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

sys.path.insert(0, sys.argv[1])

from tether import DBOS


@DBOS.workflow()
def target() -> None:
    DBOS.recv("never", timeout_seconds=3600)


def ctl(flag: str) -> None:
    subprocess.run(["callgrind_control", flag, str(os.getpid())], check=True, capture_output=True)


OPS: dict[str, Callable[[str, int], None]] = {
    "send_in_wf": lambda d, i: DBOS.send(d, i, "t"),
    "set_event": lambda d, i: DBOS.set_event("k", i),
    "write_stream": lambda d, i: DBOS.write_stream("s", i),
}


@DBOS.workflow()
def phase(kind: str, dest: str, n: int) -> None:
    for i in range(5):
        OPS[kind](dest, i)
    ctl("-z")
    for i in range(n):
        OPS[kind](dest, i)
    ctl("-d")


def main() -> None:
    url, n = sys.argv[2], int(sys.argv[3])
    DBOS(config={"name": "callgrind", "system_database_url": url, "heartbeat_interval_sec": 60,
                 "heartbeat_timeout_sec": 600})
    DBOS.launch()
    dest = DBOS.start_workflow(target).workflow_id
    for i in range(5):
        DBOS.send(dest, i, "t")
    ctl("-z")
    for i in range(n):
        DBOS.send(dest, i, "t")
    ctl("-d")
    for kind in OPS:
        phase(kind, dest, n)
    print("done", flush=True)
    os._exit(0)  # the target workflow stays parked; nothing to clean up in a scratch database


if __name__ == "__main__":
    main()
