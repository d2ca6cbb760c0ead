"""The queue admission rule, without a database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tether.storage.base import PartitionLoad, QueuePolicy

limits = st.one_of(st.none(), st.integers(min_value=1, max_value=50))
counts = st.integers(min_value=0, max_value=60)


def test_unlimited_queue_admits_a_batch() -> None:
    assert QueuePolicy("q").admit(1000, 1000, 1000) == 100
    assert not QueuePolicy("q").global_limits
    assert QueuePolicy("q", concurrency=1).global_limits
    assert QueuePolicy("q", limit=1, period_ms=10).global_limits
    assert not QueuePolicy("q", worker_concurrency=3).global_limits


def test_each_limit_caps_admission() -> None:
    assert QueuePolicy("q", concurrency=2).admit(1, 0, 0) == 1
    assert QueuePolicy("q", concurrency=2).admit(3, 0, 0) == 0
    assert QueuePolicy("q", worker_concurrency=3).admit(10, 1, 0) == 2
    assert QueuePolicy("q", limit=5, period_ms=1000).admit(0, 0, 4) == 1
    assert QueuePolicy("q", concurrency=10, worker_concurrency=4, limit=3, period_ms=1).admit(2, 2, 1) == 2


@given(limits, limits, limits, counts, counts, counts)
def test_admission_never_exceeds_a_limit(concurrency: int | None, worker: int | None, limit: int | None,
                                         running: int, here: int, started: int) -> None:
    here = min(here, running)
    policy = QueuePolicy("q", concurrency, worker, limit, 1000 if limit else None)
    n = policy.admit(running, here, started)
    assert 0 <= n <= policy.max_batch
    if concurrency is not None:
        assert running + n <= max(concurrency, running)
    if worker is not None:
        assert here + n <= max(worker, here)
    if limit is not None:
        assert started + n <= max(limit, started)
    if n == 0 and concurrency is None and worker is None and limit is None:
        raise AssertionError("an unlimited queue always admits")


def _load(key: str | None, enqueued: int = 10, running: int = 0, here: int = 0, started: int = 0) -> PartitionLoad:
    return PartitionLoad(key, enqueued, running, here, started)


def test_partition_limits_cap_each_partition() -> None:
    p = QueuePolicy("q", partition_concurrency=2)
    assert p.partitioned and p.global_limits
    assert p.admit_partitions(100, [_load("a", running=1), _load("b"), _load("c", running=2)]) == [("a", 1), ("b", 2)]
    w = QueuePolicy("q", partition_worker_concurrency=1)
    assert w.partitioned and not w.global_limits  # a per-process limit needs no cross-process lock
    assert w.admit_partitions(100, [_load("a", running=5, here=1), _load("b", running=5)]) == [("b", 1)]
    r = QueuePolicy("q", partition_limit=3, partition_period_ms=1000)
    assert r.admit_partitions(100, [_load("a", started=2), _load("b", enqueued=1)]) == [("a", 1), ("b", 1)]


def test_the_queue_budget_is_shared_from_the_partition_after_the_last_served() -> None:
    p = QueuePolicy("q", partition_concurrency=1)
    loads = [_load("aaa"), _load("bbb"), _load("zzz"), _load(None)]
    assert p.admit_partitions(2, loads) == [(None, 1), ("aaa", 1)]
    assert p.admit_partitions(2, loads, after="aaa") == [("bbb", 1), ("zzz", 1)]
    assert p.admit_partitions(2, loads, after="zzz") == [(None, 1), ("aaa", 1)]  # wraps around
    assert p.admit_partitions(0, loads) == []


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)),
                max_size=8), limits, limits, limits, st.integers(0, 100), st.sampled_from([None, "p1", "p4"]))
def test_partition_admission_never_exceeds_a_limit(
        shapes: list[tuple[int, int, int, int]], pc: int | None, pw: int | None, pl: int | None, budget: int,
        after: str | None) -> None:
    loads = [_load(f"p{i}", e, r, min(h, r), s) for i, (e, r, h, s) in enumerate(shapes)]
    policy = QueuePolicy("q", partition_concurrency=pc, partition_worker_concurrency=pw, partition_limit=pl,
                         partition_period_ms=1000 if pl else None)
    got = policy.admit_partitions(budget, loads, after)
    by_key = {p.key: p for p in loads}
    assert sum(n for _, n in got) <= budget
    assert len({k for k, _ in got}) == len(got)
    for key, n in got:
        p = by_key[key]
        assert 0 < n <= p.enqueued
        if pc is not None:
            assert p.running + n <= pc
        if pw is not None:
            assert p.running_here + n <= pw
        if pl is not None:
            assert p.started_in_period + n <= pl
    if pc is None and pw is None and pl is None:
        assert sum(n for _, n in got) == min(budget, sum(p.enqueued for p in loads))
