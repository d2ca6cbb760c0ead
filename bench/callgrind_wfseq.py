"""Instructions per sequential workflow (bench scenario ``wf_seq``: three trivial steps), counted by callgrind.

    createdb ...; valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=/tmp/cg.%p \\
        /path/to/python3.11 bench/callgrind_wfseq.py src postgresql://postgres@127.0.0.1:5432/DB 200
    grep ^summary: /tmp/cg.<pid>.1-*      # one file per thread; the main thread is -01

Give valgrind the interpreter binary itself (not a pyenv shim). After 20 workflows of warm-up the counters are
zeroed, ``n`` workflows run, and the counters are dumped (``callgrind_control``). Also prints the statements this
process sent to PostgreSQL per workflow in that phase (counted on ``WireConnection``, every thread; a pipeline
counts its statements and one round trip). Run without valgrind (``--no-callgrind`` as a 4th argument) for the
count alone. Long heartbeat settings keep the slowed-down process from fencing itself.
"""

from __future__ import annotations

import os
import subprocess
import sys

sys.path.insert(0, sys.argv[1])

from tether import DBOS
from tether.storage.postgres import wire

COUNTS = {"statements": 0, "round_trips": 0}


def _counting(name: str, statements: object) -> None:
    original = getattr(wire.WireConnection, name, None)
    if original is None:  # an older tree (run_count is newer)
        return

    def counted(self: object, *args: object) -> object:
        COUNTS["statements"] += statements(*args) if callable(statements) else 1  # type: ignore[operator]
        COUNTS["round_trips"] += 1
        return original(self, *args)

    setattr(wire.WireConnection, name, counted)


for _name in ("run", "run_count", "run_sql", "simple"):
    _counting(_name, 1)
_counting("pipeline", lambda calls: len(calls))


@DBOS.step()
def add_one(x: int) -> int:
    return x + 1


@DBOS.workflow()
def three_steps(x: int) -> int:
    return add_one(add_one(add_one(x)))


NO_CALLGRIND = False


def ctl(flag: str) -> None:
    if NO_CALLGRIND:
        return
    subprocess.run(["callgrind_control", flag, str(os.getpid())], check=True, capture_output=True)


def main() -> None:
    global NO_CALLGRIND
    url, n = sys.argv[2], int(sys.argv[3])
    NO_CALLGRIND = sys.argv[4:] == ["--no-callgrind"]
    DBOS(config={"name": "callgrind", "system_database_url": url, "heartbeat_interval_sec": 60,
                 "heartbeat_timeout_sec": 600})
    DBOS.launch()
    for i in range(20):
        three_steps(i)
    ctl("-z")
    before = dict(COUNTS)
    for i in range(n):
        assert three_steps(i) == i + 3
    ctl("-d")
    per = {k: (COUNTS[k] - before[k]) / n for k in COUNTS}
    print(f"per workflow: {per['statements']:.2f} statements, {per['round_trips']:.2f} round trips", flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
