"""Durable execution: workflows, steps, handles, idempotent starts, child workflows (both backends)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest

from tether import (
    DBOS,
    ConflictingWorkflowError,
    DBOSConfiguredInstance,
    MaxStepRetriesExceeded,
    SetWorkflowID,
    WorkflowNotFoundError,
    WorkflowSerializationFormat,
    WorkflowStatusString,
)


def test_sync_workflow_runs_steps_and_records_status(dbos: type[DBOS]) -> None:
    calls: list[str] = []

    @DBOS.step()
    def greet(name: str) -> str:
        calls.append(name)
        assert DBOS.step_id == 1
        return f"hello {name}"

    @DBOS.workflow()
    def hello(name: str) -> dict[str, Any]:
        wfid = DBOS.workflow_id
        return {"greeting": greet(name), "id": wfid}

    wfid = f"wf-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        out = hello("ada")
    assert out == {"greeting": "hello ada", "id": wfid}
    assert calls == ["ada"]
    status = DBOS.get_workflow_status(wfid)
    assert status is not None
    assert status.status == WorkflowStatusString.SUCCESS.value
    assert status.name == hello.__qualname__
    assert status.output == out
    assert status.args == ("ada",)
    assert status.executor_id is not None and status.executor_id.startswith("test-")
    assert status.app_version == "test"
    assert status.created_at is not None and status.updated_at is not None
    assert status.recovery_attempts == 1  # executions are counted, the first one included (as in DBOS)
    assert DBOS.workflow_id is None and DBOS.step_id is None


def test_async_workflow_and_start_workflow_async(dbos: type[DBOS]) -> None:
    @DBOS.step()
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    @DBOS.workflow()
    async def summer(n: int) -> int:
        total = 0
        for i in range(n):
            total = await add(total, i)
        return total

    async def main() -> tuple[int, int, str]:
        direct = await summer(5)
        handle = await DBOS.start_workflow_async(summer, 10)
        status = await handle.get_status()
        return direct, await handle.get_result(), status.status

    direct, via_handle, status = asyncio.run(main())
    assert (direct, via_handle) == (10, 45)
    assert status in ("PENDING", "SUCCESS")


def test_start_workflow_returns_handle_and_result(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def slow_square(x: int) -> int:
        DBOS.sleep(0.05)
        return x * x

    handle = DBOS.start_workflow(slow_square, 7)
    assert handle.get_result() == 49
    assert DBOS.get_result(handle.workflow_id) == 49
    assert handle.get_status().status == "SUCCESS"
    assert DBOS.retrieve_workflow(handle.workflow_id).get_result() == 49


def test_workflow_error_is_recorded_and_reraised(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def broken() -> None:
        raise KeyError("missing")

    handle = DBOS.start_workflow(broken)
    with pytest.raises(KeyError):
        handle.get_result()
    status = handle.get_status()
    assert status.status == "ERROR"
    assert isinstance(status.error, KeyError)


def test_set_workflow_id_makes_start_idempotent(dbos: type[DBOS]) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    def once(x: int) -> int:
        runs.append(x)
        return x + 1

    wfid = f"idem-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        assert once(1) == 2
    with SetWorkflowID(wfid):
        assert once(1) == 2
    with SetWorkflowID(wfid):
        assert DBOS.start_workflow(once, 1).get_result() == 2
    assert runs == [1]


def test_twenty_threads_starting_one_id_run_it_once(dbos: type[DBOS]) -> None:
    runs: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(20)

    @DBOS.workflow()
    def counted() -> str:
        with lock:
            runs.append(1)
        DBOS.sleep(0.1)
        return "done"

    wfid = f"race-{uuid.uuid4()}"
    results: list[str] = []

    def start() -> None:
        gate.wait()
        with SetWorkflowID(wfid):
            handle = DBOS.start_workflow(counted)
        results.append(handle.get_result())

    threads = [threading.Thread(target=start) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["done"] * 20
    assert len(runs) == 1


def test_twenty_tasks_starting_one_id_run_it_once(dbos: type[DBOS]) -> None:
    runs: list[int] = []

    @DBOS.workflow()
    async def counted_async() -> str:
        runs.append(1)
        await DBOS.sleep_async(0.1)
        return "done"

    wfid = f"arace-{uuid.uuid4()}"

    async def start() -> str:
        with SetWorkflowID(wfid):
            handle = await DBOS.start_workflow_async(counted_async)
        return await handle.get_result()

    async def main() -> list[str]:
        return await asyncio.gather(*(start() for _ in range(20)))

    assert asyncio.run(main()) == ["done"] * 20
    assert len(runs) == 1


def test_same_id_for_another_workflow_conflicts(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def first() -> int:
        return 1

    @DBOS.workflow()
    def second() -> int:
        return 2

    wfid = f"conflict-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        first()
    with pytest.raises(ConflictingWorkflowError), SetWorkflowID(wfid):
        second()


def test_step_retries_with_backoff_then_succeeds(dbos: type[DBOS]) -> None:
    attempts: list[int] = []

    @DBOS.step(retries_allowed=True, interval_seconds=0.01, max_attempts=4, backoff_rate=2.0)
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    @DBOS.workflow()
    def uses_flaky() -> str:
        return flaky()

    assert uses_flaky() == "ok"
    assert len(attempts) == 3


def test_step_retries_exhausted_carries_last_error(dbos: type[DBOS]) -> None:
    attempts: list[int] = []

    @DBOS.step(retries_allowed=True, interval_seconds=0.01, max_attempts=3)
    def always_fails() -> None:
        attempts.append(1)
        raise ValueError(f"attempt {len(attempts)}")

    @DBOS.workflow()
    def uses_failing() -> None:
        always_fails()

    with pytest.raises(MaxStepRetriesExceeded) as info:
        uses_failing()
    assert len(attempts) == 3
    assert isinstance(info.value.last_error, ValueError)
    assert str(info.value.last_error) == "attempt 3"


def test_step_without_retries_raises_original_error_once(dbos: type[DBOS]) -> None:
    attempts: list[int] = []

    @DBOS.step()
    def fails() -> None:
        attempts.append(1)
        raise RuntimeError("boom")

    @DBOS.workflow()
    def wf() -> str:
        try:
            fails()
        except RuntimeError as exc:
            return f"caught {exc}"
        return "no error"

    assert wf() == "caught boom"
    assert attempts == [1]


def test_run_step_and_run_step_async(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def wf() -> int:
        return DBOS.run_step({"name": "lambda_step"}, lambda a, b: a * b, 6, 7)

    @DBOS.workflow()
    async def awf() -> int:
        async def twice(x: int) -> int:
            return 2 * x

        return await DBOS.run_step_async({"retries_allowed": False}, twice, 21)

    wfid = f"rs-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        assert wf() == 42
    assert asyncio.run(awf()) == 42
    assert dbos.run_step(None, lambda: 5) == 5  # outside a workflow: a plain call


def test_an_async_step_that_waits_leaves_a_sync_workflow_outside_the_step(dbos: type[DBOS]) -> None:
    """A sync workflow runs an async step on its thread's bridge loop; the step suspends, so the rest of it
    runs in a task. After it, the workflow must be out of the step again: its send and set_event are its own
    recorded operations (not a step's unrecorded calls, which recovery would send again)."""
    async def napping() -> str:
        await asyncio.sleep(0.01)
        return "rested"

    @DBOS.workflow()
    def wf() -> tuple[str, int | None]:
        out = DBOS.run_step(None, napping)
        step_after = DBOS.step_id
        DBOS.set_event("after", out)
        DBOS.send(DBOS.workflow_id or "", "note", "t")
        return out, step_after

    wfid = f"nap-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        assert wf() == ("rested", None)
    names = [s["function_name"] for s in DBOS.list_workflow_steps(wfid)]
    assert names[0].endswith("napping") and names[1:] == ["DBOS.setEvent", "DBOS.send"]


def test_set_workflow_id_names_one_start_when_the_sync_api_is_called_from_async_code(dbos: type[DBOS]) -> None:
    """From a running event loop a sync call runs on a helper thread, in a copy of the caller's context. The
    ID of a SetWorkflowID block is still taken by the first start alone, as it is from sync code."""
    @DBOS.workflow()
    def echo(x: int) -> int:
        return x

    wfid = f"once-{uuid.uuid4()}"

    async def main() -> tuple[str, str, int, int]:
        with SetWorkflowID(wfid):
            first = DBOS.start_workflow(echo, 1)
            second = DBOS.start_workflow(echo, 2)
        return first.workflow_id, second.workflow_id, first.get_result(), second.get_result()

    first_id, second_id, first_out, second_out = asyncio.run(main())
    assert first_id == wfid and second_id != wfid
    assert (first_out, second_out) == (1, 2)


def test_child_workflow_records_parent_and_is_not_restarted(dbos: type[DBOS]) -> None:
    child_runs: list[int] = []

    @DBOS.workflow()
    def child(x: int) -> int:
        child_runs.append(x)
        return x * 10

    @DBOS.workflow()
    def parent() -> tuple[int, str]:
        handle = DBOS.start_workflow(child, 4)
        return handle.get_result(), handle.workflow_id

    wfid = f"parent-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        result, child_id = parent()
    assert result == 40
    assert child_id == f"{wfid}-1"
    status = DBOS.get_workflow_status(child_id)
    assert status is not None and status.parent_workflow_id == wfid
    with SetWorkflowID(wfid):
        assert parent() == (40, child_id)
    assert child_runs == [4]


@DBOS.dbos_class()
class Inventory(DBOSConfiguredInstance):
    def __init__(self, stock: int) -> None:
        super().__init__(f"stock-{stock}")
        self.stock = stock

    @DBOS.workflow()
    def take(self, n: int) -> int:
        return self.remove(n)

    @DBOS.step()
    def remove(self, n: int) -> int:
        return self.stock - n

    @staticmethod
    @DBOS.workflow()
    def static_total(a: int, b: int) -> int:
        return a + b

    @classmethod
    @DBOS.workflow()
    def class_name_of(cls) -> str:
        return cls.__name__


def test_workflows_on_methods(dbos: type[DBOS]) -> None:
    inv = Inventory(10)
    assert inv.take(3) == 7
    assert DBOS.start_workflow(inv.take, 4).get_result() == 6
    assert Inventory.static_total(1, 2) == 3
    assert Inventory.class_name_of() == "Inventory"


def test_portable_serialization(dbos: type[DBOS]) -> None:
    @DBOS.workflow(serialization_type=WorkflowSerializationFormat.PORTABLE)
    def portable(x: dict[str, int]) -> list[int]:
        return sorted(x.values())

    handle = DBOS.start_workflow(portable, {"a": 2, "b": 1})
    assert handle.get_result() == [1, 2]
    status = handle.get_status()
    assert status.input == {"args": ({"a": 2, "b": 1},), "kwargs": {}}


def test_retrieve_workflow_waits_for_creation(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def later() -> str:
        return "here"

    wfid = f"later-{uuid.uuid4()}"
    with pytest.raises(WorkflowNotFoundError):
        DBOS.retrieve_workflow(wfid)

    def start_later() -> None:
        threading.Event().wait(0.2)
        with SetWorkflowID(wfid):
            DBOS.start_workflow(later)

    threading.Thread(target=start_later).start()
    handle = DBOS.retrieve_workflow(wfid, existing_workflow=False)
    assert handle.get_result() == "here"


def test_retrieve_workflow_async_waits_for_creation(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def later_async() -> str:
        return "async here"

    wfid = f"later-async-{uuid.uuid4()}"

    async def main() -> str:
        async def start_later() -> None:
            await asyncio.sleep(0.1)
            with SetWorkflowID(wfid):
                await DBOS.start_workflow_async(later_async)

        starter = asyncio.create_task(start_later())
        handle = await DBOS.retrieve_workflow_async(wfid, existing_workflow=False)
        await starter
        return await handle.get_result()

    assert asyncio.run(main()) == "async here"


def test_an_async_workflow_started_with_the_sync_api_from_async_code_runs_while_the_caller_blocks(
        dbos: type[DBOS]) -> None:
    """``DBOS.start_workflow`` (the synchronous call) runs an async workflow on the runtime's loop, as DBOS does,
    not on the caller's: async code that goes on with a synchronous wait blocks its own loop, where the workflow
    would otherwise never run (the wait below timed out, and ``get_result`` hung)."""
    @DBOS.workflow()
    async def tenfold(x: int) -> int:
        await DBOS.set_event_async("ran", x * 10)
        return x * 10

    async def main() -> tuple[object, object]:
        handle = DBOS.start_workflow(tenfold, 4)
        seen = DBOS.get_event(handle.workflow_id, "ran", timeout_seconds=10)  # blocks this loop while it waits
        return seen, handle.get_result() if seen is not None else "not run"  # (get_result would hang)

    assert asyncio.run(main()) == (40, 40)
