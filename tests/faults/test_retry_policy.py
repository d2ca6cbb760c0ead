"""The retry pause after a database fault: exponential, capped, jittered into the upper half of the interval;
and a caller's own deadline is the only thing that ends the retrying early."""

from __future__ import annotations

import itertools

from tether.engine.outage import FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS, gives_up, retry_delay


def test_pauses_grow_then_stay_capped() -> None:
    tops = [retry_delay(attempt, 1.0) for attempt in range(12)]
    assert tops[0] == FIRST_RETRY_SECONDS
    assert all(b >= a for a, b in itertools.pairwise(tops))
    assert tops[-1] == MAX_RETRY_SECONDS
    assert retry_delay(10_000, 0.999) <= MAX_RETRY_SECONDS  # no overflow however long the outage lasts


def test_jitter_spreads_pauses_over_the_upper_half() -> None:
    for attempt in range(8):
        top = retry_delay(attempt, 1.0)
        assert retry_delay(attempt, 0.0) == top / 2
        assert top / 2 <= retry_delay(attempt, 0.5) <= top


def test_only_a_deadline_ends_the_retrying() -> None:
    assert not gives_up(now_ms=10_000, delay_s=3600.0, deadline_ms=None)
    assert not gives_up(now_ms=10_000, delay_s=0.5, deadline_ms=11_000)
    assert gives_up(now_ms=10_000, delay_s=1.0, deadline_ms=11_000)
    assert gives_up(now_ms=12_000, delay_s=0.0, deadline_ms=11_000)
