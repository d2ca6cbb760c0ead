"""Three worker processes (real subprocesses, each launched with its own executor ID) share one database and one
queue with concurrency=2, on PostgreSQL and on SQLite. A client enqueues 60 workflows; each records every
execution's start and end in a file outside the database. At no instant may more than two run, and each must
run exactly once. Each worker also has worker_concurrency=1: the three together could run three at once, so
only the global limit keeps it to two (and reaching two needs two processes)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from tether import DBOSClient

WORKER = Path(__file__).with_name("queue_worker.py")
N = 60


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = cur = 0
    for _, d in points:  # at equal times an end sorts before a start: touching spans do not overlap
        cur += d
        best = max(best, cur)
    return best


def test_three_processes_share_a_queue_with_global_concurrency(db_url: str, tmp_path: Path) -> None:
    queue = f"mp-{uuid.uuid4().hex[:8]}"
    runs_file = tmp_path / "runs.txt"
    runs_file.touch()
    workers = [subprocess.Popen([sys.executable, str(WORKER), db_url, f"mp-exec-{i}", queue, str(runs_file)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for i in range(3)]
    try:
        for w in workers:
            assert w.stdout is not None
            assert w.stdout.readline().strip() == "ready"
        with DBOSClient(db_url) as client:
            handles = [client.enqueue({"queue_name": queue, "workflow_name": "mp_work",
                                       "workflow_id": f"{queue}-{i}"}, i) for i in range(N)]
            assert [h.get_result(timeout_seconds=60) for h in handles] == list(range(N))
            statuses = client.list_workflows(queue_name=queue, load_input=False, load_output=False)
    finally:
        for w in workers:
            if w.stdin is not None:
                w.stdin.close()
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
    assert len(statuses) == N and {s.status for s in statuses} == {"SUCCESS"}
    rows = [(wfid, executor, float(start), float(end)) for wfid, executor, start, end in
            (line.split() for line in runs_file.read_text().splitlines())]
    runs = Counter(r[0] for r in rows)
    assert set(runs) == {f"{queue}-{i}" for i in range(N)}
    assert set(runs.values()) == {1}, "a workflow ran more than once"
    assert _max_overlap([(r[2], r[3]) for r in rows]) == 2
    assert all(_max_overlap([(r[2], r[3]) for r in rows if r[1] == ex]) == 1 for ex in {r[1] for r in rows})
    # The executor recorded on each workflow is the process that ran it.
    by_status = {s.workflow_id: s.executor_id for s in statuses}
    assert all(by_status[r[0]] == r[1] for r in rows)
    assert len({r[1] for r in rows}) >= 2, "the queue was not shared"
