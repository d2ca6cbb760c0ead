"""Events: latest value per key, waiting readers, str-Enum keys, checkpointed reads (both backends)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import uuid
from enum import Enum

import pytest

from tether import DBOS, SetWorkflowID


class WorkflowEvent(str, Enum):
    PROGRESS = "progress"
    STATUS = "status"


def test_set_event_keeps_latest_value(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def publisher() -> None:
        for pct in (0, 50, 100):
            DBOS.set_event("progress", pct)
        DBOS.set_event("status", "done")

    wfid = f"ev-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        publisher()
    assert DBOS.get_event(wfid, "progress", timeout_seconds=0) == 100
    assert DBOS.get_all_events(wfid) == {"progress": 100, "status": "done"}


def test_get_event_waits_and_times_out(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def late_publisher() -> None:
        DBOS.recv("go", timeout_seconds=10)
        DBOS.set_event("answer", 42)

    handle = DBOS.start_workflow(late_publisher)
    assert DBOS.get_event(handle.workflow_id, "answer", timeout_seconds=0.1) is None
    result: list[object] = []
    reader = threading.Thread(target=lambda: result.append(DBOS.get_event(handle.workflow_id, "answer", 10)))
    reader.start()
    time.sleep(0.1)
    DBOS.send(handle.workflow_id, "now", "go")
    reader.join()
    assert result == [42]


def test_str_enum_keys_name_the_same_event_and_wake_waiters(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def enum_publisher() -> None:
        DBOS.recv("go", timeout_seconds=10)
        DBOS.set_event(WorkflowEvent.PROGRESS, 75)

    handle = DBOS.start_workflow(enum_publisher)
    got: list[object] = []
    waiter = threading.Thread(
        target=lambda: got.append(DBOS.get_event(handle.workflow_id, WorkflowEvent.PROGRESS, 10)))
    waiter.start()
    time.sleep(0.1)
    started = time.monotonic()
    DBOS.send(handle.workflow_id, "now", "go")
    waiter.join()
    assert got == [75]
    assert time.monotonic() - started < 5
    assert DBOS.get_event(handle.workflow_id, "progress", 0) == 75
    assert DBOS.get_all_events(handle.workflow_id) == {"progress": 75}


def test_get_event_in_workflow_is_checkpointed(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def source() -> None:
        DBOS.set_event("v", "first")
        DBOS.recv("update", timeout_seconds=10)
        DBOS.set_event("v", "second")

    @DBOS.workflow()
    def reader(src: str) -> object:
        return DBOS.get_event(src, "v", timeout_seconds=10)

    src = DBOS.start_workflow(source)
    rid = f"reader-{uuid.uuid4()}"
    with SetWorkflowID(rid):
        assert reader(src.workflow_id) == "first"
    DBOS.send(src.workflow_id, 1, "update")
    src.get_result()
    assert DBOS.get_event(src.workflow_id, "v", 0) == "second"
    steps = DBOS.get_workflow_status(rid)
    assert steps is not None and steps.output == "first"


def test_async_events(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def async_publisher() -> None:
        await DBOS.sleep_async(0.1)
        await DBOS.set_event_async("k", {"ok": True})

    async def main() -> tuple[object, dict[str, object]]:
        handle = await DBOS.start_workflow_async(async_publisher)
        value = await DBOS.get_event_async(handle.workflow_id, "k", timeout_seconds=10)
        await handle.get_result()
        return value, await DBOS.get_all_events_async(handle.workflow_id)

    assert asyncio.run(main()) == ({"ok": True}, {"k": {"ok": True}})


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in Python 3.11")
def test_an_asyncio_timeout_around_get_event_in_an_async_step_run_from_sync_code_fires(dbos: type[DBOS]) -> None:
    """The step runs on the calling thread's bridge loop, where the timeout's timer is: the wait must keep
    running that loop rather than park the thread, or the timeout fires only when the event wait ends."""
    async def step() -> str:
        try:  # from its first line: the step runs as a task of the bridge loop, as asyncio.timeout needs
            async with asyncio.timeout(0.2):  # type: ignore[attr-defined,unused-ignore]
                await DBOS.get_event_async(f"nobody-{uuid.uuid4()}", "never", timeout_seconds=10)
        except TimeoutError:
            return "timed out"
        return "waited to the end"

    started = time.monotonic()
    assert DBOS.run_step(None, step) == "timed out"
    assert time.monotonic() - started < 5
