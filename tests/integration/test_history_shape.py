"""The step history has DBOS's shape on both backends: the same operations are recorded under the same names and
numbers, so ``list_workflow_steps`` and ``fork_workflow(start_step=)`` mean the same thing on both systems."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tether import DBOS, SetEnqueueOptions, SetWorkflowID, error
from tether.serialization import serialize
from tether.storage.base import OperationRow


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _names(wfid: str) -> list[str]:
    return [s["function_name"] for s in DBOS.list_workflow_steps(wfid)]


def test_recv_and_get_event_record_their_deadline_as_a_sleep(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"waiter-{tag}")
    def waiter() -> Any:
        DBOS.set_event("k", "v")
        got = DBOS.recv("t", timeout_seconds=0)
        assert DBOS.workflow_id is not None
        return got, DBOS.get_event(DBOS.workflow_id, "k", 0), DBOS.get_event("nobody", "k", 0)

    wfid = f"waiter-{tag}"
    with SetWorkflowID(wfid):
        assert waiter() == (None, "v", None)
    steps = DBOS.list_workflow_steps(wfid)
    assert [s["function_name"] for s in steps] == [
        "DBOS.setEvent", "DBOS.recv", "DBOS.sleep", "DBOS.getEvent", "DBOS.sleep", "DBOS.getEvent", "DBOS.sleep"]
    assert [s["function_id"] for s in steps] == [1, 2, 3, 4, 5, 6, 7]
    assert steps[3]["output"] == "v" and steps[5]["output"] is None


def test_a_received_message_is_recorded_with_the_recv_and_its_sleep(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"inbox-{tag}")
    def inbox() -> Any:
        return DBOS.recv("t", timeout_seconds=30)

    wfid = f"inbox-{tag}"
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(inbox)
    DBOS.send(wfid, "hello", "t")
    assert handle.get_result() == "hello"
    steps = DBOS.list_workflow_steps(wfid)
    assert [(s["function_id"], s["function_name"]) for s in steps] == [(1, "DBOS.recv"), (2, "DBOS.sleep")]
    assert steps[0]["output"] == "hello"
    # A fork after the recv replays the message; one from the recv takes a new one.
    assert DBOS.fork_workflow(wfid, 3).get_result() == "hello"


def test_child_results_are_operations_of_the_parent(dbos: type[DBOS]) -> None:
    tag = _tag()
    runs: list[str] = []

    @DBOS.workflow(name=f"child-{tag}")
    def child(x: int) -> int:
        runs.append("child")
        return x * 10

    @DBOS.workflow(name=f"parent-{tag}")
    def parent() -> int:
        direct = child(1)
        handle = DBOS.start_workflow(child, 2)
        handle.get_status()
        return direct + handle.get_result()

    wfid = f"parent-{tag}"
    with SetWorkflowID(wfid):
        assert parent() == 30
    steps = DBOS.list_workflow_steps(wfid)
    assert [s["function_name"] for s in steps] == [
        f"child-{tag}", "DBOS.getResult", f"child-{tag}", "DBOS.getStatus", "DBOS.getResult"]
    assert steps[0]["child_workflow_id"] == steps[1]["child_workflow_id"] == f"{wfid}-1"
    assert steps[1]["output"] == 10 and steps[4]["output"] == 20
    assert steps[4]["child_workflow_id"] == steps[2]["child_workflow_id"]
    # Forked after every read, the parent replays the recorded results: no child runs again.
    before = len(runs)
    assert DBOS.fork_workflow(wfid, 6).get_result() == 30
    assert len(runs) == before


def test_sleep_spans_the_time_slept_and_management_calls_are_recorded(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"sleeper-{tag}")
    def sleeper() -> int:
        DBOS.sleep(0.05)
        return len(DBOS.list_workflows(workflow_id_prefix=f"sleeper-{tag}"))

    wfid = f"sleeper-{tag}"
    with SetWorkflowID(wfid):
        assert sleeper() == 1
    steps = DBOS.list_workflow_steps(wfid)
    assert [s["function_name"] for s in steps] == ["DBOS.sleep", "DBOS.listWorkflows"]
    assert steps[0]["completed_at_epoch_ms"] - steps[0]["started_at_epoch_ms"] == 50
    # A fork replays the recorded listing, even though two workflows now match.
    assert DBOS.fork_workflow(wfid, 3).get_result() == 1


def test_list_workflow_steps_can_leave_outputs_out(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.step(name=f"a-{tag}")
    def a() -> str:
        return "a"

    @DBOS.step(name=f"b-{tag}")
    def b() -> None:
        raise KeyError("b")

    @DBOS.workflow(name=f"outputs-{tag}")
    def wf() -> None:
        a()
        try:
            b()
        except KeyError:
            pass

    wfid = f"outputs-{tag}"
    with SetWorkflowID(wfid):
        wf()
    full = DBOS.list_workflow_steps(wfid)
    assert full[0]["output"] == "a" and isinstance(full[1]["error"], KeyError)
    light = DBOS.list_workflow_steps(wfid, load_output=False)
    assert [(s["function_name"], s["output"], s["error"]) for s in light] == [
        (f"a-{tag}", None, None), (f"b-{tag}", None, None)]


def test_retrieve_workflow_inside_a_workflow_is_a_get_status_operation_as_in_dbos(dbos: type[DBOS]) -> None:
    """In DBOS 3.4 ``retrieve_workflow(id)`` (``existing_workflow=True``, sync or async) called from a workflow
    looks the workflow up as the recorded operation ``DBOS.getStatus``, which takes a step number; Tether read
    it unrecorded, so every later operation had another number than in DBOS (``fork_workflow(start_step=)``,
    a workflow imported from DBOS mid-way). With ``existing_workflow=False`` nothing is recorded."""
    tag = _tag()

    @DBOS.workflow(name=f"target-{tag}")
    def target() -> int:
        return 7

    @DBOS.workflow(name=f"looker-{tag}")
    async def looker(other: str) -> int:
        first = DBOS.retrieve_workflow(other)
        await DBOS.retrieve_workflow_async(other)
        DBOS.retrieve_workflow(other, existing_workflow=False)
        try:
            DBOS.retrieve_workflow(f"missing-{tag}")
        except error.DBOSNonExistentWorkflowError:
            pass
        DBOS.set_event("done", True)
        return first.get_result()  # type: ignore[no-any-return]

    with SetWorkflowID(f"target-{tag}"):
        target()
    with SetWorkflowID(f"looker-{tag}"):
        assert asyncio.run(looker(f"target-{tag}")) == 7
    assert _names(f"looker-{tag}") == ["DBOS.getStatus", "DBOS.getStatus", "DBOS.getStatus", "DBOS.setEvent",
                                       "DBOS.getResult"]
    steps = DBOS.list_workflow_steps(f"looker-{tag}")
    assert steps[0]["output"].workflow_id == f"target-{tag}" and steps[2]["output"] is None


def test_a_retrieve_workflow_recorded_unrecorded_by_an_earlier_tether_replays(dbos: type[DBOS]) -> None:
    """A workflow recorded when Tether did not record ``retrieve_workflow``'s look-up keeps its operations'
    numbers when it runs again: the look-up is then made unrecorded."""
    tag = _tag()
    ran: list[str] = []

    @DBOS.step(name=f"after-{tag}")
    def after() -> str:
        ran.append("ran")
        return "fresh"

    @DBOS.workflow(name=f"early-{tag}")
    def early() -> str | None:
        if (DBOS.workflow_id or "").startswith("source-"):
            return None  # the source records nothing itself: its checkpoint is written below
        DBOS.retrieve_workflow(f"early-{tag}")
        return after()

    with SetWorkflowID(f"early-{tag}"):
        assert early() == "fresh"
    source = f"source-{tag}"
    with SetWorkflowID(source):
        assert early() is None
    rt = DBOS._runtime
    assert rt is not None
    now = rt.clock.now_ms()
    rt.store.record_operation(source, OperationRow(function_id=1, function_name=f"after-{tag}",
                                                   output=serialize("recorded"), started_at=now, completed_at=now))
    assert DBOS.fork_workflow(source, 2).get_result(timeout_seconds=30) == "recorded"
    assert ran == ["ran"]


def test_fork_workflow_inside_a_workflow_records_the_forks_status_as_in_dbos(dbos: type[DBOS]) -> None:
    """DBOS 3.4's ``fork_workflow`` hands the fork back through ``retrieve_workflow``: from a workflow it takes
    two step numbers, ``DBOS.forkWorkflow`` then ``DBOS.getStatus`` (of the fork). Tether recorded only the
    first, so the workflow's later operations had other numbers than in DBOS."""
    tag = _tag()

    @DBOS.workflow(name=f"forked-{tag}")
    def forked() -> int:
        return 3

    @DBOS.workflow(name=f"forker-{tag}")
    async def forker(source: str) -> int:
        handle = DBOS.fork_workflow(source, 1)
        other = await DBOS.fork_workflow_async(source, 1)
        DBOS.set_event("forked", [handle.workflow_id, other.workflow_id])
        return handle.get_result() + await other.get_result()  # type: ignore[no-any-return]

    with SetWorkflowID(f"forked-{tag}"):
        forked()
    with SetWorkflowID(f"forker-{tag}"):
        assert asyncio.run(forker(f"forked-{tag}")) == 6
    assert _names(f"forker-{tag}") == ["DBOS.forkWorkflow", "DBOS.getStatus", "DBOS.forkWorkflow",
                                       "DBOS.getStatus", "DBOS.setEvent", "DBOS.getResult", "DBOS.getResult"]
    steps = DBOS.list_workflow_steps(f"forker-{tag}")
    assert steps[1]["output"].forked_from == f"forked-{tag}"


