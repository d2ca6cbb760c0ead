"""Recovery inside one test process: a DBOS that is destroyed while a workflow runs leaves it PENDING, and the
next launch with the same executor resumes it; past max_recovery_attempts it is given up."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from tests.conftest import make_config
from tether import DBOS, MaxRecoveryAttemptsExceeded, Queue, SetWorkflowID
from tether.engine.runtime import Runtime

release = threading.Event()
step_runs: list[str] = []


@DBOS.step()
def record(name: str) -> str:
    step_runs.append(name)
    return name


@DBOS.step()
def blocks_until_released() -> str:
    step_runs.append("blocking")
    release.wait(30)
    return "released"


@DBOS.workflow(max_recovery_attempts=1)
def fragile() -> str:
    record("first")
    blocks_until_released()
    return "done"


@DBOS.workflow()
def resumable() -> list[str]:
    a = record("a")
    b = blocks_until_released()
    return [a, b]


@DBOS.workflow()
def plain(x: str) -> str:
    return x


def _relaunch(config: dict[str, Any]) -> None:
    DBOS.destroy()
    DBOS(config=config)
    DBOS.launch()


@pytest.fixture(autouse=True)
def _reset() -> Any:
    release.clear()
    step_runs.clear()
    yield
    release.set()
    DBOS.destroy()


def test_relaunch_resumes_pending_workflow_from_checkpoint(db_url: str) -> None:
    config = make_config(db_url)
    DBOS(config=config)
    DBOS.launch()
    wfid = f"resume-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(resumable)
    while "blocking" not in step_runs:
        threading.Event().wait(0.01)
    _relaunch(config)  # the first execution is abandoned mid-step, as in a crash
    release.set()
    assert DBOS.retrieve_workflow(wfid).get_result() == ["a", "released"]
    assert step_runs.count("a") == 1
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.recovery_attempts == 2  # the first run and one recovery (as DBOS counts)


def test_too_many_recoveries_end_in_max_recovery_attempts_exceeded(db_url: str) -> None:
    config = make_config(db_url)
    DBOS(config=config)
    DBOS.launch()
    wfid = f"fragile-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(fragile)
    for expected in (1, 2):
        while step_runs.count("blocking") < expected:
            threading.Event().wait(0.01)
        _relaunch(config)
    status = DBOS.get_workflow_status(wfid)
    assert status is not None
    assert status.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
    with pytest.raises(MaxRecoveryAttemptsExceeded):
        DBOS.get_result(wfid)
    assert step_runs.count("first") == 1


def _left_pending_under_v1(db_url: str, prefix: str) -> tuple[str, str | None]:
    """A workflow started under application version v1 and abandoned mid-step, then a relaunch as v2 (whose
    launch does not recover it): its ID, and the process that owned it."""
    config = make_config(db_url, application_version="v1")
    DBOS(config=config)
    DBOS.launch()
    wfid = f"{prefix}-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(resumable)
    while "blocking" not in step_runs:
        threading.Event().wait(0.01)
    first = DBOS._runtime
    assert first is not None
    owner = first.process_id
    _relaunch({**config, "application_version": "v2"})
    return wfid, owner


def test_recovery_skips_other_application_versions(db_url: str) -> None:
    wfid, _ = _left_pending_under_v1(db_url, "versioned")
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.status == "PENDING" and status.recovery_attempts == 1


@DBOS.workflow()
def waits_briefly(timeout: float) -> object:
    return DBOS.recv("never", timeout_seconds=timeout)


def test_recovered_recv_waits_only_for_the_rest_of_its_timeout(db_url: str) -> None:
    import time

    config = make_config(db_url)
    DBOS(config=config)
    DBOS.launch()
    wfid = f"deadline-{uuid.uuid4()}"
    started = time.monotonic()
    with SetWorkflowID(wfid):
        DBOS.start_workflow(waits_briefly, 2.0)
    # The deadline is recorded as the DBOS.sleep operation that follows the recv (the shape DBOS records).
    while not any(s["function_name"] == "DBOS.sleep" for s in DBOS.list_workflow_steps(wfid)):
        threading.Event().wait(0.01)
    threading.Event().wait(1.0)
    _relaunch(config)  # recovery replays the recorded deadline instead of starting a new 2 s wait
    assert DBOS.retrieve_workflow(wfid).get_result() is None
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 2.8, elapsed  # a fresh 2 s wait after the relaunch would end past 3 s


@DBOS.workflow()
def sleeps_an_hour() -> str:
    DBOS.sleep(3600)
    return "woke"


def test_durable_sleep_keeps_its_recorded_wake_up_time_under_an_injected_clock(db_url: str) -> None:
    """Time comes from an injectable clock: an hour-long durable sleep recovered an hour later (by the clock)
    ends at once, because the wake-up time was recorded, not the duration."""
    import time

    from tether.engine.clock import OffsetClock

    config = make_config(db_url)
    DBOS(config=config, clock=OffsetClock(0))
    DBOS.launch()
    wfid = f"hour-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(sleeps_an_hour)
    while not any(s["function_name"] == "DBOS.sleep" for s in DBOS.list_workflow_steps(wfid)):
        threading.Event().wait(0.01)
    DBOS.destroy()
    DBOS(config=config, clock=OffsetClock(3600))
    started = time.monotonic()
    DBOS.launch()
    assert DBOS.retrieve_workflow(wfid).get_result() == "woke"
    assert time.monotonic() - started < 10


def test_the_first_execution_counts_as_attempt_one(db_url: str) -> None:
    """As in DBOS, ``recovery_attempts`` counts executions: a direct start and a dequeue are attempt 1."""
    from tether import Queue

    DBOS(config=make_config(db_url))
    DBOS.launch()
    direct = DBOS.start_workflow(plain, "x")
    queued = Queue(f"attempts-{uuid.uuid4().hex[:8]}").enqueue(plain, "y")
    assert direct.get_result() == "x" and queued.get_result() == "y"
    assert direct.get_status().recovery_attempts == 1
    assert queued.get_status().recovery_attempts == 1


def test_handles_survive_a_relaunch_on_the_same_database(db_url: str) -> None:
    """As DBOS's handles (bound to the process's one DBOS) do: a handle taken before destroy() still works
    once the application is launched again on the same database."""
    config = make_config(db_url)
    DBOS(config=config)
    DBOS.launch()
    handle = DBOS.start_workflow(plain, "kept")
    assert handle.get_result() == "kept"
    _relaunch(config)
    assert handle.get_status().status == "SUCCESS" and handle.get_result() == "kept"


def test_two_recoveries_at_once_run_a_workflow_once(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Launch's recovery and the heartbeat thread's adoption can look at one PENDING workflow at the same moment;
    here two recoveries are made to claim it together (each waits, up to 1 s, for the other inside the claim).
    Only one of them runs it: its step after the checkpoint runs once."""
    from tether.engine.recovery import recover_workflows

    wfid, previous_owner = _left_pending_under_v1(db_url, "twice")
    rt = DBOS._runtime
    assert rt is not None
    assert DBOS.get_workflow_status(wfid).status == "PENDING"  # type: ignore[union-attr]
    together = threading.Barrier(2)
    claim = rt.store.begin_recovery_many

    def claim_together(*args: Any, **kwargs: Any) -> Any:
        rows = claim(*args, **kwargs)
        try:
            together.wait(timeout=1.0)
        except threading.BrokenBarrierError:
            pass
        return rows

    monkeypatch.setattr(rt.store, "begin_recovery_many", claim_together)
    step_runs.clear()
    threads = [threading.Thread(target=recover_workflows, args=(rt, [wfid]),
                                kwargs={"previous_owner": previous_owner}) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    release.set()
    assert DBOS.retrieve_workflow(wfid).get_result() == ["a", "released"]
    assert step_runs == ["blocking"]


body_runs: list[str] = []


@DBOS.workflow()
def quick_body() -> str:
    body_runs.append("ran")
    return "ok"


@DBOS.workflow()
def held_body() -> str:
    body_runs.append("ran")
    release.wait(30)
    return "ok"


class _RecoveryAlongside:
    """A recovery of this executor, started at a chosen moment (:meth:`start`), that takes its time between
    finding workflows not running here and starting them (its reads of their checkpoints wait 0.5 s)."""

    def __init__(self, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rt = rt
        self.threads: list[threading.Thread] = []
        self._looked = threading.Event()
        load_many = rt.store.load_operations_many

        def slow_reads(ids: Any) -> Any:
            if self.threads:
                self._looked.set()
                threading.Event().wait(0.5)
            return load_many(ids)

        monkeypatch.setattr(rt.store, "load_operations_many", slow_reads)

    def start(self, ids: list[str]) -> None:
        """Start it on ``ids``; returns once it has found them not running here (or waits for the lock)."""
        from tether.engine.recovery import recover_workflows

        self.threads.append(threading.Thread(target=recover_workflows, args=(self.rt, ids), daemon=True))
        self.threads[-1].start()
        self._looked.wait(1.0)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(10)


def _launched(db_url: str) -> Runtime:
    """Launch DBOS on ``db_url`` (destroyed by the autouse fixture) and return its runtime."""
    DBOS(config=make_config(db_url))
    DBOS.launch()
    rt = DBOS._runtime
    assert rt is not None
    return rt


def test_a_recovery_while_the_outcome_is_written_does_not_run_the_workflow_again(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workflow's body is done and its outcome is being written (the workflow is still PENDING in the
    database) when a recovery of this executor looks: it must see the workflow as running here, not as one to
    run again."""
    from tether.engine.recovery import recover_pending_workflows

    rt = _launched(db_url)
    wfid = f"quick-{uuid.uuid4()}"
    write_outcome = rt.checkpoint_blocking
    looked: list[list[str]] = []

    def recover_first(item: Any) -> Any:
        if getattr(item, "workflow_id", None) == wfid and not looked:
            looker = threading.Thread(target=lambda: looked.append(recover_pending_workflows(rt)))
            looker.start()
            looker.join(10)
        return write_outcome(item)

    monkeypatch.setattr(rt, "checkpoint_blocking", recover_first)
    body_runs.clear()
    with SetWorkflowID(wfid):
        assert quick_body() == "ok"
    assert looked == [[]]  # the recovery found nothing to run
    threading.Event().wait(0.3)  # time for a second execution, had one been started, to run its body
    assert body_runs == ["ran"]


def test_a_recovery_while_a_stranded_workflow_is_run_again_does_not_run_it_twice(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workflow whose outcome could not be written (the database was unavailable) is run again by this
    process. A recovery of this executor is made to claim it at the same moment (each claim waits, up to
    1 s, for the other), and to take its time between finding it not running here and starting it. Only one
    of the two may start it, and neither after the other's execution has ended: the body runs twice in all
    (the first execution and one re-run), not three times."""
    from tether.engine.recovery import recover_workflows
    from tether.errors import DatabaseUnavailableError

    rt = _launched(db_url)
    wfid = f"stranded-{uuid.uuid4()}"
    write_outcome = rt.checkpoint_blocking
    failed: list[bool] = []

    def fail_once(item: Any) -> Any:
        if getattr(item, "workflow_id", None) == wfid and not failed:
            failed.append(True)
            raise DatabaseUnavailableError("the database went away as the outcome was written")
        return write_outcome(item)

    together = threading.Barrier(2)
    claim = rt.store.begin_recovery_many
    load_many = rt.store.load_operations_many
    recovery: list[threading.Thread] = []

    def claim_together(ids: Any, *args: Any, **kwargs: Any) -> Any:
        if wfid in ids and not recovery:  # the re-run's claim: a recovery looks now too
            recovery.append(threading.Thread(target=recover_workflows, args=(rt, [wfid]), daemon=True))
            recovery[0].start()
        rows = claim(ids, *args, **kwargs)
        if wfid in ids:
            try:
                together.wait(timeout=1.0)
            except threading.BrokenBarrierError:
                pass
        return rows

    def slow_reads(ids: Any) -> Any:  # the recovery has found the workflow not running here
        if wfid in ids:
            threading.Event().wait(0.5)
        return load_many(ids)

    monkeypatch.setattr(rt, "checkpoint_blocking", fail_once)
    monkeypatch.setattr(rt.store, "begin_recovery_many", claim_together)
    monkeypatch.setattr(rt.store, "load_operations_many", slow_reads)
    body_runs.clear()
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(quick_body)
    assert handle.get_result() == "ok"
    assert recovery
    recovery[0].join(10)
    threading.Event().wait(0.5)  # time for a third execution, had one been started, to run its body
    assert failed == [True]
    assert body_runs == ["ran", "ran"]


def test_a_recovery_right_after_a_queue_claim_does_not_run_the_workflow_twice(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue runner has just claimed a workflow (PENDING, owned here, not started yet) when a recovery of
    this executor looks at it, as the heartbeat's does after a fenced spell. The recovery is made to look right
    after the claim and to take its time between finding the workflow not running here and starting it; the
    runner starts it meanwhile. Only one of the two may start it: the body runs once."""
    rt = _launched(db_url)
    queue = Queue(f"claim-{uuid.uuid4().hex[:8]}")
    claim = rt.store.claim_queued
    recovery = _RecoveryAlongside(rt, monkeypatch)

    def claim_then_recover(*args: Any, **kwargs: Any) -> Any:
        rows, cursor = claim(*args, **kwargs)
        ids = [r.workflow_uuid for r in rows]
        if ids and not recovery.threads:
            recovery.start(ids)
        return rows, cursor

    monkeypatch.setattr(rt.store, "claim_queued", claim_then_recover)
    body_runs.clear()
    handle = queue.enqueue(quick_body)
    assert handle.get_result() == "ok"
    assert recovery.threads
    recovery.join()
    threading.Event().wait(0.5)  # time for a second execution, had one been started, to run its body
    assert body_runs == ["ran"]


@pytest.mark.parametrize("recovery_too", [False, True], ids=["alone", "with-a-recovery"])
def test_a_queue_claim_whose_connection_is_lost_after_its_commit_runs_the_workflow_once(
        db_url: str, monkeypatch: pytest.MonkeyPatch, recovery_too: bool) -> None:
    """The queue runner's claim commits, and then its connection is lost before the runner hears of it: the
    claim, tried again, finds nothing left to claim, while the workflow is PENDING under this executor and run
    by nobody. The runner finds it (claimed at this pass's time) and runs it now, not at the next launch. With
    a recovery too: a recovery of this executor is made to look at the same moment and to take its time
    between finding it not running here and starting it; the body still runs once."""
    from tether.errors import DatabaseUnavailableError

    rt = _launched(db_url)
    queue = Queue(f"lost-{uuid.uuid4().hex[:8]}")
    claim = rt.store.claim_queued
    recovery = _RecoveryAlongside(rt, monkeypatch)
    faulted = threading.Event()
    lost: list[bool] = []

    def claim_then_lose_the_connection(*args: Any, **kwargs: Any) -> Any:
        rows, cursor = claim(*args, **kwargs)
        ids = [r.workflow_uuid for r in rows]
        if ids and not lost:
            lost.append(True)
            if recovery_too:
                recovery.start(ids)
            faulted.set()
            raise DatabaseUnavailableError("the connection was lost after the claim committed")
        return rows, cursor

    monkeypatch.setattr(rt.store, "claim_queued", claim_then_lose_the_connection)
    body_runs.clear()
    handle = queue.enqueue(held_body)
    results: list[str] = []
    waiter = threading.Thread(target=lambda: results.append(handle.get_result()), daemon=True)
    waiter.start()
    assert faulted.wait(10)
    recovery.join()
    # The body holds on until released: time for the runner, which found the workflow after the fault, to
    # start a second execution of it meanwhile, had it done so.
    threading.Event().wait(1.0)
    release.set()
    waiter.join(15)
    assert results == ["ok"], "the workflow claimed before the fault was not run"
    assert lost == [True]
    assert len(recovery.threads) == int(recovery_too)
    assert body_runs == ["ran"]
