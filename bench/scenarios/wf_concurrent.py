"""wf_concurrent: the three-step workflow with a fixed number of workflows in flight.

* sync: ``inflight`` client threads, each looping ``DBOS.start_workflow(...).get_result()``;
* async: ``inflight`` asyncio tasks, each looping ``await DBOS.start_workflow_async(...)`` and
  ``await handle.get_result()``.

So exactly ``inflight`` workflows are running at any moment (a sliding window, no idle tail between
waves). Reports workflows/s, median over repetitions, per (mode, in-flight) pair.
"""

from __future__ import annotations

import asyncio
import threading
import time

from bench.common import DBOS, Metric, launched, throughput_metric


@DBOS.step()
def add_one(x: int) -> int:
    return x + 1


@DBOS.workflow()
def three_steps(x: int) -> int:
    return add_one(add_one(add_one(x)))


@DBOS.step()
async def add_one_async(x: int) -> int:
    return x + 1


@DBOS.workflow()
async def three_steps_async(x: int) -> int:
    return await add_one_async(await add_one_async(await add_one_async(x)))


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_sync(inflight: int, total: int) -> float:
    """Seconds to run ``total`` workflows with ``inflight`` client threads."""
    errors: list[BaseException] = []

    def client(count: int) -> None:
        try:
            for i in range(count):
                assert DBOS.start_workflow(three_steps, i).get_result() == i + 3
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(c,)) for c in _split(total, inflight)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


async def run_async(inflight: int, total: int) -> float:
    """Seconds to run ``total`` async workflows with ``inflight`` tasks on this event loop."""

    async def client(count: int) -> None:
        for i in range(count):
            handle = await DBOS.start_workflow_async(three_steps_async, i)
            assert await handle.get_result() == i + 3

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in _split(total, inflight)))
    return time.perf_counter() - start


def run(url: str, inflight: tuple[int, ...] = (32, 256), per_slot: int = 4, min_total: int = 256,
        reps: int = 3) -> list[Metric]:
    """Each repetition runs ``max(min_total, per_slot * inflight)`` workflows."""
    totals = {n: max(min_total, per_slot * n) for n in inflight}

    async def all_async() -> dict[int, list[float]]:  # one event loop for every async measurement
        await run_async(8, 16)  # warm-up
        return {n: [totals[n] / await run_async(n, totals[n]) for _ in range(reps)] for n in inflight}

    with launched(url):
        run_sync(8, 16)  # warm-up
        sync_rates = {n: [totals[n] / run_sync(n, totals[n]) for _ in range(reps)] for n in inflight}
        async_rates = asyncio.run(all_async())
    return [
        throughput_metric(f"throughput {mode} x{n}", rates[n], total=totals[n])
        for n in inflight
        for mode, rates in (("sync", sync_rates), ("async", async_rates))
    ]
