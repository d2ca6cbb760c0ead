"""Bulk and history operations on both backends: many messages in one transaction (and to forks), rewinding
an ended workflow under its own ID, reading one stream offset, reserving a step number, and waiting for the
result of a workflow that does not exist yet."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from tether import DBOS, DBOSClient, NonExistentWorkflowError, SetWorkflowID, TetherError
from tether.errors import DBOSStreamTimeoutError

WAIT = 30


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_send_bulk_is_all_or_nothing_and_reaches_forks(dbos: type[DBOS], db_url: str) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"inbox-{tag}")
    def inbox(n: int) -> list[Any]:
        return [DBOS.recv("t", timeout_seconds=WAIT) for _ in range(n)]

    a, b = f"a-{tag}", f"b-{tag}"
    with SetWorkflowID(a):
        ha = DBOS.start_workflow(inbox, 2)
    with SetWorkflowID(b):
        hb = DBOS.start_workflow(inbox, 1)
    with pytest.raises(NonExistentWorkflowError):
        DBOS.send_bulk([{"destination_id": a, "message": "lost", "topic": "t"},
                        {"destination_id": f"nobody-{tag}", "message": "x", "topic": "t"}])
    DBOS.send_bulk([{"destination_id": a, "message": 1, "topic": "t"},
                    {"destination_id": b, "message": 2, "topic": "t", "idempotency_key": "k"},
                    {"destination_id": b, "message": 3, "topic": "t", "idempotency_key": "k"}])
    with DBOSClient(db_url) as client:
        client.send_bulk([{"destination_id": a, "message": 4, "topic": "t"}])
    assert ha.get_result(timeout_seconds=WAIT) == [1, 4]  # "lost" was never delivered
    assert hb.get_result(timeout_seconds=WAIT) == [2]     # the repeated idempotency key was skipped

    # A message sent to forks also reaches every workflow forked (directly or not) from its destination.
    gate = threading.Event()

    @DBOS.workflow(name=f"forked-inbox-{tag}")
    def forked_inbox() -> Any:
        gate.wait(WAIT)
        return DBOS.recv("t", timeout_seconds=WAIT)

    origin = f"o-{tag}"
    with SetWorkflowID(origin):
        first = DBOS.start_workflow(forked_inbox)
    gate.set()
    DBOS.send(origin, "first", "t")
    assert first.get_result(timeout_seconds=WAIT) == "first"
    gate.clear()
    fork = DBOS.fork_workflow(origin, 1)
    fork_of_fork = DBOS.fork_workflow(fork.workflow_id, 1)
    DBOS.send(origin, "everyone", "t", send_to_forks=True)
    gate.set()
    assert fork.get_result(timeout_seconds=WAIT) == "everyone"
    assert fork_of_fork.get_result(timeout_seconds=WAIT) == "everyone"


def test_send_bulk_from_a_workflow_is_one_operation(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"sink-{tag}")
    def sink() -> Any:
        return DBOS.recv("t", timeout_seconds=WAIT), DBOS.recv("t", timeout_seconds=0.1)

    @DBOS.workflow(name=f"sender-{tag}")
    def sender(dest: str) -> None:
        DBOS.send_bulk([{"destination_id": dest, "message": "hi", "topic": "t"}])

    with SetWorkflowID(f"sink-{tag}"):
        h = DBOS.start_workflow(sink)
    with SetWorkflowID(f"sender-{tag}"):
        sender(f"sink-{tag}")
    assert [s["function_name"] for s in DBOS.list_workflow_steps(f"sender-{tag}")] == ["DBOS.send_bulk"]
    DBOS.fork_workflow(f"sender-{tag}", 2).get_result()  # replays the recorded send: nothing sent again
    assert h.get_result(timeout_seconds=WAIT) == ("hi", None)


def test_rewind_reruns_from_a_step_under_the_same_id(dbos: type[DBOS]) -> None:
    tag = _tag()
    runs: list[str] = []

    @DBOS.step(name=f"one-{tag}")
    def one() -> str:
        runs.append("one")
        return "1"

    @DBOS.step(name=f"two-{tag}")
    def two() -> str:
        runs.append("two")
        return f"2.{len(runs)}"

    @DBOS.workflow(name=f"rewound-{tag}")
    def wf() -> str:
        a = one()
        DBOS.set_event("progress", "after one")
        b = two()
        DBOS.set_event("progress", "after two")
        return a + b

    wfid = f"rewound-{tag}"
    with SetWorkflowID(wfid):
        assert wf() == "12.2"
    handle = DBOS.rewind_workflow(wfid, start_step=3)
    assert handle.workflow_id == wfid
    assert handle.get_result(timeout_seconds=WAIT) == "12.3"  # step two ran again, step one did not
    assert runs == ["one", "two", "two"]
    assert DBOS.get_event(wfid, "progress", timeout_seconds=0) == "after two"
    # the version set from the rewound step on was dropped, and the run after the rewind set it again
    assert [(c.version, c.value) for c in DBOS.watch_event(wfid, "progress")] == [(1, "after one"),
                                                                                  (2, "after two")]
    assert DBOS.get_workflow_status(wfid).status == "SUCCESS"  # type: ignore[union-attr]
    with pytest.raises(NonExistentWorkflowError):
        DBOS.rewind_workflow(f"nobody-{tag}")
    gate = threading.Event()

    @DBOS.workflow(name=f"blocked-{tag}")
    def blocked() -> None:
        gate.wait(WAIT)

    with SetWorkflowID(f"blocked-{tag}"):
        h = DBOS.start_workflow(blocked)
    try:
        with pytest.raises(TetherError, match="only a workflow in a terminal state"):
            DBOS.rewind_workflow(f"blocked-{tag}")
    finally:
        gate.set()
    h.get_result(timeout_seconds=WAIT)


def test_read_stream_offset_waits_for_the_value(dbos: type[DBOS]) -> None:
    tag = _tag()
    gate = threading.Event()

    @DBOS.workflow(name=f"writer-{tag}")
    def writer() -> None:
        DBOS.write_stream("s", "a")
        gate.wait(WAIT)
        DBOS.write_stream("s", "b")

    with SetWorkflowID(f"writer-{tag}"):
        h = DBOS.start_workflow(writer)
    assert DBOS.read_stream_offset(f"writer-{tag}", "s", 0) == "a"
    with pytest.raises(DBOSStreamTimeoutError):
        DBOS.read_stream_offset(f"writer-{tag}", "s", 1, timeout_seconds=0.1)
    gate.set()
    assert DBOS.read_stream_offset(f"writer-{tag}", "s", 1) == "b"
    h.get_result(timeout_seconds=WAIT)
    with pytest.raises(DBOSStreamTimeoutError):  # the workflow ended: offset 2 will never be written
        DBOS.read_stream_offset(f"writer-{tag}", "s", 2)


def test_reserved_steps_keep_their_numbers(dbos: type[DBOS]) -> None:
    tag = _tag()

    def label(x: str) -> str:
        return x

    @DBOS.workflow(name=f"reserving-{tag}")
    def wf() -> list[str]:
        first = DBOS.reserve_step()
        second = DBOS.reserve_step()
        out = [second.run({"name": "second"}, label, "b"), first.run({"name": "first"}, label, "a")]
        with pytest.raises(TetherError, match="only be run once"):
            first.run(None, label, "again")
        return out

    with SetWorkflowID(f"reserving-{tag}"):
        assert wf() == ["b", "a"]
    steps = DBOS.list_workflow_steps(f"reserving-{tag}")
    assert [(s["function_id"], s["function_name"]) for s in steps] == [(1, "first"), (2, "second")]


def test_get_result_waits_for_a_workflow_that_does_not_exist_yet(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"late-{tag}")
    def late() -> str:
        return "here"

    wfid = f"late-{tag}"
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(DBOS.get_result(wfid)))
    waiter.start()
    with SetWorkflowID(wfid):
        late()
    waiter.join(WAIT)
    assert got == ["here"]
