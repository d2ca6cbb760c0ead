"""A call posted to the I/O threads with nobody waiting for it cannot hand its exception to anyone: it is
logged, and the thread serves the next call."""

from __future__ import annotations

import logging
import threading

from tether.engine.threads import DaemonExecutor


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_exception_of_a_posted_call_is_logged_and_the_thread_goes_on() -> None:
    # A handler on the "tether" logger itself: a launch may have stopped it propagating to the root logger.
    kept = _Kept()
    logger = logging.getLogger("tether")
    logger.addHandler(kept)
    level = logger.level
    logger.setLevel(logging.ERROR)  # whatever log_level an earlier launch left
    pool = DaemonExecutor(1, "post-test")
    served = threading.Event()

    def fails() -> None:
        raise ValueError("lost without a log")

    try:
        pool.post(fails)
        pool.post(served.set)
        assert served.wait(60)  # the same single thread ran the next call
        failed = [r for r in kept.records if r.exc_info and isinstance(r.exc_info[1], ValueError)]
        assert len(failed) == 1 and "post-test-0" in failed[0].getMessage()
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
        pool.shutdown()
