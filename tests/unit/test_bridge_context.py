"""A coroutine run from synchronous code leaves the caller's context as if it had been awaited in place, even
when it suspends and the bridge finishes it in a task (which runs in a copy of the context)."""

from __future__ import annotations

import asyncio
import contextvars
import sys

import pytest

from tether.engine.bridge import in_task, run_sync

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="outside")
entered: contextvars.ContextVar[str | None] = contextvars.ContextVar("entered", default=None)


async def enter_then_leave(suspend: bool) -> str:
    token = entered.set("step")  # before the first suspension: in the caller's own context
    if suspend:
        await asyncio.sleep(0)  # from here on, in the bridge's task
    try:
        entered.reset(token)
    except ValueError:  # the token belongs to the caller's context, not the task's copy
        entered.set(None)
    marker.set("set after the suspension")
    return "done"


@pytest.mark.parametrize("suspend", [False, True], ids=["stepped-by-hand", "finished-in-a-task"])
def test_changes_made_by_a_coroutine_reach_the_sync_caller(suspend: bool) -> None:
    marker.set("outside")
    assert run_sync(enter_then_leave(suspend)) == "done"
    assert entered.get() is None
    assert marker.get() == "set after the suspension"


def test_a_failing_coroutine_leaves_its_changes_too() -> None:
    async def fails() -> None:
        await asyncio.sleep(0)
        marker.set("set before failing")
        raise LookupError("boom")

    marker.set("outside")
    with pytest.raises(LookupError):
        run_sync(fails())
    assert marker.get() == "set before failing"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in Python 3.11")
def test_a_body_awaited_with_in_task_has_a_task_from_its_first_line() -> None:
    async def body() -> bool:
        async with asyncio.timeout(5):  # type: ignore[attr-defined,unused-ignore]  # needs a task
            marker.set("set in the body")
        return asyncio.current_task() is not None

    async def step() -> bool:
        return await in_task(body())

    marker.set("outside")
    assert run_sync(step()) is True
    assert marker.get() == "set in the body"


def test_a_sync_call_from_async_code_leaves_its_changes_to_the_caller() -> None:
    """From a running event loop, run_sync runs the coroutine on a helper thread, in a copy of the context."""
    async def caller() -> tuple[str, str | None]:
        marker.set("outside")
        assert run_sync(enter_then_leave(True)) == "done"
        return marker.get(), entered.get()

    assert asyncio.run(caller()) == ("set after the suspension", None)
