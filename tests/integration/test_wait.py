"""wait_first and the durable asyncio_wait, on both backends; replay is driven by fork_workflow, which runs a
workflow again over the checkpoints it reuses (what recovery does after a crash)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest

from tether import DBOS, SetWorkflowID, WorkflowHandle

WAIT = 15


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_wait_first_returns_the_first_to_end(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"waiter-{tag}")
    def waiter(x: int) -> int:
        got = DBOS.recv("go", timeout_seconds=WAIT)
        return x if got is None else int(got)

    handles = [DBOS.start_workflow(waiter, i) for i in range(3)]
    DBOS.send(handles[1].workflow_id, 41, "go")
    first = DBOS.wait_first(handles, polling_interval_sec=WAIT)  # a wake-up, not the poll, must end the wait
    assert first is handles[1]
    assert first.get_result(timeout_seconds=WAIT) == 41
    for h in (handles[0], handles[2]):
        DBOS.send(h.workflow_id, 7, "go")
    assert DBOS.wait_first([handles[0]], polling_interval_sec=WAIT).get_result() == 7
    with pytest.raises(ValueError):
        DBOS.wait_first([])


def test_wait_first_async(dbos: type[DBOS]) -> None:
    tag = _tag()

    @DBOS.workflow(name=f"async-waiter-{tag}")
    async def waiter(x: int) -> int:
        got = await DBOS.recv_async("go", timeout_seconds=WAIT)
        return x if got is None else int(got)

    async def main() -> tuple[bool, Any]:
        handles = [await DBOS.start_workflow_async(waiter, i) for i in range(3)]
        await DBOS.send_async(handles[2].workflow_id, 99, "go")
        first = await DBOS.wait_first_async(handles, polling_interval_sec=WAIT)
        for h in handles[:2]:
            await DBOS.send_async(h.workflow_id, 0, "go")
        with pytest.raises(ValueError):
            await DBOS.wait_first_async([])
        return first is handles[2], await first.get_result()

    assert asyncio.run(main()) == (True, 99)


def test_wait_first_in_a_workflow_is_recorded(dbos: type[DBOS]) -> None:
    tag = _tag()
    gate = threading.Event()

    @DBOS.workflow(name=f"child-{tag}")
    def child(i: int) -> int:
        if i == 0:
            assert gate.wait(WAIT)
        return i

    @DBOS.workflow(name=f"parent-{tag}")
    def parent() -> int:
        handles = [DBOS.start_workflow(child, i) for i in range(2)]
        first: WorkflowHandle[int] = DBOS.wait_first(handles)
        gate.set()
        return first.get_result()

    with SetWorkflowID(f"parent-{tag}"):
        assert parent() == 1
    steps = DBOS.list_workflow_steps(f"parent-{tag}")
    assert [s["function_name"] for s in steps[:3]] == [f"child-{tag}", f"child-{tag}", "DBOS.waitFirst"]
    assert steps[2]["output"] == f"parent-{tag}-2"
    # Replayed over its checkpoints, the parent picks the same child, though both have ended by now.
    fork = DBOS.fork_workflow(f"parent-{tag}", 4)
    assert fork.get_result(timeout_seconds=WAIT) == 1


def test_asyncio_wait_checkpoints_the_split(dbos: type[DBOS]) -> None:
    tag = _tag()
    ran: list[str] = []

    @DBOS.step(name=f"fast-{tag}")
    async def fast() -> str:
        ran.append("fast")
        return "fast"

    @DBOS.step(name=f"slow-{tag}")
    async def slow() -> str:
        ran.append("slow")
        await asyncio.sleep(0.3)  # the workload: slower than ``fast``
        return "slow"

    @DBOS.workflow(name=f"split-{tag}")
    async def wf() -> list[str]:
        tasks = [asyncio.ensure_future(fast()), asyncio.ensure_future(slow())]
        done, pending = await DBOS.asyncio_wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        names = sorted(t.result() for t in done)
        await asyncio.gather(*pending)
        return [*names, f"pending={len(pending)}"]

    async def main() -> tuple[list[str], list[str]]:
        with SetWorkflowID(f"split-{tag}"):
            first = await wf()
        fork = await DBOS.fork_workflow_async(f"split-{tag}", 4)  # replays all three operations
        return first, await fork.get_result(timeout_seconds=WAIT)

    first, replayed = asyncio.run(main())
    assert first == ["fast", "pending=1"]
    # Both steps replay instantly from checkpoints, yet the recorded split holds.
    assert replayed == ["fast", "pending=1"]
    assert sorted(ran) == ["fast", "slow"]
    names = [s["function_name"] for s in DBOS.list_workflow_steps(f"split-{tag}")]
    assert names[0] == "DBOS.asyncio_wait" and sorted(names[1:]) == sorted([f"fast-{tag}", f"slow-{tag}"])


def test_asyncio_wait_outside_a_workflow_is_plain(dbos: type[DBOS]) -> None:
    async def value(v: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return v

    async def main() -> tuple[int, int, int]:
        done, pending = await DBOS.asyncio_wait([value(1, 0), value(2, 5)], timeout=0.1)
        for t in pending:
            t.cancel()
        all_done, none = await DBOS.asyncio_wait([value(3, 0), value(4, 0)])
        with pytest.raises(ValueError):
            await DBOS.asyncio_wait([])
        coro = value(5, 0)
        with pytest.raises(ValueError):
            await DBOS.asyncio_wait([coro], return_when="SOMETIMES")
        coro.close()
        return len(done), len(pending), sum(t.result() for t in all_done) + len(none)

    assert asyncio.run(main()) == (1, 1, 7)
