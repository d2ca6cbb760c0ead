"""Cross-process wake-ups on PostgreSQL: one LISTEN connection per process, reconnecting when it drops.

Writers call ``pg_notify`` from triggers inside their own transaction, so a wake-up is never delivered before
the data it announces is committed. When the connection drops (a server restart, a network cut) the thread
reconnects with jittered backoff and LISTENs again; then every waiter is woken once to re-check (the runtime
spreads those wake-ups over a moment), since notifications sent while disconnected are lost.
"""

from __future__ import annotations

import json
import random
import select
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq

from tether.storage.wakeups import Listener, WakeupCallback

# How often the listening thread looks up from the socket to see whether it should stop (bounds close()).
_STOP_CHECK_SECONDS = 0.2
# Longest pause between two reconnection attempts after the connection dropped.
_MAX_RECONNECT_SECONDS = 2.0


class PostgresListener(Listener):
    def __init__(self, url: str, ignore_pids: set[int] | None = None) -> None:
        self.url = url
        self.ignore_pids = ignore_pids if ignore_pids is not None else set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._ready = threading.Event()

    def start(self, callback: WakeupCallback, on_reconnect: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=self._run, args=(callback, on_reconnect),
                                        name="tether-pg-listener", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def _run(self, callback: WakeupCallback, on_reconnect: Callable[[], None]) -> None:
        backoff = 0.1
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    self._conn = conn
                    conn.execute("LISTEN tether")
                    self._ready.set()
                    if not first:
                        on_reconnect()
                    first = False
                    backoff = 0.1
                    self._listen(conn.pgconn, callback)
            except psycopg.Error:
                # Jittered, so that the processes of a fleet do not all reconnect in the same instant.
                if self._stop.wait(backoff * random.uniform(0.5, 1.0)):
                    break
                backoff = min(backoff * 2, _MAX_RECONNECT_SECONDS)
        self._ready.set()

    def _listen(self, pgconn: Any, callback: WakeupCallback) -> None:
        """Read notifications straight from libpq until stopped. Every write of this process comes back here
        too (the engine has woken its waiters already) and is dropped by backend PID before any decoding:
        psycopg's ``notifies()`` generator cost about 30,000 instructions per notification, one per send,
        set_event, stream write and status change (docs/benchmarks.md, send path).

        Raises:
            psycopg.OperationalError: the connection was lost (the caller reconnects).
        """
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
        ignore = self.ignore_pids
        while not self._stop.is_set():
            if not poller.poll(_STOP_CHECK_SECONDS * 1000):
                continue
            pgconn.consume_input()  # raises OperationalError when the server closed the connection
            while (note := pgconn.notifies()) is not None:
                if note.be_pid not in ignore:
                    _dispatch(note.extra, callback)
            if pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the listening connection was lost")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _dispatch(payload: bytes | str, callback: WakeupCallback) -> None:
    try:
        parts = json.loads(payload)
    except ValueError:
        return
    if isinstance(parts, list) and len(parts) >= 2:
        callback(str(parts[0]), str(parts[1]), str(parts[2]) if len(parts) > 2 else "*")
