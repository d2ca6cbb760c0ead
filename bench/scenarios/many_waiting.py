"""many_waiting: ``waiters`` async workflows parked in ``await DBOS.recv_async(...)`` at once.

1. start them all with ``await DBOS.start_workflow_async`` (at most ``start_concurrency`` starts in
   flight) and wait until every workflow has reached its ``recv_async`` call;
2. after ``settle_s``, sample RSS and thread counts while all of them wait;
3. send each one a message (``DBOS.send_async``, at most ``send_concurrency`` in flight) and time until
   every workflow has returned.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import DBOS, Metric, launched, process_stats

_arrived: list[int] = []  # appended to (atomically) by each workflow just before it waits


@DBOS.workflow()
async def waiter(timeout_s: float) -> Any:
    _arrived.append(1)
    return await DBOS.recv_async("t", timeout_seconds=timeout_s)


async def _bounded(limit: int, coros: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def _measure(waiters: int, start_concurrency: int, send_concurrency: int, settle_s: float,
                   timeout_s: float) -> dict[str, Any]:
    base = process_stats()
    t0 = time.perf_counter()
    handles = await _bounded(start_concurrency,
                             [DBOS.start_workflow_async(waiter, timeout_s) for _ in range(waiters)])
    started = time.perf_counter() - t0
    while len(_arrived) < waiters:
        if time.perf_counter() - t0 > timeout_s / 2:
            raise TimeoutError(f"only {len(_arrived)} of {waiters} workflows reached recv_async")
        await asyncio.sleep(0.01)
    all_waiting = time.perf_counter() - t0
    await asyncio.sleep(settle_s)
    waiting = process_stats()

    t1 = time.perf_counter()
    await _bounded(send_concurrency,
                   [DBOS.send_async(h.workflow_id, i, "t") for i, h in enumerate(handles)])
    sent = time.perf_counter() - t1
    results = await asyncio.gather(*(h.get_result() for h in handles))
    finished = time.perf_counter() - t1
    if sorted(results) != list(range(waiters)):
        raise AssertionError("some workflows did not receive their message")
    return {"base": base, "waiting": waiting, "end": process_stats(), "started_s": started,
            "all_waiting_s": all_waiting, "sent_s": sent, "finished_s": finished}


def run(url: str, waiters: int = 1000, start_concurrency: int = 64, send_concurrency: int = 64,
        settle_s: float = 1.0, timeout_s: float = 600.0) -> list[Metric]:
    _arrived.clear()
    with launched(url):
        r = asyncio.run(_measure(waiters, start_concurrency, send_concurrency, settle_s, timeout_s))
    base, waiting = r["base"], r["waiting"]
    w = f"W={waiters}"
    per_waiter_kib = (waiting["rss_mib"] - base["rss_mib"]) * 1024.0 / waiters
    return [
        Metric(f"start all {w}", r["started_s"], "s", "lower",
               {"all_waiting_s": r["all_waiting_s"], "start_rate": waiters / r["started_s"]}),
        Metric(f"all in recv {w}", r["all_waiting_s"], "s", "lower"),
        Metric(f"peak RSS {w}", r["end"]["peak_rss_mib"], "MiB", "lower",
               {"rss_before_mib": base["rss_mib"], "rss_waiting_mib": waiting["rss_mib"]}),
        Metric(f"RSS per waiter {w}", per_waiter_kib, "KiB", "lower"),
        Metric(f"OS threads while waiting {w}", waiting["os_threads"], "threads", "lower",
               {"before": base["os_threads"]}),
        Metric(f"Python threads while waiting {w}", waiting["py_threads"], "threads", "lower",
               {"before": base["py_threads"]}),
        Metric(f"send all + finish {w}", r["finished_s"], "s", "lower", {"send_only_s": r["sent_s"]}),
    ]
