"""event_watch (tether only): following a versioned event with ``DBOS.watch_event``, and what it costs.

One workflow and one follower of its key ``watched``, on a thread, parked before anything is set.

* Phase 1: the workflow sets another key (``noise``) ``noise`` times; the store's reads of event versions
  (every query a follower makes) are counted: following adds no query per write to another key, so this
  is 0 (``follower reads per 1,000 writes to other keys``; a status change of the workflow would wake it,
  so the follower starts once the workflow has started). The ``set_event() call`` time of these writes is
  reported too.
* Phase 2: the workflow sets ``watched`` ``versions`` times, ``settle_s`` apart (a plain sleep, so the
  follower is surely parked), each value the ``perf_counter()`` taken just before the call: latency = the
  follower receiving the version - that value. Reads per version: each change costs the follower one read
  (its local wake-up), plus at most one more for the listener's echo of the same write.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import DBOS, Metric, latency_metrics, launched


@DBOS.workflow()
def publisher(noise: int, versions: int, settle_s: float) -> list[float]:
    calls: list[float] = []
    DBOS.set_event("ready", True)
    DBOS.recv("go", timeout_seconds=60)
    for i in range(noise):
        before = time.perf_counter()
        DBOS.set_event("noise", i)
        calls.append(time.perf_counter() - before)
    DBOS.set_event("phase", "noise done")
    DBOS.recv("go", timeout_seconds=60)
    for _ in range(versions):
        time.sleep(settle_s)
        DBOS.set_event("watched", time.perf_counter())
    return calls


def run(url: str, noise: int = 1000, versions: int = 40, settle_s: float = 0.02) -> list[Metric]:
    with launched(url):
        rt: Any = DBOS._runtime  # type: ignore[attr-defined]  # tether only: count the store's reads
        store = rt.store
        reads = [0]
        read_event_versions = store.read_event_versions

        def counting(*args: Any, **kwargs: Any) -> Any:
            reads[0] += 1
            return read_event_versions(*args, **kwargs)

        store.read_event_versions = counting
        handle = DBOS.start_workflow(publisher, noise, versions, settle_s)
        received: list[tuple[float, float]] = []
        if DBOS.get_event(handle.workflow_id, "ready", timeout_seconds=60) is not True:
            raise TimeoutError("the workflow did not start")
        time.sleep(0.3)  # let the listener's late echoes of the start pass (they would wake the follower once)

        def follow() -> None:
            for change in DBOS.watch_event(handle.workflow_id, "watched"):  # type: ignore[attr-defined]
                received.append((time.perf_counter(), change.value))

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        while reads[0] == 0 or rt.hub.count("event") == 0:  # the follower has read once and is parked
            time.sleep(0.001)
        parked = reads[0]
        DBOS.send(handle.workflow_id, "noise", "go")
        if DBOS.get_event(handle.workflow_id, "phase", timeout_seconds=120) != "noise done":
            raise TimeoutError("the noise phase did not finish")
        noise_reads = reads[0] - parked
        DBOS.send(handle.workflow_id, "versions", "go")
        calls = handle.get_result()
        follower.join(timeout=60)
        if len(received) != versions:
            raise RuntimeError(f"the follower got {len(received)} of {versions} versions")
        version_reads = reads[0] - parked - noise_reads
    latencies = [got - set_at for got, set_at in received]
    return [
        *latency_metrics("set_event->watch_event", latencies),
        *latency_metrics("set_event() call", calls),
        Metric("follower reads per 1,000 writes to other keys", noise_reads * 1000 / max(1, noise), "reads",
               "lower", {"writes": noise, "reads": noise_reads}),
        Metric("follower reads per version of its key", version_reads / max(1, versions), "reads", "lower",
               {"versions": versions, "reads": version_reads, "incl": "the final read at the workflow's end"}),
    ]