def test_set_workflow_delay_inside_a_workflow_is_a_recorded_operation_as_in_dbos(dbos: type[DBOS]) -> None:
    """DBOS 3.4 runs ``set_workflow_delay`` (sync and async) called from a workflow as the recorded operation
    ``DBOS.setWorkflowDelay``; Tether ran it unrecorded (so later operations had other numbers, and a
    recovered workflow moved the delay again)."""
    tag = _tag()
    queue = DBOS.register_queue(f"later-{tag}")

    @DBOS.workflow(name=f"delayed-{tag}")
    def delayed() -> int:
        return 1

    @DBOS.workflow(name=f"mover-{tag}")
    async def mover(target: str) -> None:
        DBOS.set_workflow_delay(target, delay_seconds=3600)
        await DBOS.set_workflow_delay_async(target, delay_seconds=0)
        DBOS.set_event("moved", True)

    with SetEnqueueOptions(delay_seconds=3600):
        handle = queue.enqueue(delayed)
    with SetWorkflowID(f"mover-{tag}"):
        asyncio.run(mover(handle.workflow_id))
    assert handle.get_result(timeout_seconds=30) == 1
    assert _names(f"mover-{tag}") == ["DBOS.setWorkflowDelay", "DBOS.setWorkflowDelay", "DBOS.setEvent"]
