"""Workflow timeouts on both backends: past its deadline a workflow is cancelled with its children; the deadline
is stored (so it survives a relaunch), counted from the dequeue for queued workflows, and inherited by
children. The decision of which deadline a new workflow gets is a pure rule, tested without a database."""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.conftest import make_config
from tether import (
    DBOS,
    AwaitedWorkflowCancelledError,
    DBOSClient,
    Queue,
    SetWorkflowID,
    SetWorkflowTimeout,
    error,
)
from tether.engine.timeouts import start_deadline
from tether.serialization import serialize
from tether.storage.base import OperationRow

WAIT = 30


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_start_deadline_rule() -> None:
    assert start_deadline(1000, 500, False, None, True) == 1500          # counted from the start
    assert start_deadline(1000, 500, True, None, True) is None           # queued: counted from the dequeue
    assert start_deadline(1000, None, False, 4000, False) == 4000        # a child inherits its parent's
    assert start_deadline(1000, 500, False, 4000, True) == 1500          # unless it has a timeout of its own
    assert start_deadline(1000, None, False, 4000, True) is None         # or a block says "none"


def test_a_workflow_past_its_deadline_is_cancelled_with_its_children(dbos: type[DBOS]) -> None:
    tag = _tag()
    gate = threading.Event()

    @DBOS.workflow(name=f"child-{tag}")
    def child() -> None:
        while not gate.is_set():
            DBOS.sleep(0.05)

    @DBOS.workflow(name=f"parent-{tag}")
    def parent() -> None:
        DBOS.start_workflow(child)
        while not gate.is_set():
            DBOS.sleep(0.05)

    with SetWorkflowTimeout(0.5), SetWorkflowID(f"parent-{tag}"):
        handle = DBOS.start_workflow(parent)
    try:
        with pytest.raises(AwaitedWorkflowCancelledError):
            handle.get_result(timeout_seconds=WAIT)
        status = handle.get_status()
        child_status = DBOS.get_workflow_status(f"parent-{tag}-1")
        assert child_status is not None
        assert status.status == "CANCELLED" and child_status.status == "CANCELLED"
        assert status.workflow_timeout_ms == 500
        assert status.workflow_deadline_epoch_ms is not None
        # The child had no timeout of its own: it carried its parent's deadline.
        assert child_status.workflow_deadline_epoch_ms == status.workflow_deadline_epoch_ms
    finally:
        gate.set()


def test_a_queued_workflow_counts_its_timeout_from_the_dequeue(dbos: type[DBOS], db_url: str) -> None:
    tag = _tag()
    q = Queue(f"tq-{tag}")

    @DBOS.workflow(name=f"quick-{tag}")
    def quick() -> str:
        return "done"

    unserved = f"unserved-{tag}"
    with DBOSClient(db_url) as client:
        waiting = client.enqueue({"queue_name": unserved, "workflow_name": f"quick-{tag}",
                                  "workflow_timeout": 0.2})
        status = waiting.get_status()
        assert status.workflow_timeout_ms == 200 and status.workflow_deadline_epoch_ms is None
    with SetWorkflowTimeout(5):
        handle = q.enqueue(quick)
    assert handle.get_result(timeout_seconds=WAIT) == "done"
    done = handle.get_status()
    assert done.dequeued_at is not None and done.workflow_deadline_epoch_ms == done.dequeued_at + 5000


def test_the_deadline_survives_a_relaunch(db_url: str) -> None:
    tag = _tag()
    config = make_config(db_url)

    @DBOS.workflow(name=f"forever-{tag}")
    def forever() -> None:
        while True:
            DBOS.sleep(0.05)

    DBOS(config=config)
    DBOS.launch()
    try:
        with SetWorkflowTimeout(1.0), SetWorkflowID(f"forever-{tag}"):
            DBOS.start_workflow(forever)
        DBOS.destroy()  # the timer dies with the process; the deadline is in the database
        DBOS(config=config)
        DBOS.launch()  # recovery resumes the workflow and arms its recorded deadline again
        with pytest.raises(AwaitedWorkflowCancelledError):
            DBOS.retrieve_workflow(f"forever-{tag}").get_result(timeout_seconds=WAIT)
    finally:
        DBOS.destroy()


