"""Queue settings and enqueue options are checked before anything is written (no database needed)."""

from __future__ import annotations

import pytest

from tether import QueueConfigurationError, TetherError
from tether.api.enqueue_options import check_enqueue
from tether.engine.queue_settings import build, check_name


def test_settings_build_a_policy() -> None:
    p = build("q", global_concurrency=4, worker_concurrency=2, limiter={"limit": 10, "period": 1.5},
              partition_concurrency=2, partition_worker_concurrency=1, partition_limiter={"limit": 3, "period": 2},
              polling_interval_sec=0.25)
    assert (p.concurrency, p.worker_concurrency, p.limit, p.period_ms) == (4, 2, 10, 1500)
    assert (p.partition_concurrency, p.partition_worker_concurrency, p.partition_limit, p.partition_period_ms) \
        == (2, 1, 3, 2000)
    assert p.polling_interval_ms == 250 and p.partitioned and p.priority_enabled
    assert build("q", concurrency=3).concurrency == 3  # the older name
    assert build("q", global_concurrency=0).concurrency == 0  # a paused queue


@pytest.mark.parametrize("kwargs", [
    {"concurrency": 1, "global_concurrency": 1},
    {"global_concurrency": 1, "worker_concurrency": 2},
    {"global_concurrency": 1, "partition_concurrency": 2},
    {"partition_concurrency": 1, "partition_worker_concurrency": 2},
    {"worker_concurrency": 1, "partition_worker_concurrency": 2},
    {"partition_concurrency": 0},
    {"partition_worker_concurrency": 0},
    {"worker_concurrency": -1},
    {"limiter": {"limit": 1}},
    {"partition_limiter": {"period": 1.0}},
    {"limiter": {"limit": 0, "period": 1.0}},
    {"polling_interval_sec": 0},
])
def test_contradictory_settings_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(QueueConfigurationError) as info:
        build("q", **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError) and isinstance(info.value, TetherError)


def test_reserved_names() -> None:
    with pytest.raises(QueueConfigurationError, match="reserved"):
        check_name("_tether_mine")
    check_name("mine")


def test_enqueue_options_need_a_queue_and_fit_together() -> None:
    check_enqueue("q", deduplication_id="d", priority=3, delay_seconds=1, duplication_policy="return-existing")
    check_enqueue(None)
    check_enqueue(None, duplication_policy="reject")
    for option in ({"deduplication_id": "d"}, {"priority": 0}, {"queue_partition_key": "k"},
                   {"delay_seconds": 1.0}):
        with pytest.raises(QueueConfigurationError, match=f"{next(iter(option))}.*not being enqueued"):
            check_enqueue(None, **option)  # type: ignore[arg-type]
    with pytest.raises(QueueConfigurationError, match="requires a queue"):
        check_enqueue(None, duplication_policy="return-existing")
    with pytest.raises(QueueConfigurationError, match="requires a deduplication_id"):
        check_enqueue("q", duplication_policy="return-existing")
    with pytest.raises(QueueConfigurationError, match="Invalid duplication_policy"):
        check_enqueue("q", deduplication_id="d", duplication_policy="keep")
    with pytest.raises(QueueConfigurationError, match="partitioned"):
        check_enqueue("q", deduplication_id="d", queue_partition_key="k")
    with pytest.raises(ValueError):
        check_enqueue("q", priority=-1)
