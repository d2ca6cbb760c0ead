"""The queue admission rule, without a database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tether.storage.base import QueuePolicy

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
