"""queue_throughput: workflows through a queue registered in the database (``DBOS.register_queue``).

A batch of ``n`` one-step workflows is enqueued with ``DBOS.enqueue_workflow`` onto a queue with
``worker_concurrency`` (the runner's claim, dispatch and completion path), then awaited; and the same on a
partitioned queue (``partition_concurrency`` per ``queue_partition_key``, ``partitions`` keys in turn), whose
claims read per-partition counts. Reports workflows/s from the first enqueue to the last result, median over
repetitions. Both implementations poll their queues every 0.1 s at most (``polling_interval_sec``).
"""

from __future__ import annotations

import time
import uuid

from bench.common import DBOS, Metric, SetEnqueueOptions, launched, throughput_metric


@DBOS.step()
def bump(x: int) -> int:
    return x + 1


@DBOS.workflow()
def queued_one_step(x: int) -> int:
    return bump(x)


def _batch(queue: str, n: int, partitions: int) -> float:
    start = time.perf_counter()
    handles = []
    for i in range(n):
        if partitions:
            with SetEnqueueOptions(queue_partition_key=f"p{i % partitions}"):
                handles.append(DBOS.enqueue_workflow(queue, queued_one_step, i))
        else:
            handles.append(DBOS.enqueue_workflow(queue, queued_one_step, i))
    for i, h in enumerate(handles):
        assert h.get_result() == i + 1
    return n / (time.perf_counter() - start)


def run(url: str, n: int = 200, reps: int = 3, worker_concurrency: int = 16, partitions: int = 4) -> list[Metric]:
    plain, parted = f"bq-{uuid.uuid4().hex[:6]}", f"bqp-{uuid.uuid4().hex[:6]}"
    with launched(url):
        DBOS.register_queue(plain, worker_concurrency=worker_concurrency, polling_interval_sec=0.1)
        DBOS.register_queue(parted, worker_concurrency=worker_concurrency,
                            partition_concurrency=max(1, worker_concurrency // partitions), polling_interval_sec=0.1)
        _batch(plain, 20, 0)  # warm-up
        rates = [_batch(plain, n, 0) for _ in range(reps)]
        part_rates = [_batch(parted, n, partitions) for _ in range(reps)]
    return [throughput_metric(f"enqueue+run x{worker_concurrency}", rates, total=n),
            throughput_metric(f"partitioned x{partitions}", part_rates, total=n)]
