"""Sequential three-step workflows (the ``wf_seq`` scenario) in two source trees, measured in turns.

    python bench/wf_seq_ab.py /tmp/before/src src --backend postgres     # e.g. main before a change vs the worktree
    python bench/wf_seq_ab.py A_SRC B_SRC --rounds 6 --n 500

Each round runs, for each tree, a fresh process on a fresh database that launches DBOS, runs 20 workflows of
warm-up, then ``--n`` workflows 3 times, and prints the median wall time of one workflow and the process's CPU
time per workflow (``time.process_time``: every thread). Reported per tree and backend: every round's value,
their median and their minimum. Taking turns keeps the machine's load (shared here) from favouring one tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ab import parser, run_child, take_turns

CHILD = """
import statistics, sys, time, uuid
from tether import DBOS

@DBOS.step()
def add_one(x: int) -> int:
    return x + 1

@DBOS.workflow()
def three_steps(x: int) -> int:
    return add_one(add_one(add_one(x)))

DBOS(config={"name": "wf-seq-ab", "system_database_url": sys.argv[1], "executor_id": uuid.uuid4().hex})
DBOS.launch()
for i in range(20):
    three_steps(i)
n = int(sys.argv[2])
took, cpu = [], []
for _ in range(3):
    cpu0 = time.process_time()
    for i in range(n):
        before = time.perf_counter()
        three_steps(i)
        took.append(time.perf_counter() - before)
    cpu.append((time.process_time() - cpu0) / n)
DBOS.destroy()
print(statistics.median(took) * 1e6, statistics.median(cpu) * 1e6)
"""


def measure(src: str, backend: str, n: int) -> dict[str, float]:
    wall, cpu = run_child(CHILD, src, backend, n, 2)
    return {"wall per workflow": wall, "CPU per workflow": cpu}


def main() -> None:
    args = parser(__doc__, rounds=6, n_help="workflows per repetition (3 repetitions per run)").parse_args()
    take_turns(args, measure, "wf_seq")


if __name__ == "__main__":
    main()
