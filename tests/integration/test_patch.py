"""Patching on both backends: three versions of one workflow (original, patched, patch deprecated), with history
recorded by each replayed by the next through fork_workflow (the replay recovery does). Side effects are
counted in this process."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tether import DBOS, NotInWorkflowError, SetWorkflowID

WAIT = 15


def test_patch_and_deprecate_patch(dbos: type[DBOS]) -> None:
    tag = uuid.uuid4().hex[:8]
    name = f"patched-{tag}"
    ran: list[str] = []

    @DBOS.step(name=f"a-{tag}")
    def step_a() -> str:
        ran.append("a")
        return "a"

    @DBOS.step(name=f"old-{tag}")
    def step_old() -> str:
        ran.append("old")
        return "old"

    @DBOS.step(name=f"new-{tag}")
    def step_new() -> str:
        ran.append("new")
        return "new"

    # Version 1: a, old.
    @DBOS.workflow(name=name)
    def v1() -> str:
        return step_a() + step_old()

    with SetWorkflowID(f"v1-{tag}"):
        assert v1() == "aold"
    assert ran == ["a", "old"]

    # Version 2 replaces ``old`` by ``new`` behind a patch (same workflow name, so it replaces v1).
    @DBOS.workflow(name=name)
    def v2() -> str:
        first = step_a()
        if DBOS.patch("use-new"):
            return first + step_new()
        return first + step_old()

    ran.clear()
    # Replaying v1's history: a checkpoint other than the marker is there, so the old path, replayed.
    assert DBOS.fork_workflow(f"v1-{tag}", 3).get_result(timeout_seconds=WAIT) == "aold"
    assert ran == []
    # Replaying only v1's first step: history ends before the patch, so the marker goes in: new path.
    assert DBOS.fork_workflow(f"v1-{tag}", 2).get_result(timeout_seconds=WAIT) == "anew"
    assert ran == ["new"]
    ran.clear()
    with SetWorkflowID(f"v2-{tag}"):
        assert v2() == "anew"
    assert ran == ["a", "new"]
    assert [s["function_name"] for s in DBOS.list_workflow_steps(f"v2-{tag}")] == [
        f"a-{tag}", "DBOS.patch-use-new", f"new-{tag}"]
    ran.clear()
    assert DBOS.fork_workflow(f"v2-{tag}", 4).get_result(timeout_seconds=WAIT) == "anew"  # marker found
    assert ran == []

    # Version 3: every old execution is gone; the patch is deprecated.
    @DBOS.workflow(name=name)
    def v3() -> str:
        first = step_a()
        assert DBOS.deprecate_patch("use-new")
        return first + step_new()

    ran.clear()
    # History written by v2 (with the marker) replays: the marker is stepped over, ``new`` is replayed.
    assert DBOS.fork_workflow(f"v2-{tag}", 4).get_result(timeout_seconds=WAIT) == "anew"
    assert ran == []
    with SetWorkflowID(f"v3-{tag}"):
        assert v3() == "anew"
    assert ran == ["a", "new"]
    assert [s["function_name"] for s in DBOS.list_workflow_steps(f"v3-{tag}")] == [f"a-{tag}", f"new-{tag}"]


def test_patch_async_forms(dbos: type[DBOS]) -> None:
    tag = uuid.uuid4().hex[:8]

    @DBOS.workflow(name=f"apatch-{tag}")
    async def wf() -> tuple[bool, bool, bool]:
        first = await DBOS.patch_async("p1")
        again = await DBOS.patch_async("p2")
        gone = await DBOS.deprecate_patch_async("p3")
        return first, again, gone

    async def main() -> tuple[bool, bool, bool]:
        with SetWorkflowID(f"apatch-{tag}"):
            return await wf()

    assert asyncio.run(main()) == (True, True, True)
    assert [s["function_name"] for s in DBOS.list_workflow_steps(f"apatch-{tag}")] == [
        "DBOS.patch-p1", "DBOS.patch-p2"]


def test_patch_outside_a_workflow_fails(dbos: type[DBOS]) -> None:
    with pytest.raises(NotInWorkflowError):
        DBOS.patch("x")
    with pytest.raises(NotInWorkflowError):
        DBOS.deprecate_patch("x")