def test_fork_with_a_timeout_and_invalid_timeouts(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"loop-{tag}")
    def loop(n: int) -> int:
        for _ in range(n):
            DBOS.sleep(0.05)
        return n

    with SetWorkflowID(f"loop-{tag}"):
        assert loop(1) == 1
    fork = DBOS.fork_workflow(f"loop-{tag}", 1, timeout_seconds=60)
    assert fork.get_result(timeout_seconds=WAIT) == 1
    assert fork.get_status().workflow_timeout_ms == 60_000
    with pytest.raises(ValueError, match="Timeouts must be positive"):
        SetWorkflowTimeout(-1)
    with pytest.raises(ValueError, match="Timeouts must be positive"):
        DBOS.fork_workflow(f"loop-{tag}", 1, timeout_seconds=-1)


def test_a_zero_timeout_is_no_timeout_as_in_dbos(dbos: type[DBOS]) -> None:
    """DBOS 3.4 takes ``SetWorkflowTimeout(0)`` as ``None``: no timeout, and no inherited deadline either."""
    tag = _tag()

    @DBOS.workflow(name=f"nap-{tag}")
    def nap() -> str:
        DBOS.sleep(0.3)
        return "rested"

    @DBOS.workflow(name=f"outer-{tag}")
    def outer() -> str:
        with SetWorkflowTimeout(0):
            return DBOS.start_workflow(nap).get_result()

    with SetWorkflowTimeout(0), SetWorkflowID(f"nap-{tag}"):
        assert nap() == "rested"
    status = DBOS.get_workflow_status(f"nap-{tag}")
    assert status is not None
    assert status.workflow_timeout_ms is None and status.workflow_deadline_epoch_ms is None
    with SetWorkflowTimeout(30), SetWorkflowID(f"outer-{tag}"):
        assert outer() == "rested"
    child = DBOS.get_workflow_status(f"outer-{tag}-1")
    assert child is not None and child.workflow_deadline_epoch_ms is None


def test_a_directly_called_workflow_that_is_cancelled_raises_awaited_cancelled(dbos: type[DBOS]) -> None:
    """As in DBOS, calling a workflow function that gets cancelled (by a cancel, or its timeout) raises
    ``DBOSAwaitedWorkflowCancelledError``, an ``Exception`` a calling workflow can catch, not the cancellation
    itself (a ``BaseException``, which left a calling parent PENDING)."""
    tag = _tag()
    started = threading.Event()

    @DBOS.workflow(name=f"spin-{tag}")
    def spin() -> str:
        started.set()
        for _ in range(600):
            DBOS.sleep(0.05)
        return "finished"

    @DBOS.workflow(name=f"caller-{tag}")
    def caller() -> str:
        try:
            with SetWorkflowTimeout(0.3):
                return spin()
        except Exception as exc:  # what a DBOS application catches
            return type(exc).__name__

    def cancel_when_started() -> None:
        if started.wait(WAIT):
            DBOS.cancel_workflow(f"spin-{tag}")

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    with SetWorkflowID(f"spin-{tag}"), pytest.raises(AwaitedWorkflowCancelledError, match="was cancelled"):
        spin()
    canceller.join()
    with SetWorkflowID(f"caller-{tag}"):
        assert caller() == "AwaitedWorkflowCancelledError"
    parent = DBOS.get_workflow_status(f"caller-{tag}")
    child = DBOS.get_workflow_status(f"caller-{tag}-1")
    assert parent is not None and parent.status == "SUCCESS"
    assert child is not None and child.status == "CANCELLED"


def test_a_direct_call_cancelled_after_its_last_operation_raises_awaited_cancelled(dbos: type[DBOS]) -> None:
    """A workflow cancelled while it runs plain code, with no operation left to stop it, ends CANCELLED; its
    direct caller gets ``DBOSAwaitedWorkflowCancelledError`` (the recorded outcome), as in DBOS, rather than
    the return value that was never recorded."""
    tag = _tag()
    started, release = threading.Event(), threading.Event()

    @DBOS.workflow(name=f"plain-{tag}")
    def plain() -> str:
        started.set()
        release.wait(WAIT)
        return "returned"

    def cancel_then_release() -> None:
        if started.wait(WAIT):
            DBOS.cancel_workflow(f"plain-{tag}")
        release.set()

    canceller = threading.Thread(target=cancel_then_release)
    canceller.start()
    with SetWorkflowID(f"plain-{tag}"), pytest.raises(AwaitedWorkflowCancelledError, match="was cancelled"):
        plain()
    canceller.join()
    status = DBOS.get_workflow_status(f"plain-{tag}")
    assert status is not None and status.status == "CANCELLED"


