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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tether import AwaitedWorkflowCancelledError, DBOSClient

WORKER = Path(__file__).with_name("queue_worker.py")
N = 60


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = cur = 0
    for _, d in points:  # at equal times an end sorts before a start: touching spans do not overlap
        cur += d
        best = max(best, cur)
    return best


@contextmanager
def _workers(db_url: str, queue: str, runs_file: Path, n: int = 3, *extra: str) -> Iterator[None]:
    """``n`` worker processes serving ``queue``, each launched (ready) on entry and stopped on exit."""
    runs_file.touch()
    workers = [subprocess.Popen([sys.executable, str(WORKER), db_url, f"mp-exec-{i}", queue, str(runs_file),
                                 *extra],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for i in range(n)]
    try:
        for w in workers:
            assert w.stdout is not None
            assert w.stdout.readline().strip() == "ready"
        yield
    finally:
        for w in workers:
            if w.stdin is not None:
                w.stdin.close()
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()


def test_three_processes_share_a_queue_with_global_concurrency(db_url: str, tmp_path: Path) -> None:
    queue = f"mp-{uuid.uuid4().hex[:8]}"
    runs_file = tmp_path / "runs.txt"
    with _workers(db_url, queue, runs_file), DBOSClient(db_url) as client:
        handles = [client.enqueue({"queue_name": queue, "workflow_name": "mp_work",
                                   "workflow_id": f"{queue}-{i}"}, i) for i in range(N)]
        assert [h.get_result(timeout_seconds=60) for h in handles] == list(range(N))
        statuses = client.list_workflows(queue_name=queue, load_input=False, load_output=False)
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


def test_cancel_and_resume_across_processes(db_url: str, tmp_path: Path) -> None:
    """A client cancels a workflow running in a worker process; the worker stops it (its waiting recv ends);
    resumed from the client, some worker continues it from its checkpoints. Each step ran exactly once."""
    queue = f"mpc-{uuid.uuid4().hex[:8]}"
    runs_file = tmp_path / "runs.txt"
    steps_file = Path(str(runs_file) + ".steps")
    with _workers(db_url, queue, runs_file, n=2), DBOSClient(db_url) as client:
        h = client.enqueue({"queue_name": queue, "workflow_name": "mp_steps"})
        assert client.get_event(h.workflow_id, "at", timeout_seconds=30) == "recv"  # one() ran, now in recv
        client.cancel_workflow(h.workflow_id)
        with pytest.raises(AwaitedWorkflowCancelledError):
            h.get_result(timeout_seconds=30)
        first_executor = client.get_workflow_status(h.workflow_id).executor_id  # type: ignore[union-attr]
        resumed = client.resume_workflow(h.workflow_id)
        client.send(h.workflow_id, "go!", "go")
        assert resumed.get_result(timeout_seconds=30) == "go!"
        steps = [line.split() for line in steps_file.read_text().splitlines()]
        assert sorted(what for what, _, _ in steps) == ["one", "two"]
        assert [ex for what, _, ex in steps if what == "one"] == [first_executor]
        final = client.get_workflow_status(h.workflow_id)
        assert final is not None and final.status == "SUCCESS"


def test_partition_limits_hold_across_three_processes(db_url: str, tmp_path: Path) -> None:
    """A queue registered in the database by a client (the workers declare none in code) with
    partition_concurrency=2, partition_worker_concurrency=1 and global_concurrency=4. Three partitions of 15
    workflows each: no partition ever runs more than two at once, never two in one process, the whole queue
    never more than four -- though the three processes could run nine -- and every workflow runs once."""
    queue = f"mpp-{uuid.uuid4().hex[:8]}"
    runs_file = tmp_path / "runs.txt"
    parts = ["red", "green", "blue"]
    with DBOSClient(db_url) as client:
        client.register_queue(queue, partition_concurrency=2, partition_worker_concurrency=1,
                              global_concurrency=4, application_name="mp-worker")
        with _workers(db_url, queue, runs_file, 3, "registered"):
            handles = [client.enqueue({"queue_name": queue, "workflow_name": "mp_work", "queue_partition_key": p,
                                       "workflow_id": f"{queue}-{p}-{i}"}, i) for i in range(15) for p in parts]
            assert [h.get_result(timeout_seconds=90) for h in handles] == [i for i in range(15) for _ in parts]
        client.delete_queue(queue)
    rows = [(wfid, executor, float(start), float(end)) for wfid, executor, start, end in
            (line.split() for line in runs_file.read_text().splitlines())]
    assert Counter(r[0] for r in rows) == Counter({h.workflow_id: 1 for h in handles}), "not exactly once each"
    assert _max_overlap([(r[2], r[3]) for r in rows]) <= 4
    for p in parts:
        mine = [r for r in rows if r[0].split("-")[2] == p]
        assert _max_overlap([(r[2], r[3]) for r in mine]) <= 2, f"partition {p} ran more than two at once"
        for ex in {r[1] for r in mine}:
            assert _max_overlap([(r[2], r[3]) for r in mine if r[1] == ex]) == 1
    assert len({r[1] for r in rows}) >= 2, "the queue was not shared"
