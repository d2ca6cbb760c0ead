"""No workflow is left behind in a live process: an execution that stops without an outcome is run again here
(no restart needed), and a workflow that would wait for itself is told so instead of hanging."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from tether import DBOS, ConflictingWorkflowError, SetWorkflowID

WAIT = 30.0


def test_workflow_cannot_start_itself_as_its_own_child(dbos: type[DBOS]) -> None:
    tag = uuid.uuid4().hex[:8]

    @DBOS.workflow(name=f"self-child-{tag}")
    def selfish(how: str) -> str:
        me = DBOS.workflow_id
        assert me is not None
        with SetWorkflowID(me):
            if how == "call":
                return selfish(how)
            return str(DBOS.start_workflow(selfish, how).get_result())

    for how in ("call", "start"):
        handle = DBOS.start_workflow(selfish, how)
        with pytest.raises(ConflictingWorkflowError, match="its own child"):
            handle.get_result(timeout_seconds=WAIT)
        assert handle.get_status().status == "ERROR"  # the workflow's own mistake, reported as its outcome


def test_workflow_cannot_wait_for_its_own_outcome(dbos: type[DBOS]) -> None:
    @DBOS.workflow(name=f"self-wait-{uuid.uuid4().hex[:8]}")
    def narcissus() -> object:
        me = DBOS.workflow_id
        assert me is not None
        return DBOS.retrieve_workflow(me).get_result()

    handle = DBOS.start_workflow(narcissus)
    with pytest.raises(ConflictingWorkflowError, match="its own outcome"):
        handle.get_result(timeout_seconds=WAIT)


def test_workflow_whose_caller_task_was_cancelled_still_finishes(dbos: type[DBOS]) -> None:
    """Awaiting an async workflow directly runs it in the caller's task. If that task is cancelled (a
    timeout around the call, a client gone away), the workflow has not ended: this process runs it again from
    its checkpoints, so it finishes, and get_result() without a timeout does not hang."""
    tag = uuid.uuid4().hex[:8]
    first_step_done = threading.Event()
    runs: list[str] = []

    @DBOS.step(name=f"first-{tag}")
    def first() -> str:
        runs.append("first")
        first_step_done.set()
        return "a"

    @DBOS.step(name=f"second-{tag}")
    async def second() -> str:
        runs.append("second")
        await asyncio.sleep(0.2)
        return "b"

    @DBOS.workflow(name=f"cancelled-caller-{tag}")
    async def work() -> str:
        a = first()
        return a + await second()

    wfid = f"cancelled-caller-{tag}"

    async def caller() -> None:
        with SetWorkflowID(wfid):
            task = asyncio.ensure_future(work())
        await asyncio.get_running_loop().run_in_executor(None, first_step_done.wait, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(caller())
    assert DBOS.retrieve_workflow(wfid).get_result(timeout_seconds=WAIT) == "ab"
    assert DBOS.get_workflow_status(wfid).status == "SUCCESS"  # type: ignore[union-attr]
    assert runs.count("first") == 1  # replayed from its checkpoint, not run again
