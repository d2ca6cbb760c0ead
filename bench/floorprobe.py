"""Floor operations timed inside a scenario's own process, interleaved with what the scenario measures.

On this shared machine the cost of a commit moves by several times within minutes, so a floor measured in
another minute (the ``floor`` scenario) says little about a latency measured now. A latency scenario therefore
opens a :class:`FloorProbe` on its own database and, between its round trips and after the same idle gap,
times the operations its floor is made of (``bench/floors.py``); those samples are reported as
``floor: <operation>`` metrics of the same record, and the report divides by them.

The probe uses no workflow library: a psycopg connection talking to libpq (``pgconn.exec_params``) and a
second one ``LISTEN``-ing in a thread on PostgreSQL; ``sqlite3`` in WAL mode with ``synchronous=NORMAL`` on
a file next to the scenario's database on SQLite; and an event loop idle in a thread for the in-process hop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any

PAYLOAD = b"x" * 64


class FloorProbe:
    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="floor-loop", daemon=True)
        self._loop_thread.start()
        self._woke = threading.Event()
        self._woke_at = 0.0
        self._stop = threading.Event()
        self._heard = threading.Event()
        self._heard_at = 0.0
        self._conn: Any = None
        self._listen: Any = None
        self._listen_thread: threading.Thread | None = None
        if self.sqlite:
            self._conn = sqlite3.connect(url.removeprefix("sqlite:///") + ".floor", isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, payload BLOB)")
        else:
            import psycopg

            self._conn = psycopg.connect(url, autocommit=True)
            self._conn.execute("CREATE TABLE IF NOT EXISTS public.bench_floor "
                               "(id bigserial PRIMARY KEY, payload bytea NOT NULL)")
            self._listen = psycopg.connect(url, autocommit=True)
            self._listen.execute("LISTEN bench_floor")
            self._listen_thread = threading.Thread(target=self._listen_loop, name="floor-listener", daemon=True)
            self._listen_thread.start()
        for _ in range(5):  # warm up: plans, files
            self.commit()
            self.notified()
            self.wake()

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            for _ in self._listen.notifies(timeout=0.2):
                self._heard_at = time.perf_counter()
                self._heard.set()

    def _exec(self, sql: bytes) -> None:
        from psycopg import pq

        res = self._conn.pgconn.exec_params(sql, [PAYLOAD], param_formats=[1])
        if res.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            raise RuntimeError(res.error_message.decode(errors="replace"))

    def commit(self) -> float:
        """Seconds for one autocommit one-row INSERT (one round trip and one WAL flush on PostgreSQL)."""
        start = time.perf_counter()
        if self.sqlite:
            self._conn.execute("INSERT INTO bench_floor (payload) VALUES (?)", (PAYLOAD,))
        else:
            self._exec(b"INSERT INTO public.bench_floor (payload) VALUES ($1)")
        return time.perf_counter() - start

    def notified(self) -> float:
        """PostgreSQL: seconds from the call of a one-row INSERT carrying a NOTIFY until the listening
        connection's thread has it. SQLite (no notifications; a wake-up within one process is a thread hop):
        a commit, then a thread wake-up."""
        if self.sqlite:
            return self.commit() + self.wake()
        self._heard.clear()
        start = time.perf_counter()
        self._exec(b"WITH i AS (INSERT INTO public.bench_floor (payload) VALUES ($1) RETURNING 1) "
                   b"SELECT pg_notify('bench_floor', 'x') FROM i")
        if not self._heard.wait(10):
            raise TimeoutError("NOTIFY not delivered")
        return self._heard_at - start

    def _hit(self) -> None:
        self._woke_at = time.perf_counter()
        self._woke.set()

    def wake(self) -> float:
        """Seconds from ``call_soon_threadsafe`` to the callback running on an event loop idle in another thread."""
        self._woke.clear()
        start = time.perf_counter()
        self._loop.call_soon_threadsafe(self._hit)
        if not self._woke.wait(10):
            raise TimeoutError("thread wake-up not delivered")
        return self._woke_at - start

    def close(self) -> None:
        self._stop.set()
        if self._listen_thread is not None:
            self._listen_thread.join(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(5)
        self._loop.close()
        for conn in (self._conn, self._listen):
            if conn is not None:
                conn.close()


class FloorSamples:
    """The probe's samples, by operation name and repetition, turned into ``floor: ...`` metrics at the end."""

    def __init__(self, probe: FloorProbe) -> None:
        self.probe = probe
        self.samples: dict[str, list[list[float]]] = {}

    def new_rep(self) -> None:
        for reps in self.samples.values():
            reps.append([])

    def _add(self, name: str, value: float) -> None:
        reps = self.samples.setdefault(name, [[]])
        reps[-1].append(value)

    @property
    def delivered(self) -> str:
        """The name of the commit-and-wake-up operation on this backend."""
        return "commit+wake-up" if self.probe.sqlite else "commit+NOTIFY delivered"

    def after_idle(self, settle_s: float) -> None:
        """One sample of each operation after ``settle_s`` of sleep (as the scenario's own calls wait):
        a commit; a commit with its wake-up delivered, and a commit right after it (the receiving side's
        commit, on a machine that is awake by then); a thread wake-up."""
        time.sleep(settle_s)
        self._add("commit after idle", self.probe.commit())
        time.sleep(settle_s)
        self._add(f"{self.delivered} after idle", self.probe.notified())
        self._add("commit right after", self.probe.commit())
        time.sleep(settle_s)
        self._add("thread wake-up after idle", self.probe.wake())

    def back_to_back(self, n: int) -> None:
        """``n`` samples of each operation, one right after the other."""
        for name, op in (("commit", self.probe.commit), (self.delivered, self.probe.notified),
                         ("thread wake-up", self.probe.wake)):
            for _ in range(n):
                self._add(f"{name} back-to-back", op())

    def metrics(self) -> list[Any]:
        from bench.common import rep_latency_metrics

        out = []
        for name, reps in self.samples.items():
            for m in rep_latency_metrics(f"floor: {name}", reps):
                m.better = ""
                out.append(m)
        return out
