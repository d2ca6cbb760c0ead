"""send->recv on PostgreSQL, leg by leg: the send call, the sender's commit to the receiver's statement (the
wake-up), the receiver's consume statement, and recv returning. 30 round trips, each after 50 ms idle.

    PYTHONPATH=src python3 bench/sendrecv_legs.py

The store's ``consume_message`` and the runtime's ``notify`` are wrapped to note the time (this process only).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
os.environ["BENCH_IMPL"] = "tether"

from bench import common  # noqa: E402
from tether import DBOS  # noqa: E402

MARKS: dict[str, list[Any]] = {}


@DBOS.workflow()
def receiver() -> float:
    DBOS.set_event("ready", True)
    DBOS.recv("t", timeout_seconds=30)
    return time.perf_counter()


def main() -> None:
    rows = []
    with common.database("postgres", "legs") as url, common.launched(url):
        rt = DBOS._rt()  # type: ignore[attr-defined]
        consume, notify = rt.store.consume_message, rt.notify

        def timed_consume(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            got = consume(*a, **k)
            MARKS.setdefault("consume", []).append((start, time.perf_counter(), got is not None))
            return got

        def timed_notify(kind: str, workflow_id: str, key: str) -> None:
            if kind == "msg":
                MARKS.setdefault("notify", []).append(time.perf_counter())
            notify(kind, workflow_id, key)

        rt.store.consume_message, rt.notify = timed_consume, timed_notify
        for _ in range(30):
            handle = DBOS.start_workflow(receiver)
            DBOS.get_event(handle.workflow_id, "ready", timeout_seconds=30)
            time.sleep(0.05)
            MARKS.clear()
            before = time.perf_counter()
            DBOS.send(handle.workflow_id, 1, "t")
            after = time.perf_counter()
            returned = handle.get_result()
            took = [c for c in MARKS.get("consume", []) if c[2]]
            if took and MARKS.get("notify"):
                c0, c1, _ = took[-1]
                n = MARKS["notify"][-1]
                rows.append((after - before, c0 - n, c1 - c0, returned - c1, returned - before))
    names = ["send call", "sender's notify -> consume starts (wake-up)", "consume statement",
             "consume -> recv returns", "send call -> recv returns"]
    for j, name in enumerate(names):
        print(f"{name:45s} p50 {statistics.median(r[j] for r in rows) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
