"""The two headline latencies in two source trees, measured in turns (A, B, A, B, ...).

    python bench/latency_ab.py /tmp/before/src src --backend postgres      # main before a change vs the worktree
    python bench/latency_ab.py A_SRC B_SRC --rounds 10 --n 60

Each round runs, for each tree, a fresh process on a fresh database that measures ``--n`` round trips of each
latency as the benchmark does (``bench/scenarios/send_recv_latency.py``, ``event_latency.py``), each after
50 ms of idle, and prints their medians: send->recv from the call of ``send`` to ``recv`` returning in a
workflow, and set_event->get_event from the call of ``set_event`` in a workflow to a waiting ``get_event``
returning. Taking turns keeps the machine's load (shared here) from favouring one tree; the run-to-run spread
on this machine is about 0.1 ms, so a difference smaller than that needs many rounds.
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
def receiver() -> float:
    DBOS.set_event("ready", True)
    DBOS.recv("t", timeout_seconds=30)
    return time.perf_counter()

@DBOS.workflow()
def publisher() -> None:
    time.sleep(0.05)
    DBOS.set_event("k", time.perf_counter())

DBOS(config={"name": "latency-ab", "system_database_url": sys.argv[1], "executor_id": uuid.uuid4().hex})
DBOS.launch()
sends, events = [], []
for i in range(int(sys.argv[2]) + 3):
    handle = DBOS.start_workflow(receiver)
    DBOS.get_event(handle.workflow_id, "ready", timeout_seconds=30)
    time.sleep(0.05)
    before = time.perf_counter()
    DBOS.send(handle.workflow_id, None, "t")
    sends.append(handle.get_result() - before)
    handle = DBOS.start_workflow(publisher)
    set_at = DBOS.get_event(handle.workflow_id, "k", timeout_seconds=30)
    events.append(time.perf_counter() - set_at)
    handle.get_result()
DBOS.destroy()
print(statistics.median(sends[3:]) * 1e6, statistics.median(events[3:]) * 1e6)
"""


def measure(src: str, backend: str, n: int) -> dict[str, float]:
    send, event = run_child(CHILD, src, backend, n, 2)
    return {"send->recv": send, "set_event->get_event": event}


def main() -> None:
    args = parser(__doc__, 8, "round trips of each latency per run").parse_args()
    take_turns(args, measure, "latency")


if __name__ == "__main__":
    main()
