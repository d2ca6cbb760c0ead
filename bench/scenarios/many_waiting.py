"""many_waiting: ``waiters`` async workflows parked in ``await DBOS.recv_async(...)`` at once.

1. start them all with ``await DBOS.start_workflow_async`` (at most ``start_concurrency`` starts in
   flight) and wait until every workflow has reached its ``recv_async`` call;
2. after ``settle_s``, sample RSS and thread counts while all of them wait;
3. send each one a message (``DBOS.send_async``, at most ``send_concurrency`` in flight) and time until
   every workflow has returned.

``cap_s`` (optional) bounds the whole measurement (start + settle + finish). When the cap is hit, the
phase that was running stops where it is: no more starts or sends, and the metrics of that phase are
lower bounds (``detail["lower_bound"]``, with ``done`` of ``of`` workflows started or finished). A
capped run then leaves DBOS running with workflows still waiting (dbos 3.4.0 holds one thread per
waiter, which neither ``destroy()`` nor interpreter exit would release before the recv timeout), so
it sets ``HARD_EXIT`` and ``bench.worker`` ends the process with ``os._exit`` once the result is written.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from bench.common import DBOS, Metric, configure, process_stats

HARD_EXIT = False  # read by bench.worker after the result is written
_arrived: list[int] = []  # appended to (atomically) by each workflow just before it waits


@DBOS.workflow()
async def waiter(timeout_s: float) -> Any:
    _arrived.append(1)
    return await DBOS.recv_async("t", timeout_seconds=timeout_s)


async def _bounded(limit: int, coros: list[Any], deadline: float) -> list[Any]:
    """Await the coroutine factories ``coros`` with at most ``limit`` in flight; after ``deadline``
    (perf_counter) the ones not begun are skipped and give None."""
    gate = asyncio.Semaphore(limit)

    async def one(make: Any) -> Any:
        async with gate:
            if time.perf_counter() > deadline:
                return None
            return await make()

    return await asyncio.gather(*(one(c) for c in coros))


async def _measure(waiters: int, start_concurrency: int, send_concurrency: int, settle_s: float,
                   timeout_s: float, cap_s: float | None) -> dict[str, Any]:
    base = process_stats()
    t0 = time.perf_counter()
    deadline = t0 + cap_s if cap_s else math.inf
    r: dict[str, Any] = {"base": base, "start_capped": False, "finish_capped": False}

    started = await _bounded(start_concurrency,
                             [lambda: DBOS.start_workflow_async(waiter, timeout_s) for _ in range(waiters)],
                             deadline)
    handles = [h for h in started if h is not None]
    r["started"] = len(handles)
    r["started_s"] = time.perf_counter() - t0
    while len(_arrived) < len(handles):
        if time.perf_counter() > deadline:
            break
        if time.perf_counter() - t0 > timeout_s / 2:
            raise TimeoutError(f"only {len(_arrived)} of {waiters} workflows reached recv_async")
        await asyncio.sleep(0.01)
    r["arrived"] = len(_arrived)
    r["all_waiting_s"] = time.perf_counter() - t0
    r["start_capped"] = r["arrived"] < waiters
    await asyncio.sleep(settle_s)
    r["waiting"] = process_stats()
    if r["start_capped"]:  # the cap ran out while starting: no finish phase to speak of
        r["end"] = process_stats()
        r["finished"] = 0
        return r

    t1 = time.perf_counter()
    # One task per workflow's result, created before the sends, so completions are seen as they happen.
    results = [asyncio.ensure_future(h.get_result()) for h in handles]
    sent: list[int] = []

    async def send(i: int, wfid: str) -> None:
        await DBOS.send_async(wfid, i, "t")
        sent.append(i)

    await _bounded(send_concurrency,
                   [lambda i=i, h=h: send(i, h.workflow_id) for i, h in enumerate(handles)], deadline)
    r["sent"] = len(sent)
    r["sent_s"] = time.perf_counter() - t1
    done, pending = await asyncio.wait(results, timeout=max(0.0, deadline - time.perf_counter())
                                       if cap_s else None)
    r["finished_s"] = time.perf_counter() - t1
    r["finished"] = len(done)
    r["end"] = process_stats()
    if pending:
        r["finish_capped"] = True
        for task in pending:
            task.cancel()
    else:
        values = [task.result() for task in done]
        r["timed_out"] = sum(1 for v in values if v is None)  # recv's timeout ran out before the message came
        if r["timed_out"] == 0 and sorted(values) != list(range(waiters)):
            raise AssertionError("some workflows did not receive their message")
    return r


def run(url: str, waiters: int = 1000, start_concurrency: int = 64, send_concurrency: int = 64,
        settle_s: float = 1.0, timeout_s: float | None = None, cap_s: float | None = None) -> list[Metric]:
    """``timeout_s``: each waiter's recv timeout; by default longer than the cap (or 600 s), so that a slow run
    is capped rather than its first waiters timing out (a timed-out waiter counts as not finished)."""
    global HARD_EXIT
    if timeout_s is None:
        timeout_s = max(600.0, 2 * cap_s) if cap_s else 600.0
    _arrived.clear()
    configure(url)
    DBOS.launch()
    loop = asyncio.new_event_loop()
    capped = True  # until proven otherwise: an exception leaves waiters behind too
    try:
        r = loop.run_until_complete(
            _measure(waiters, start_concurrency, send_concurrency, settle_s, timeout_s, cap_s))
        capped = r["start_capped"] or r["finish_capped"]
    finally:
        if capped:
            HARD_EXIT = True  # neither shut down the loop's executor nor destroy: both would wait for waiters
        else:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            DBOS.destroy()

    base, waiting = r["base"], r["waiting"]
    w = f"W={waiters}"
    n_waiting = r["arrived"] or 1
    per_waiter_kib = (waiting["rss_mib"] - base["rss_mib"]) * 1024.0 / n_waiting
    start_bound = {"lower_bound": True, "done": r["arrived"], "of": waiters, "cap_s": cap_s} \
        if r["start_capped"] else {}
    finish_bound = {"lower_bound": True, "done": r["finished"], "of": waiters, "cap_s": cap_s} \
        if capped else {}
    peak = r["end"]["peak_rss_mib"]
    metrics = [
        Metric(f"start all {w}", r["started_s"], "s", "lower",
               {"all_waiting_s": r["all_waiting_s"], "start_rate": r["started"] / r["started_s"], **start_bound}),
        Metric(f"all in recv {w}", r["all_waiting_s"], "s", "lower", start_bound),
        Metric(f"peak RSS {w}", peak, "MiB", "lower",
               {"rss_before_mib": base["rss_mib"], "rss_waiting_mib": waiting["rss_mib"],
                "waiting": r["arrived"]}),
        Metric(f"peak RSS above baseline {w}", peak - base["rss_mib"], "MiB", "lower",
               {"baseline": "RSS after launch(), before the first start", "waiting": r["arrived"]}),
        Metric(f"RSS per waiter {w}", per_waiter_kib, "KiB", "lower"),
        Metric(f"OS threads while waiting {w}", waiting["os_threads"], "threads", "lower",
               {"before": base["os_threads"], "waiting": r["arrived"]}),
        Metric(f"Python threads while waiting {w}", waiting["py_threads"], "threads", "lower",
               {"before": base["py_threads"], "waiting": r["arrived"]}),
    ]
    if not r["start_capped"]:
        metrics.append(Metric(f"send all + finish {w}", r["finished_s"], "s", "lower",
                              {"send_only_s": r["sent_s"], "sent": r["sent"],
                               "finished": r["finished"] - r.get("timed_out", 0),
                               "timed_out_before_their_message": r.get("timed_out", 0),
                               "finish_rate": r["finished"] / r["finished_s"], **finish_bound}))
    else:
        metrics.append(Metric(f"send all + finish {w}", math.nan, "s", "lower",
                              {"not_reached": "cap ran out while starting", **finish_bound}))
    return metrics
