"""Cross-process wake-ups on SQLite: a thread that polls the ``wakeups`` log written by triggers.

It reads the log only when ``PRAGMA data_version`` shows that another connection committed, so an idle
database costs one tiny query per interval. Wake-ups from this process's own writes are also delivered
in-process without waiting for the poll; the duplicates this causes are harmless (waiters re-check).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

from tether.storage.sql import load_queries
from tether.storage.wakeups import Listener, WakeupCallback

_QUERIES = load_queries("tether.storage.sqlite")
_RETAIN_MS = 60_000


class SqliteListener(Listener):
    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, callback: WakeupCallback, on_reconnect: Callable[[], None]) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        conn.execute("PRAGMA busy_timeout = 60000")
        last_id = conn.execute(_QUERIES["wakeups_max"]).fetchone()[0]
        self._thread = threading.Thread(target=self._run, args=(conn, last_id, callback),
                                        name="tether-sqlite-listener", daemon=True)
        self._thread.start()

    def _run(self, conn: sqlite3.Connection, last_id: int, callback: WakeupCallback) -> None:
        version = None
        last_trim = time.monotonic()
        try:
            while not self._stop.wait(self.interval):
                try:
                    now_version = conn.execute("PRAGMA data_version").fetchone()[0]
                    if now_version == version:
                        continue
                    version = now_version
                    while True:
                        rows = conn.execute(_QUERIES["wakeups_after"], {"after": last_id}).fetchall()
                        for row_id, kind, wfid, key in rows:
                            last_id = row_id
                            callback(kind, wfid, key)
                        if len(rows) < 5000:
                            break
                    if time.monotonic() - last_trim > 10:
                        last_trim = time.monotonic()
                        conn.execute(_QUERIES["wakeups_trim"], {"before": int(time.time() * 1000) - _RETAIN_MS})
                except sqlite3.Error:
                    continue  # a busy database; try again next interval
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
