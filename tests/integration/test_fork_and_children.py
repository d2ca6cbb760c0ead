"""Forks, children and deletion on both backends: a fork restores the events of its start point, can swap the
children it replays for others, can go to a queue; cancelling and deleting can take the children along."""

from __future__ import annotations

import threading
import uuid

from tether import DBOS, Queue, SetWorkflowID

WAIT = 30


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_a_fork_starts_with_the_events_of_its_start_step(dbos: type[DBOS]) -> None:
    tag = _tag()
    gate = threading.Event()
    gate.set()

    @DBOS.step(name=f"set-in-step-{tag}")
    def set_in_step() -> None:
        DBOS.set_event("k", 2)

    @DBOS.workflow(name=f"events-{tag}")
    def wf() -> str:
        assert gate.wait(WAIT)
        DBOS.set_event("k", 0)
        DBOS.set_event("k", 1)
        set_in_step()
        return "ok"

    wfid = f"events-{tag}"
    with SetWorkflowID(wfid):
        assert wf() == "ok"
    gate.clear()  # the forks stop before their first operation, so only the restored events are visible
    forks = [DBOS.fork_workflow(wfid, step) for step in (1, 2, 3, 4)]
    try:
        assert [DBOS.get_event(f.workflow_id, "k", timeout_seconds=0) for f in forks] == [None, 0, 1, 2]
    finally:
        gate.set()
    assert all(f.get_result(timeout_seconds=WAIT) == "ok" for f in forks)
    original = DBOS.get_workflow_status(wfid)
    assert original is not None and original.was_forked_from
    assert {w.workflow_id for w in DBOS.list_workflows(forked_from=wfid)} == {f.workflow_id for f in forks}
    assert wfid in {w.workflow_id for w in DBOS.list_workflows(was_forked_from=True, workflow_id_prefix=wfid)}
    assert {w.workflow_id for w in DBOS.list_workflows(is_fork=True, workflow_ids=[wfid, forks[0].workflow_id])
            } == {forks[0].workflow_id}


def test_replacement_children_and_a_fork_onto_a_queue(dbos: type[DBOS]) -> None:
    tag = _tag()
    factor = [2]

    @DBOS.workflow(name=f"child-{tag}")
    def child(x: int) -> int:
        return x * factor[0]

    @DBOS.workflow(name=f"parent-{tag}")
    def parent() -> int:
        handles = [DBOS.start_workflow(child, x) for x in (1, 2)]
        return sum(h.get_result() for h in handles)

    wfid = f"parent-{tag}"
    with SetWorkflowID(wfid):
        assert parent() == 6
    factor[0] = 10
    new_first = DBOS.fork_workflow(f"{wfid}-1", 1)
    assert new_first.get_result(timeout_seconds=WAIT) == 10
    # Replayed starts (steps 1-2) use the replacement; the result reads run again.
    fork = DBOS.fork_workflow(wfid, 3, replacement_children={f"{wfid}-1": new_first.workflow_id})
    assert fork.get_result(timeout_seconds=WAIT) == 10 + 4
    q = Queue(f"forkq-{tag}")
    queued = DBOS.fork_workflow(wfid, 3, queue_name=q.name)
    assert queued.get_result(timeout_seconds=WAIT) == 6
    assert queued.get_status().queue_name == q.name
    parted = DBOS.register_queue(f"forkp-{tag}", partition_concurrency=1)
    in_partition = DBOS.fork_workflow(wfid, 3, queue_name=parted.name, queue_partition_key="p1")
    assert in_partition.get_result(timeout_seconds=WAIT) == 6
    assert in_partition.get_status().queue_partition_key == "p1"


def test_cancel_and_delete_with_children(dbos: type[DBOS]) -> None:
    tag = _tag()
    gate = threading.Event()

    @DBOS.workflow(name=f"grandchild-{tag}")
    def grandchild() -> None:
        while not gate.is_set():
            DBOS.sleep(0.05)

    @DBOS.workflow(name=f"child-{tag}")
    def child() -> None:
        DBOS.start_workflow(grandchild)
        DBOS.set_event("started", True)  # the grandchild's start is checkpointed here, not only its row written
        while not gate.is_set():
            DBOS.sleep(0.05)

    @DBOS.workflow(name=f"parent-{tag}")
    def parent() -> None:
        DBOS.start_workflow(child)
        DBOS.send(DBOS.workflow_id or "", "self-note")
        while not gate.is_set():
            DBOS.sleep(0.05)

    ids = [f"p-{tag}", f"p-{tag}-1", f"p-{tag}-1-1"]
    try:
        with SetWorkflowID(ids[0]):
            DBOS.start_workflow(parent)
        for wfid in ids:
            DBOS.retrieve_workflow(wfid, existing_workflow=False)
        assert DBOS.get_event(ids[1], "started", timeout_seconds=WAIT) is True
        DBOS.cancel_workflow(ids[0], cancel_children=True)
        statuses = {w.workflow_id: w.status for w in DBOS.list_workflows(workflow_ids=ids)}
        assert statuses == dict.fromkeys(ids, "CANCELLED")
    finally:
        gate.set()
    DBOS.delete_workflow(ids[0])  # without its children: they stay
    assert [w.workflow_id for w in DBOS.list_workflows(workflow_ids=ids)] == ids[1:]
    assert DBOS.get_workflow_status(ids[0]) is None and DBOS.list_workflow_steps(ids[1]) != []
    DBOS.delete_workflows([ids[1]], delete_children=True)
    assert DBOS.list_workflows(workflow_ids=ids) == []


def test_forks_are_listed_in_the_order_they_were_made(dbos: type[DBOS]) -> None:
    """Forks made one after another (often in the same millisecond) list in that order: the IDs Tether makes
    sort by creation, breaking ties in the creation time."""

    @DBOS.workflow(name=f"fork-order-{uuid.uuid4().hex[:8]}")
    def quick(x: int) -> int:
        return x

    original = DBOS.start_workflow(quick, 1)
    original.get_result()
    forks = [DBOS.fork_workflow(original.workflow_id, 1).workflow_id for _ in range(12)]
    listed = [s.workflow_id for s in DBOS.list_workflows(forked_from=original.workflow_id)]
    assert listed == forks
    assert [s.workflow_id for s in DBOS.list_workflows(forked_from=original.workflow_id, sort_desc=True)] == \
        forks[::-1]


def test_a_fork_counts_its_execution_in_recovery_attempts_as_in_dbos(dbos: type[DBOS]) -> None:
    """DBOS 3.4 counts every execution in ``recovery_attempts``, a fork's first one included: a finished fork
    shows 1, as the workflow it was forked from does. Tether left a fork run in this process at 0 (one run from
    a queue was counted at its dequeue)."""
    tag = _tag()

    @DBOS.workflow(name=f"counted-{tag}")
    def counted(x: int) -> int:
        return x * 2

    with SetWorkflowID(f"counted-{tag}"):
        assert counted(4) == 8
    q = Queue(f"counted-q-{tag}")
    here = DBOS.fork_workflow(f"counted-{tag}", 1)
    queued = DBOS.fork_workflow(f"counted-{tag}", 1, queue_name=q.name)
    for fork in (here, queued):
        assert fork.get_result(timeout_seconds=WAIT) == 8
        assert fork.get_status().recovery_attempts == 1
    assert DBOS.get_workflow_status(f"counted-{tag}").recovery_attempts == 1  # type: ignore[union-attr]
