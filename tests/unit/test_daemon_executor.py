"""A call posted to the I/O threads with nobody waiting for it cannot hand its exception to anyone: it is
logged, and the thread serves the next call."""

from __future__ import annotations

import logging
import threading

import pytest

from tether.engine.threads import DaemonExecutor


def test_an_exception_of_a_posted_call_is_logged_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    pool = DaemonExecutor(1, "post-test")
    served = threading.Event()

    def fails() -> None:
        raise ValueError("lost without a log")

    try:
        with caplog.at_level(logging.ERROR, logger="tether"):
            pool.post(fails)
            pool.post(served.set)
            assert served.wait(60)  # the same single thread ran the next call
        failed = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], ValueError)]
        assert len(failed) == 1 and "post-test-0" in failed[0].getMessage()
    finally:
        pool.shutdown()
