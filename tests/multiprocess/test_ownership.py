"""Ownership across real processes, on SQLite and PostgreSQL: a workflow runs in at most one live process at a
time whatever the executor IDs, and the workflows (and queue slots) of a process that died and never comes
back are finished by a live one.

Concurrent runs are counted outside the database: every step holds an exclusive ``flock`` named after its
workflow (see owner_worker.py), so a second execution of the workflow in any process at the same time fails to
take it and is written down. Workers heartbeat every 0.2 s with a 1 s timeout; the waits below are generous
upper bounds on a takeover that must happen (they fail a stuck takeover, they do not measure its speed).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tether import DBOSClient

WORKER = Path(__file__).with_name("owner_worker.py")
QUEUE = "owned-q"
# Takeover of a dead worker happens within the timeout plus two intervals (1.4 s, docs/guarantees.md); the
# workflows then still have their steps to run. Waits fail only far beyond that.
WAIT = 60.0


class Worker:
    def __init__(self, db_url: str, executor: str, workdir: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(WORKER), db_url, executor, str(workdir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.line() == "ready"

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def start(self, n: int, prefix: str, kind: str) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"start {n} {prefix} {kind}\n")
        self.proc.stdin.flush()
        assert self.line() == "ok"
        return [f"{prefix}-{i}" for i in range(n)]

    def stop(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def workers(db_url: str, workdir: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    try:
        yield started
    finally:
        for w in started:
            if w.proc.poll() is None:
                try:
                    w.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
            w.stop()


def steps(workdir: Path) -> list[tuple[str, str, int, int, float]]:
    path = workdir / "steps"
    if not path.exists():
        return []
    return [(what, wfid, int(k), int(pid), float(t)) for what, wfid, k, pid, t in
            (line.split() for line in path.read_text().splitlines())]


def wait_for(cond: object, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def violations(workdir: Path) -> list[str]:
    path = workdir / "violations"
    return path.read_text().splitlines() if path.exists() else []


def test_a_second_process_with_the_same_executor_id_runs_none_of_the_first_ones_workflows(
        db_url: str, tmp_path: Path) -> None:
    """Two replicas with the default executor ID ("local"): the second launching while the first runs 40
    workflows recovers none of them; each step runs exactly once, all in the first process."""
    with workers(db_url, tmp_path) as ws:
        first = Worker(db_url, "-", tmp_path)
        ws.append(first)
        ids = first.start(40, "same-exec", "steps")
        wait_for(lambda: {s[1] for s in steps(tmp_path) if s[0] == "start"} == set(ids), "all 40 to start")
        second = Worker(db_url, "-", tmp_path)  # launches (and recovers) while the first is mid-workflow
        ws.append(second)
        with DBOSClient(db_url) as client:
            assert [client.retrieve_workflow(w).get_result(timeout_seconds=WAIT) for w in ids] == list(range(40))
    starts = [s for s in steps(tmp_path) if s[0] == "start"]
    assert Counter((s[1], s[2]) for s in starts) == Counter({(w, k): 1 for w in ids for k in range(3)})
    assert {s[3] for s in starts} == {first.proc.pid}
    assert violations(tmp_path) == []


def test_a_killed_process_that_never_restarts_has_its_workflows_and_queue_slots_taken_over(
        db_url: str, tmp_path: Path) -> None:
    """The first process runs 10 workflows and holds both slots of a queue with concurrency=2 (8 more wait);
    a second process with the same executor ID is live. The first is SIGKILLed mid-step and never restarts:
    the second finishes all 20, never two executions of one workflow at once."""
    with workers(db_url, tmp_path) as ws, DBOSClient(db_url) as client:
        first = Worker(db_url, "-", tmp_path)
        ws.append(first)
        direct = first.start(10, "killed", "steps")
        queued = [client.enqueue({"queue_name": QUEUE, "workflow_name": "owned_steps",
                                  "workflow_id": f"killed-q-{i}"}, 100 + i).workflow_id for i in range(10)]
        running = lambda: {s[1] for s in steps(tmp_path) if s[0] == "start"}  # noqa: E731
        wait_for(lambda: set(direct) <= running() and len(set(queued) & running()) == 2,
                 "the first process to run its workflows and take both queue slots")
        second = Worker(db_url, "-", tmp_path)
        ws.append(second)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        results = [client.retrieve_workflow(w).get_result(timeout_seconds=WAIT) for w in direct + queued]
        assert results == list(range(10)) + [100 + i for i in range(10)]
        statuses = client.list_workflows(workflow_id_prefix="killed", load_input=False, load_output=False)
    assert len(statuses) == 20 and {s.status for s in statuses} == {"SUCCESS"}
    assert violations(tmp_path) == []
    done = {(s[1], s[2]) for s in steps(tmp_path) if s[0] == "end"}
    assert done == {(w, k) for w in direct + queued for k in range(3)}
    assert second.proc.pid in {s[3] for s in steps(tmp_path) if s[0] == "end"}


def test_a_frozen_process_is_adopted_after_its_heartbeat_lapses_and_stops_when_it_wakes(
        db_url: str, tmp_path: Path) -> None:
    """The first process is frozen (SIGSTOP) while its workflows wait in recv, and one of its queued workflows
    holds a slot. Its PID still exists, so only the heartbeat's lapse tells it is gone: the second process
    (another executor ID) adopts its work and finishes it. Woken again (SIGCONT), the first process finds it
    was adopted and starts no further step of those workflows."""
    with workers(db_url, tmp_path) as ws, DBOSClient(db_url) as client:
        first = Worker(db_url, "first", tmp_path)
        ws.append(first)
        direct = first.start(5, "frozen", "wait")
        queued = client.enqueue({"queue_name": QUEUE, "workflow_name": "owned_wait",
                                 "workflow_id": "frozen-q"}, 100).workflow_id
        ended = lambda: {s[1] for s in steps(tmp_path) if s[0] == "end"}  # noqa: E731
        wait_for(lambda: set(direct) | {queued} <= ended(), "every workflow to reach its recv")
        first.proc.send_signal(signal.SIGSTOP)
        second = Worker(db_url, "second", tmp_path)
        ws.append(second)
        for w in [*direct, queued]:
            client.send(w, "go", "go")
        results = [client.retrieve_workflow(w).get_result(timeout_seconds=WAIT) for w in [*direct, queued]]
        assert results == [0, 1, 2, 3, 4, 100]
        woken = time.time()
        first.proc.send_signal(signal.SIGCONT)
        first.stop()
        statuses = client.list_workflows(workflow_id_prefix="frozen", load_input=False, load_output=False)
    assert {s.status for s in statuses} == {"SUCCESS"} and {s.executor_id for s in statuses} == {"second"}
    assert violations(tmp_path) == []
    second_steps = [s for s in steps(tmp_path) if s[2] == 1]
    assert {s[3] for s in second_steps} == {second.proc.pid}
    assert not [s for s in steps(tmp_path) if s[3] == first.proc.pid and s[0] == "start" and s[4] >= woken]


def test_a_process_with_an_explicit_executor_id_that_a_live_process_holds_is_refused(
        db_url: str, tmp_path: Path) -> None:
    """executor_id given in the config: a second process launching with it while the first lives fails at
    launch with one clear message and runs nothing; the first is untouched; once the first has stopped, the
    same ID launches again."""
    with workers(db_url, tmp_path) as ws:
        first = Worker(db_url, "exec-held", tmp_path)
        ws.append(first)
        ids = first.start(3, "held", "wait")
        wait_for(lambda: {s[1] for s in steps(tmp_path) if s[0] == "end"} >= set(ids), "the first steps")
        second = subprocess.run([sys.executable, str(WORKER), db_url, "exec-held", str(tmp_path)], input="quit\n",
                                capture_output=True, text=True, timeout=WAIT)
        assert second.returncode != 0 and "ready" not in second.stdout
        assert "executor_id 'exec-held' is already used by a live process" in second.stderr
        assert f"pid {first.proc.pid}" in second.stderr
        with DBOSClient(db_url) as client:
            for w in ids:
                client.send(w, "go", "go")
            assert [client.retrieve_workflow(w).get_result(timeout_seconds=WAIT) for w in ids] == [0, 1, 2]
        first.stop()
        third = Worker(db_url, "exec-held", tmp_path)
        ws.append(third)
    assert {s[3] for s in steps(tmp_path)} == {first.proc.pid}  # the refused process ran no step
    assert violations(tmp_path) == []