def test_a_negative_wait_is_no_wait_as_in_dbos(dbos: type[DBOS]) -> None:
    """DBOS 3.4 takes a negative ``DBOS.sleep``, ``recv`` or ``get_event`` timeout as a deadline already past
    (no wait), as code computing ``deadline - now`` relies on; Tether refused it (the workflow ended in ERROR).
    NaN and infinite values are still refused."""
    tag = _tag()

    @DBOS.workflow(name=f"late-{tag}")
    def late() -> list[object]:
        DBOS.sleep(-2.5)
        got = DBOS.recv("t", timeout_seconds=-1)
        event = DBOS.get_event(DBOS.workflow_id or "", "missing", timeout_seconds=-0.5)
        return [got, event]

    with SetWorkflowID(f"late-{tag}"):
        assert late() == [None, None]
    assert DBOS.get_event(f"late-{tag}", "missing", timeout_seconds=-3) is None
    steps = [s["function_name"] for s in DBOS.list_workflow_steps(f"late-{tag}")]
    assert steps == ["DBOS.recv", "DBOS.sleep", "DBOS.getEvent", "DBOS.sleep"]  # as DBOS: the sleep left none
    with pytest.raises(ValueError):
        DBOS.get_event(f"late-{tag}", "missing", timeout_seconds=float("-inf"))


def test_a_sleep_of_no_time_records_nothing_as_in_dbos(dbos: type[DBOS]) -> None:
    """DBOS 3.4's ``DBOS.sleep(seconds)`` with ``seconds <= 0`` returns at once and records nothing: it takes no
    step number inside a workflow, and outside one it is no error. Tether recorded a ``DBOS.sleep`` step (so
    every later step had another number than in DBOS: ``list_workflow_steps``, ``fork_workflow(start_step=)``)
    and raised outside a workflow."""
    tag = _tag()
    ran: list[int] = []

    @DBOS.step(name=f"work-{tag}")
    def work() -> int:
        ran.append(DBOS.step_id or 0)
        return len(ran)

    @DBOS.workflow(name=f"nap-{tag}")
    def nap() -> int:
        DBOS.sleep(0)
        first = work()
        DBOS.sleep(-1)
        return first + work()

    with SetWorkflowID(f"nap-{tag}"):
        assert nap() == 3
    assert ran == [1, 2]
    steps = DBOS.list_workflow_steps(f"nap-{tag}")
    assert [(s["function_id"], s["function_name"]) for s in steps] == [(1, f"work-{tag}"), (2, f"work-{tag}")]
    assert DBOS.sleep(0) is None and DBOS.sleep(-2) is None  # outside a workflow too
    with pytest.raises(error.DBOSException, match=r"sleep\(\) must be called from within a workflow"):
        DBOS.sleep(0.01)


def test_a_sleep_of_no_time_recorded_by_an_earlier_tether_is_replayed(dbos: type[DBOS]) -> None:
    """A workflow recorded when Tether still checkpointed ``DBOS.sleep(0)`` (a ``DBOS.sleep`` row whose wake-up
    is its start) replays that row as the call, so its later steps keep their numbers."""
    tag = _tag()
    ran: list[str] = []

    @DBOS.step(name=f"old-step-{tag}")
    def step() -> str:
        ran.append("ran")
        return "fresh"

    @DBOS.workflow(name=f"old-{tag}")
    def old() -> str | None:
        if (DBOS.workflow_id or "").startswith("source-"):
            return None  # the source records nothing itself: its checkpoints are written below
        DBOS.sleep(0)
        return step()

    source = f"source-{tag}"
    with SetWorkflowID(source):
        assert old() is None
    rt = DBOS._runtime
    assert rt is not None
    now = rt.clock.now_ms()
    rt.store.record_operation(source, OperationRow(function_id=1, function_name="DBOS.sleep",
                                                   output=serialize(now), started_at=now, completed_at=now))
    rt.store.record_operation(source, OperationRow(function_id=2, function_name=f"old-step-{tag}",
                                                   output=serialize("recorded"), started_at=now, completed_at=now))
    assert DBOS.fork_workflow(source, 3).get_result(timeout_seconds=WAIT) == "recorded"
    assert ran == []
