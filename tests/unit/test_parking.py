"""A synchronous caller's wait parks its thread on the waiter (engine/waiters.py, ``bridge.may_park``) when its
coroutine is its bridge loop's only work, and runs the loop as before when it is not."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from tether.engine import bridge
from tether.engine.bridge import may_park, run_sync
from tether.engine.waiters import Waiter, WakeupHub

KEY = ("msg", "w", "t")


def _wake_later(hub: WakeupHub, delay: float = 0.05) -> threading.Thread:
    def wake() -> None:
        time.sleep(delay)
        hub.notify(*KEY)

    thread = threading.Thread(target=wake)
    thread.start()
    return thread


def test_a_sync_wait_parks_its_thread_and_is_woken_from_another_thread() -> None:
    hub = WakeupHub()
    seen: list[Waiter] = []

    async def wait() -> bool:
        waiter = hub.register([KEY], parks=True)
        seen.append(waiter)
        try:
            return await hub.wait(waiter, 5)
        finally:
            hub.unregister(waiter)

    waker = _wake_later(hub)
    assert run_sync(wait()) is True
    waker.join()
    # Woken through the gate its thread blocked on: the loop never ran, so the future was never resolved.
    assert seen[0].woken and not seen[0].future.done()


def test_a_parked_wait_times_out_and_a_wake_before_the_wait_is_kept() -> None:
    hub = WakeupHub()

    async def wait(wake_first: bool) -> tuple[bool, float]:
        waiter = hub.register([KEY], parks=True)
        try:
            if wake_first:
                hub.notify(*KEY)
            began = time.monotonic()
            return await hub.wait(waiter, 0.1), time.monotonic() - began
        finally:
            hub.unregister(waiter)

    woke, took = run_sync(wait(False))
    assert woke is False and took >= 0.09
    woke, _ = run_sync(wait(True))
    assert woke is True


def test_a_wait_does_not_park_while_another_task_of_its_loop_is_pending() -> None:
    """The task that wakes the waiter runs on the waiter's own bridge loop: parking the thread would keep it
    from ever running (the wait would time out), so the wait runs the loop instead."""
    hub = WakeupHub()

    async def wake_soon() -> None:
        await asyncio.sleep(0.02)
        hub.notify(*KEY)

    async def wait() -> tuple[bool, bool]:
        task = asyncio.get_running_loop().create_task(wake_soon())
        could_park = may_park()
        waiter = hub.register([KEY], parks=True)
        try:
            woke = await hub.wait(waiter, 5)
        finally:
            hub.unregister(waiter)
        await task
        return could_park, woke

    began = time.monotonic()
    assert run_sync(wait()) == (False, True)
    assert time.monotonic() - began < 4


def test_a_waiter_made_to_park_that_cannot_any_more_is_woken_through_its_loop() -> None:
    """Registered while the coroutine was its loop's only work, waited on after it started a task that still
    runs: the wait falls back to the loop, and wake-ups from before and after the fallback both count."""
    hub = WakeupHub()

    async def wait(wake_first: bool) -> tuple[bool, bool]:
        waiter = hub.register([KEY], parks=True)
        if wake_first:
            hub.notify(*KEY)
        stop = asyncio.Event()
        other = asyncio.get_running_loop().create_task(stop.wait())
        await asyncio.sleep(0)  # the coroutine now runs as a task of its loop, beside ``other``
        waker = None if wake_first else _wake_later(hub)
        try:
            woke = await hub.wait(waiter, 5)
        finally:
            hub.unregister(waiter)
            stop.set()
            await other
        if waker is not None:
            waker.join()
        return woke, waiter.future.done()

    assert run_sync(wait(False)) == (True, True)
    assert run_sync(wait(True)) == (True, True)


def test_waiters_on_a_shared_loop_never_park() -> None:
    hub = WakeupHub()

    async def wait() -> tuple[bool, bool]:
        waiter = hub.register([KEY], parks=True)
        waker = _wake_later(hub)
        try:
            woke = await hub.wait(waiter, 5)
        finally:
            hub.unregister(waiter)
        waker.join()
        return woke, waiter.future.done()

    assert asyncio.run(wait()) == (True, True)


@pytest.mark.parametrize("schedule", [
    lambda loop, notify: loop.call_later(0.02, notify, *KEY),  # a timer (call_later, asyncio.timeout)
    lambda loop, notify: loop.call_soon(notify, *KEY),  # a callback ready to run
], ids=["timer", "ready-callback"])
def test_work_scheduled_on_the_waiters_own_loop_still_wakes_it(
        schedule: Callable[[asyncio.AbstractEventLoop, Callable[..., None]], object]) -> None:
    """A timer or a ready callback on the bridge loop is that loop's work too: a thread parked on its waiter
    would never run it, and the wait would last its whole timeout instead; such a wait stays on the loop."""
    hub = WakeupHub()

    async def wait() -> bool:
        waiter = hub.register([KEY], parks=True)
        schedule(asyncio.get_running_loop(), hub.notify)
        try:
            return await hub.wait(waiter, 5)
        finally:
            hub.unregister(waiter)

    began = time.monotonic()
    assert run_sync(wait()) is True
    assert time.monotonic() - began < 4


def test_a_cancelled_timer_left_on_the_loop_does_not_keep_a_wait_from_parking() -> None:
    hub = WakeupHub()

    async def wait() -> tuple[bool, bool]:
        asyncio.get_running_loop().call_later(60, hub.notify, *KEY).cancel()
        waiter = hub.register([KEY], parks=True)
        try:
            return may_park(), await hub.wait(waiter, 0.01)
        finally:
            hub.unregister(waiter)

    assert run_sync(wait()) == (True, False)


def test_the_main_thread_does_not_park_where_a_lock_wait_would_not_hear_ctrl_c(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows before Python 3.14 cannot interrupt a lock acquire with Ctrl-C: there the main thread waits on
    its loop, as before parking existed; its other threads still park."""
    monkeypatch.setattr(bridge, "_LOCK_WAITS_IGNORE_CTRL_C", True)

    async def could_park() -> bool:
        return may_park()

    assert run_sync(could_park()) is False
    on_thread: list[bool] = []
    thread = threading.Thread(target=lambda: on_thread.append(run_sync(could_park())))
    thread.start()
    thread.join()
    assert on_thread == [True]
    monkeypatch.setattr(bridge, "_LOCK_WAITS_IGNORE_CTRL_C", False)
    assert run_sync(could_park()) is True
