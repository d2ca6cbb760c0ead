"""write_stream's cost from a step and from the workflow body, in two source trees, measured in turns.

    python bench/stream_step_ab.py /tmp/before/src src            # e.g. main before a change vs the worktree
    python bench/stream_step_ab.py A_SRC B_SRC --rounds 6 --n 500 --backend sqlite

Each round runs, for each tree, a fresh process on a fresh database (a SQLite file, a PostgreSQL database) that
launches DBOS and times ``DBOS.write_stream`` calls inside one step and inside the workflow body (``--n`` calls,
3 times each, after a warm-up), and prints the median per call of each. Reported per tree, backend and place:
every round's median, their median and their minimum. Taking turns keeps the machine's load (shared here)
from favouring one tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ab import parser, run_child, take_turns

CHILD = """
import statistics, sys, time, uuid
from tether import DBOS

def timed(n):
    took = []
    for i in range(n):
        before = time.perf_counter()
        DBOS.write_stream("s", i)
        took.append(time.perf_counter() - before)
    return took

@DBOS.step()
def in_step(n: int) -> list[float]:
    return timed(n)

@DBOS.workflow()
def step_writer(n: int) -> list[float]:
    return in_step(n)

@DBOS.workflow()
def body_writer(n: int) -> list[float]:
    return timed(n)

DBOS(config={"name": "stream-step-ab", "system_database_url": sys.argv[1], "executor_id": uuid.uuid4().hex})
DBOS.launch()
step_writer(50)
body_writer(50)
step, body = [], []
for _ in range(3):
    step += step_writer(int(sys.argv[2]))
    body += body_writer(int(sys.argv[2]))
DBOS.destroy()
print(statistics.median(step) * 1e6, statistics.median(body) * 1e6)
"""


def measure(src: str, backend: str, n: int) -> dict[str, float]:
    step, body = run_child(CHILD, src, backend, n, 2)
    return {"step": step, "body": body}


def main() -> None:
    args = parser(__doc__, 6, "write_stream calls per timed workflow (3 of each)").parse_args()
    take_turns(args, measure, "write_stream() call")


if __name__ == "__main__":
    main()
