"""set_event's cost in two source trees, measured in turns (A, B, A, B, ...) on both backends.

    python bench/set_event_ab.py /tmp/before/src src              # e.g. main before a change vs the worktree
    python bench/set_event_ab.py A_SRC B_SRC --rounds 8 --n 500 --backend sqlite

Each round runs, for each tree, a fresh process on a fresh database (a SQLite file, a PostgreSQL database) that
launches DBOS and times ``DBOS.set_event`` inside a workflow (``--n`` calls on 4 keys, 3 times, after a warm-up),
and prints the median per call. Reported per tree and backend: every round's median, their median and their
minimum. Taking turns keeps the machine's load (shared here) from favouring one tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ab import parser, run_child, take_turns

CHILD = """
import statistics, sys, time, uuid
from tether import DBOS

@DBOS.workflow()
def publisher(n: int) -> list[float]:
    took = []
    for i in range(n):
        before = time.perf_counter()
        DBOS.set_event(f"k{i % 4}", i)
        took.append(time.perf_counter() - before)
    return took

DBOS(config={"name": "set-event-ab", "system_database_url": sys.argv[1], "executor_id": uuid.uuid4().hex})
DBOS.launch()
publisher(50)
calls = [t for _ in range(3) for t in publisher(int(sys.argv[2]))]
DBOS.destroy()
print(statistics.median(calls) * 1e6)
"""


def measure(src: str, backend: str, n: int) -> dict[str, float]:
    return {"": run_child(CHILD, src, backend, n, 1)[0]}


def main() -> None:
    args = parser(__doc__, 8, "set_event calls per timed workflow (3 are timed)").parse_args()
    take_turns(args, measure, "set_event() call")


if __name__ == "__main__":
    main()
