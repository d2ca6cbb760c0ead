"""Riding out database outages: how long to wait between tries, how long a caller is willing to wait, and
one log line per outage rather than one per failed call.

Every storage call of the engine goes through :meth:`tether.engine.runtime.Runtime.io`. When it fails with
:class:`~tether.errors.DatabaseUnavailableError` (connection lost, server restarting, SQLite lock held past
the busy timeout, disk full, read-only), it is tried again after :func:`retry_delay`, until it succeeds. Only
two things end the retrying: the runtime being destroyed, and a deadline the caller set itself (a timeout of
``get_result``, ``get_event`` and the like, outside workflows; ``Runtime.io_until``). Workflow code never sees
the fault: a workflow's checkpoints wait for the database however long it takes.
"""

from __future__ import annotations

import logging
import threading

FIRST_RETRY_SECONDS = 0.05
"""Pause before the first retry; it doubles with each failed try, up to :data:`MAX_RETRY_SECONDS`."""

MAX_RETRY_SECONDS = 1.0
"""Longest pause between two tries, so that a database that comes back is noticed within about a second."""

logger = logging.getLogger("tether")


def retry_delay(attempt: int, jitter: float) -> float:
    """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0), given ``jitter`` in [0, 1).

    Exponential from :data:`FIRST_RETRY_SECONDS` to :data:`MAX_RETRY_SECONDS`; the jitter spreads the tries of
    many callers over the upper half of the interval, so that they do not all hit a recovering server at once.
    """
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * float(2 ** min(attempt, 30)))
    return base * (0.5 + 0.5 * jitter)


def gives_up(now_ms: int, delay_s: float, deadline_ms: int | None) -> bool:
    """Whether a caller with ``deadline_ms`` would be past it after waiting ``delay_s`` more."""
    return deadline_ms is not None and now_ms + delay_s * 1000 >= deadline_ms


class OutageLog:
    """Logs the start of an outage once (a warning) and its end once (info), however many calls fail."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing = 0

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._failing += 1
            first = self._failing == 1
        if first:
            logger.warning("Database unavailable, retrying until it is back: %s", exc)

    def recovered(self) -> None:
        with self._lock:
            if self._failing == 0:
                return
            self._failing = 0
        logger.info("Database available again")
