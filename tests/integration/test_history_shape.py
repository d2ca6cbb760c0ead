"""The step history has DBOS's shape on both backends: the same operations are recorded under the same names and
numbers, so ``list_workflow_steps`` and ``fork_workflow(start_step=)`` mean the same thing on both systems."""

from __future__ import annotations

import uuid
from typing import Any

from tether import DBOS, SetWorkflowID


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
