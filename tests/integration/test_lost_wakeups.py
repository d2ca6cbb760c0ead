"""A wake-up that never arrives is repaired by the batched re-check (engine/recheck.py): one read per kind of
wait, however many waiters, wakes exactly those whose key now holds what they wait for.

Wake-ups are lost here for real: the process's listener is stopped, and the writes are made through another
store on the same database (another connection, as another process would), so nothing notifies this
process's waiters. The periodic pass is pushed out of reach (an interval of an hour) and run by hand, so no
test depends on timing; the last test shows the periodic pass doing the same at a short configured interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_config
from tether import DBOS
from tether.config import parse_database_url
from tether.engine.recheck import recheck_waiters
from tether.errors import AwaitedWorkflowCancelledError, StorageError
from tether.serialization import serialize
from tether.storage import Store, open_store
from tether.storage.base import Delivery, OperationRow

WAITERS = 60


@DBOS.workflow()
async def waits_for_go() -> Any:
    return await DBOS.recv_async("go", timeout_seconds=3600)


@DBOS.workflow()
async def waits_for_event(target: str) -> Any:
    return await DBOS.get_event_async(target, "ready", timeout_seconds=3600)


@DBOS.workflow()
async def relays() -> Any:
    value = await DBOS.recv_async("go", timeout_seconds=3600)
    await DBOS.set_event_async("ready", value)  # a local write: it wakes the waiters of its key itself
    return value


def _launch(db_url: str, interval: float) -> None:
    DBOS(config=make_config(db_url, wakeup_recheck_interval_sec=interval))
    DBOS.launch()


@pytest.fixture
def deaf(db_url: str) -> Iterator[Store]:
    """A launched DBOS whose listener is stopped (other connections' writes wake nobody) and whose periodic
    re-check is an hour away, with another store on the same database to write behind its back."""
    _launch(db_url, 3600)
    other = open_store(parse_database_url(db_url))
    try:
        DBOS._rt()._listener.stop()
        yield other
    finally:
        other.close()
        DBOS.destroy()


async def _parked(kind: str, n: int) -> None:
    rt = DBOS._rt()
    while rt.hub.count(kind, parked=True) < n:  # every waiter has checked the database and now waits
        await asyncio.sleep(0.01)


def _now() -> int:
    return DBOS._rt().clock.now_ms()


def test_lost_message_wakeups_are_repaired_by_one_read_per_kind(deaf: Store) -> None:
    rt = DBOS._rt()

    async def main() -> None:
        handles = [await DBOS.start_workflow_async(waits_for_go) for _ in range(WAITERS)]
        await _parked("msg", WAITERS)
        half = WAITERS // 2
        for i, h in enumerate(handles[:half]):
            assert deaf.send_message(h.workflow_id, "go", serialize(i), _now())
        assert rt.hub.count("msg") == WAITERS  # nothing told them

        done = await recheck_waiters(rt)
        # One read for the messages and one for the workflows' own status, for all 60 waiters; only the 30
        # with a message are woken.
        assert (done.reads, done.woken) == (2, half)
        assert [await h.get_result() for h in handles[:half]] == list(range(half))
        assert rt.hub.count("msg") == WAITERS - half

        again = await recheck_waiters(rt)  # nothing new: nobody is woken
        assert (again.reads, again.woken) == (2, 0)

        for i, h in enumerate(handles[half:]):
            assert deaf.send_message(h.workflow_id, "go", serialize(half + i), _now())
        assert (await recheck_waiters(rt)).woken == WAITERS - half
        assert [await h.get_result() for h in handles] == list(range(WAITERS))

    asyncio.run(main())


def test_lost_event_and_stream_wakeups_wake_only_the_waiters_whose_mark_is_reached(deaf: Store) -> None:
    rt = DBOS._rt()

    async def main() -> None:
        target = await DBOS.start_workflow_async(waits_for_go)
        await _parked("msg", 1)
        getters = [await DBOS.start_workflow_async(waits_for_event, target.workflow_id) for _ in range(10)]
        await _parked("event", 10)
        deaf.write_stream(target.workflow_id, "out", serialize("v0"), _now())
        # Readers of offsets 1 and 2 of a stream that holds offset 0: neither has anything yet.
        readers = [asyncio.ensure_future(DBOS.read_stream_offset_async(target.workflow_id, "out", offset))
                   for offset in (1, 2)]
        await _parked("stream", 2)

        deaf.set_event(target.workflow_id, "other", serialize("no"), _now())  # a key nobody waits for
        assert (await recheck_waiters(rt)).woken == 0
        deaf.set_event(target.workflow_id, "ready", serialize("yes"), _now())
        assert (await recheck_waiters(rt)).woken == 10
        assert [await h.get_result() for h in getters] == ["yes"] * 10

        deaf.write_stream(target.workflow_id, "out", serialize("v1"), _now())
        assert (await recheck_waiters(rt)).woken == 1  # the reader of offset 1, not that of offset 2
        assert await readers[0] == "v1"
        assert not readers[1].done()
        deaf.write_stream(target.workflow_id, "out", serialize("v2"), _now())
        assert (await recheck_waiters(rt)).woken == 1
        assert await readers[1] == "v2"

        await DBOS.send_async(target.workflow_id, "bye", "go")
        assert await target.get_result() == "bye"

    asyncio.run(main())


def test_a_lost_wakeup_reaches_an_event_watcher_only_for_a_version_it_has_not_seen(deaf: Store) -> None:
    rt = DBOS._rt()

    async def main() -> None:
        target = await DBOS.start_workflow_async(waits_for_go)
        await _parked("msg", 1)
        seen: list[tuple[int, Any]] = []

        async def follow() -> None:
            async for version in DBOS.watch_event_async(target.workflow_id, "progress"):
                seen.append((version.version, version.value))

        watcher = asyncio.ensure_future(follow())
        await _parked("event", 1)
        deaf.set_event(target.workflow_id, "progress", serialize("half"), _now())
        assert rt.hub.count("event", parked=True) == 1  # nothing told it
        assert (await recheck_waiters(rt)).woken == 1
        while not seen:
            await asyncio.sleep(0.01)
        assert seen == [(1, "half")]
        await _parked("event", 1)
        # Version 1 is still there, but the watcher has seen it: the pass leaves it parked.
        assert (await recheck_waiters(rt)).woken == 0
        deaf.set_event(target.workflow_id, "progress", serialize("done"), _now())
        assert (await recheck_waiters(rt)).woken == 1
        while len(seen) < 2:
            await asyncio.sleep(0.01)
        assert seen == [(1, "half"), (2, "done")]

        await DBOS.send_async(target.workflow_id, "bye", "go")  # its end, notified here, ends the watch
        assert await target.get_result() == "bye"
        await asyncio.wait_for(watcher, 30)

    asyncio.run(main())


def test_a_hand_off_that_notified_nobody_is_repaired_by_the_recheck(deaf: Store) -> None:
    """A hand-off records the recv itself and sends no notification (engine/handoff.py); one made from
    elsewhere (a process that lost the workflow but still had the receiver's slot) wakes nobody here. The
    recv's mark, its function_id, lets the batched pass find it recorded."""
    rt = DBOS._rt()

    async def main() -> None:
        target = await DBOS.start_workflow_async(waits_for_go)
        await _parked("msg", 1)
        steps = await DBOS.list_workflow_steps_async(target.workflow_id)
        recv_fid = next(s["function_id"] for s in steps if s["function_name"] == "DBOS.sleep") - 1
        op = OperationRow(function_id=recv_fid, function_name="DBOS.recv", started_at=_now())
        assert deaf.hand_message(target.workflow_id, "go", serialize("handed"), _now(), op) is Delivery.HANDED
        assert rt.hub.count("msg", parked=True) == 1  # nothing told it
        assert (await recheck_waiters(rt)).woken == 1
        assert await target.get_result() == "handed"
        assert await DBOS.list_pending_messages_async(target.workflow_id) == []

    asyncio.run(main())


def test_a_cancellation_whose_wake_up_was_lost_stops_the_wait(deaf: Store) -> None:
    rt = DBOS._rt()

    async def main() -> None:
        handles = [await DBOS.start_workflow_async(waits_for_go) for _ in range(3)]
        await _parked("msg", 3)
        assert deaf.set_status([handles[0].workflow_id], "CANCELLED", _now()) == [handles[0].workflow_id]
        done = await recheck_waiters(rt)
        assert done.woken == 1
        with pytest.raises(AwaitedWorkflowCancelledError):
            await handles[0].get_result()
        await _parked("msg", 2)
        for h in handles[1:]:
            await DBOS.send_async(h.workflow_id, "ok", "go")
        assert [await h.get_result() for h in handles[1:]] == ["ok", "ok"]

    asyncio.run(main())


def test_the_periodic_recheck_repairs_lost_wake_ups_at_the_configured_interval(db_url: str) -> None:
    _launch(db_url, 0.05)
    other = open_store(parse_database_url(db_url))
    try:
        DBOS._rt()._listener.stop()

        async def main() -> None:
            handles = [await DBOS.start_workflow_async(waits_for_go) for _ in range(20)]
            await _parked("msg", 20)
            for i, h in enumerate(handles):
                other.send_message(h.workflow_id, "go", serialize(i), _now())
            # Nothing but the periodic pass can wake them now.
            assert [await h.get_result() for h in handles] == list(range(20))

        asyncio.run(main())
    finally:
        other.close()
        DBOS.destroy()


def test_a_waiter_left_on_a_closed_event_loop_stops_no_other_wake_up(deaf: Store) -> None:
    """An application that closes an event loop while one of its tasks still waits (``loop.close()`` with a
    ``get_event_async`` pending) leaves that waiter registered: its task is never resumed, so the wait's
    ``finally`` never runs. It can never be woken; the re-check must pass it by and still wake the waiters
    of the same key, and so must a local write's own wake-up (which would otherwise raise in the writer)."""
    rt = DBOS._rt()

    def abandon(target: str) -> None:
        loop = asyncio.new_event_loop()
        pending = loop.create_task(DBOS.get_event_async(target, "ready", timeout_seconds=3600))
        loop.run_until_complete(_parked("event", 1))
        loop.close()  # the task still waits
        assert not pending.done()

    async def main() -> None:
        target = await DBOS.start_workflow_async(relays)
        await _parked("msg", 1)
        await asyncio.to_thread(abandon, target.workflow_id)
        getters = [await DBOS.start_workflow_async(waits_for_event, target.workflow_id) for _ in range(3)]
        await _parked("event", 4)
        deaf.set_event(target.workflow_id, "ready", serialize("yes"), _now())  # its wake-up is lost
        await recheck_waiters(rt)
        assert [await h.get_result() for h in getters] == ["yes"] * 3

        await DBOS.send_async(target.workflow_id, "local", "go")
        assert await target.get_result() == "local"  # its set_event woke the abandoned waiter's key

    asyncio.run(main())


def test_after_a_reconnect_a_failed_batched_read_still_wakes_the_waiters_that_read_for_themselves(
        deaf: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A listener reconnect re-checks every waiter: those of the batched pass (a ``recv``, and
    ``watch_event``'s follower, which has no timer at all) in one read per kind. When that read fails, each
    waiter is woken to read for itself, so the follower still sees the version whose wake-up was lost."""
    rt = DBOS._rt()

    def fails(*args: Any) -> Any:
        raise StorageError("the batched re-check read failed")

    async def main() -> None:
        target = await DBOS.start_workflow_async(waits_for_go)  # parked in recv: the batched pass reads
        await _parked("msg", 1)
        deaf.set_event(target.workflow_id, "ready", serialize(1), _now())
        watch = DBOS.watch_event_async(target.workflow_id, "ready")
        assert (await watch.__anext__()).value == 1
        deaf.set_event(target.workflow_id, "ready", serialize(2), _now())  # its wake-up is lost
        monkeypatch.setattr(rt.store, "recheck_waiters", fails)
        rt._on_listener_reconnect()
        assert (await asyncio.wait_for(watch.__anext__(), 30)).value == 2
        monkeypatch.undo()
        await watch.aclose()
        await DBOS.send_async(target.workflow_id, "done", "go")
        assert await target.get_result() == "done"

    asyncio.run(main())
