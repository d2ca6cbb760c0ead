"""Workflow attributes on both backends: set at start, enqueue, fork and from a client; replaced or merged later
(once, when done from a workflow); shown on the status; searchable by containment on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from tether import DBOS, DBOSClient, Queue, SetWorkflowAttributes, SetWorkflowID, TetherError


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _attrs(wfid: str) -> object:
    status = DBOS.get_workflow_status(wfid)
    assert status is not None
    return status.attributes


def test_attributes_follow_starts_enqueues_and_forks_but_not_children(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"child-{tag}")
    def child() -> str:
        assert DBOS.workflow_id is not None
        return DBOS.workflow_id

    @DBOS.workflow(name=f"parent-{tag}")
    def parent() -> str:
        return child()

    q = Queue(f"attrs-{tag}")
    with SetWorkflowAttributes({"customer": "acme", "tier": 3}):
        with SetWorkflowID(f"p-{tag}"):
            child_id = parent()
        with SetWorkflowAttributes({"customer": "inner"}):
            inner = DBOS.start_workflow(child)
        queued = q.enqueue(child)
        with SetWorkflowAttributes(None):
            plain = DBOS.start_workflow(child)
    for h in (inner, queued, plain):
        h.get_result()
    assert _attrs(f"p-{tag}") == {"customer": "acme", "tier": 3}
    assert _attrs(child_id) is None  # children do not inherit their parent's block
    assert _attrs(inner.workflow_id) == {"customer": "inner"}
    assert _attrs(queued.workflow_id) == {"customer": "acme", "tier": 3}
    assert _attrs(plain.workflow_id) is None
    fork = DBOS.fork_workflow(f"p-{tag}", 1)
    fork.get_result()
    assert fork.get_status().attributes == {"customer": "acme", "tier": 3}


def test_update_replaces_merges_and_clears(dbos: type[DBOS], db_url: str) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"noop-{tag}")
    def noop() -> None:
        pass

    wfid = f"upd-{tag}"
    with SetWorkflowAttributes({"a": 1, "b": {"x": 1}}), SetWorkflowID(wfid):
        noop()
    DBOS.update_workflow_attributes(wfid, {"b": {"y": 2}, "c": None}, merge=True)
    assert _attrs(wfid) == {"a": 1, "b": {"y": 2}, "c": None}  # top-level keys replaced, others kept
    DBOS.update_workflow_attributes(wfid, {"only": True})
    assert _attrs(wfid) == {"only": True}
    DBOS.update_workflow_attributes(wfid, None)
    assert _attrs(wfid) is None
    with DBOSClient(db_url) as client:
        client.update_workflow_attributes(wfid, {"from": "client"})
    assert _attrs(wfid) == {"from": "client"}


def test_bad_attributes_are_refused_before_anything_is_written(dbos: type[DBOS]) -> None:
    with pytest.raises(TetherError, match="must be a dict"):
        SetWorkflowAttributes(["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TetherError, match="must be JSON-serializable"):
        SetWorkflowAttributes({"obj": object()})
    tag = _tag()

    @DBOS.workflow(name=f"noop-{tag}")
    def noop() -> None:
        pass

    with SetWorkflowAttributes({"keep": "me"}), SetWorkflowID(f"bad-{tag}"):
        noop()
    with pytest.raises(TetherError, match="must be JSON-serializable"):
        DBOS.update_workflow_attributes(f"bad-{tag}", {"obj": object()})
    with pytest.raises(TetherError, match="requires a dict"):
        DBOS.update_workflow_attributes(f"bad-{tag}", None, merge=True)
    assert _attrs(f"bad-{tag}") == {"keep": "me"}


def test_an_update_from_a_workflow_is_recorded_and_done_once(dbos: type[DBOS]) -> None:
    tag = _tag()
    target = f"target-{tag}"

    @DBOS.workflow(name=f"noop-{tag}")
    def noop() -> None:
        pass

    @DBOS.workflow(name=f"manager-{tag}")
    def manager(value: str) -> None:
        DBOS.update_workflow_attributes(target, {"phase": value})

    with SetWorkflowID(target):
        noop()
    with SetWorkflowID(f"manager-{tag}"):
        manager("managed")
    assert [s["function_name"] for s in DBOS.list_workflow_steps(f"manager-{tag}")] == [
        "DBOS.updateWorkflowAttributes"]
    DBOS.update_workflow_attributes(target, {"phase": "changed since"})
    # A fork that replays the recorded update does not apply it again.
    DBOS.fork_workflow(f"manager-{tag}", 2).get_result()
    assert _attrs(target) == {"phase": "changed since"}


def test_listing_by_attributes(dbos: type[DBOS], backend: str) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"noop-{tag}")
    def noop() -> None:
        pass

    with SetWorkflowAttributes({"run": tag, "tier": 1, "beta": True, "note": None}):
        h1 = DBOS.start_workflow(noop)
    with SetWorkflowAttributes({"run": tag, "tier": 2, "meta": {"region": "eu", "zone": "a"}}):
        h2 = DBOS.start_workflow(noop)
    h1.get_result()
    h2.get_result()

    def ids(**filters: object) -> set[str]:
        return {s.workflow_id for s in DBOS.list_workflows(**filters)}  # type: ignore[arg-type]

    assert ids(attributes={"run": tag}) == {h1.workflow_id, h2.workflow_id}
    assert ids(attributes={"run": tag, "tier": 2}) == {h2.workflow_id}
    assert ids(attributes={"run": tag, "beta": True}) == {h1.workflow_id}
    assert ids(attributes={"run": tag, "note": None}) == {h1.workflow_id}
    assert ids(attributes={"run": tag, "meta": {"region": "eu"}}) == {h2.workflow_id}  # containment
    assert ids(attributes={"run": tag}, workflow_ids=[h1.workflow_id]) == {h1.workflow_id}
    assert ids(attributes={"run": tag, "missing": 1}) == set()
    assert ids(attributes={"run": tag, "tier": 1.0}) == {h1.workflow_id}  # numbers compare by value
    assert ids(attributes={"run": tag, "beta": 1}) == set()  # true is not 1
    assert ids(attributes={"run": tag, "meta": {"region": "eu", "zone": "b"}}) == set()
