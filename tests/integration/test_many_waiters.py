"""10,000 async workflows parked in recv_async hold no thread, and each wakes only on its own message."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.conftest import make_config
from tether import DBOS

WAITERS = 10_000


@DBOS.workflow()
async def parked(i: int) -> int:
    msg = await DBOS.recv_async("go", timeout_seconds=300)
    return int(msg) + i


@pytest.mark.timeout(600)  # ~40,000 database writes: on a shared, loaded machine this passes 120 s
def test_ten_thousand_async_waiters_in_one_process(fresh_url: str) -> None:
    # A database of its own: on the shared one, the launch may adopt a dead process of an earlier test and run
    # its workflows here, and a synchronous one holds a thread of its own while the threads are counted.
    DBOS(config=make_config(fresh_url))
    DBOS.launch()
    try:
        _ten_thousand_waiters()
    finally:
        DBOS.destroy()


def _ten_thousand_waiters() -> None:
    rt = DBOS._rt()

    async def park(n: int) -> list[object]:
        handles = []
        for start in range(0, n, 500):
            handles += await asyncio.gather(*(DBOS.start_workflow_async(parked, i)
                                              for i in range(start, min(n, start + 500))))
        while rt.hub.count("msg") < n:  # every workflow has reached recv_async and registered its waiter
            await asyncio.sleep(0.05)
        return handles

    async def main() -> None:
        warm = await park(100)  # warm up lazily created threads (I/O pool, listener)
        for h in warm:
            await DBOS.send_async(h.workflow_id, 0, "go")
        assert [await h.get_result() for h in warm] == list(range(100))
        threads_small = threading.active_count()

        handles = await park(WAITERS)
        threads_parked = threading.active_count()
        assert threads_parked <= threads_small, (threads_small, threads_parked)

        # One message wakes exactly one waiter: the other 9,999 stay parked.
        await DBOS.send_async(handles[0].workflow_id, 1, "go")
        assert await handles[0].get_result() == 1
        assert rt.hub.count("msg") == WAITERS - 1

        rest = handles[1:]
        for start in range(0, len(rest), 500):
            await asyncio.gather(*(DBOS.send_async(h.workflow_id, 1, "go") for h in rest[start:start + 500]))
        results = [await h.get_result() for h in handles]
        assert results == [i + 1 for i in range(WAITERS)]
        assert threading.active_count() <= threads_small

    asyncio.run(main())
