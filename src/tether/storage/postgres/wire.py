"""A thin, fast path to PostgreSQL over libpq (through psycopg's ``pq`` binding).

psycopg's high-level ``Connection.execute`` (through its pool) spent about twice the CPU of a direct libpq
call per one-row autocommit INSERT in a micro-benchmark here (≈80-110 µs against ≈40 µs). When commits are
bound by the WAL flush (≈250 µs) the wall-time difference is small, but CPU is what the GIL shares between
workflows. A checkpoint is exactly such a statement, so the store talks to libpq itself: named statements are prepared
once per connection and run with ``PQexecPrepared`` (the GIL is released while libpq waits), parameters go
as text (binary for ``bytes``), results come back in binary and are decoded for the few types the schema
uses (``codec.py``). psycopg still opens the connections, runs migrations and listens for notifications.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import pq

from tether.errors import DatabaseUnavailableError, StorageError
from tether.storage.postgres.codec import PreparedQuery, decoder, encode, positional
from tether.storage.session import ForeignKeyViolation, UniqueViolation

# SQLSTATEs of faults that pass: the connection or server went away (class 08, 57P0x shutdowns), the server
# ran out of something (class 53: disk full, memory, connections), an I/O error (class 58), the database is
# read-only for now (25006), or the transaction lost a race it can simply run again (40001, 40P01).
_PASSING_CLASSES = (b"08", b"53", b"58")
_PASSING_STATES = {b"57P01", b"57P02", b"57P03", b"25006", b"40001", b"40P01", b"55P03"}
# ... except a protocol violation (08P01: e.g. a bind with the wrong number of parameters), which is a bug in
# the statement, not the network: retrying it would only hide it behind "database unavailable" forever.
_NOT_PASSING = {b"08P01"}
# Read once: an enum member looked up on its class on every statement showed in the profile.
_SUCCEEDED = frozenset({int(pq.ExecStatus.COMMAND_OK), int(pq.ExecStatus.TUPLES_OK)})
_TUPLES_OK = int(pq.ExecStatus.TUPLES_OK)
_CONNECTION_OK = int(pq.ConnStatus.OK)
# Connecting fails for good (not for now) when the credentials or the database name are wrong.
_FATAL_CONNECT_CLASSES = ("28", "3D")


def is_passing_fault(sqlstate: bytes | None) -> bool:
    """Whether an error with this SQLSTATE is an infrastructure fault worth retrying."""
    return sqlstate is not None and sqlstate not in _NOT_PASSING and (
        sqlstate[:2] in _PASSING_CLASSES or sqlstate in _PASSING_STATES)


def connect_error(exc: psycopg.Error) -> StorageError:
    """Translate a failure to connect: wrong credentials or database are errors, anything else (refused,
    starting up, shutting down, too many connections) means the server is unavailable for now."""
    state = exc.sqlstate or ""
    if state[:2] in _FATAL_CONNECT_CLASSES:
        return StorageError(f"Cannot connect to PostgreSQL: {exc}")
    return DatabaseUnavailableError(f"Cannot connect to PostgreSQL: {exc}")


class WireCursor:
    """The part of the DB-API cursor the store uses: rows decoded, and the affected-row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, res: pq.abc.PGresult) -> None:
        tuples = res.command_tuples
        self.rowcount = tuples if tuples is not None and tuples >= 0 else 0
        nfields = res.nfields
        if nfields == 0:
            self._rows: list[tuple[Any, ...]] = []
            return
        decoders = [decoder(res.ftype(i)) for i in range(nfields)]
        rows = []
        for r in range(res.ntuples):
            row = []
            for c in range(nfields):
                v = res.get_value(r, c)
                row.append(None if v is None else decoders[c](v))
            rows.append(tuple(row))
        self._rows = rows
        if res.status == _TUPLES_OK:
            self.rowcount = len(rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


class WireConnection:
    __slots__ = ("conn", "pgconn", "poller", "prepared")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self.prepared: set[bytes] = set()
        self.poller: Any = None  # made on first use by looks_alive (the socket stays the same)

    def _check(self, res: pq.abc.PGresult) -> pq.abc.PGresult:
        if res.status in _SUCCEEDED:
            return res
        sqlstate = res.error_field(pq.DiagnosticField.SQLSTATE)
        message = (res.error_message or self.pgconn.error_message or b"").decode(errors="replace").strip()
        if sqlstate == b"23505":
            raise UniqueViolation(message)
        if sqlstate == b"23503":
            raise ForeignKeyViolation(message)
        if self.broken or is_passing_fault(sqlstate):
            raise DatabaseUnavailableError(f"PostgreSQL unavailable: {message}")
        raise StorageError(f"PostgreSQL error: {message}")

    def _lost(self, exc: psycopg.Error) -> StorageError:
        """libpq could not even send the statement or read a result: the connection is gone."""
        message = f"PostgreSQL connection lost: {exc}"
        return DatabaseUnavailableError(message) if self.broken else StorageError(message)

    def _exec(self, query: PreparedQuery, params: Mapping[str, Any]) -> pq.abc.PGresult:
        values, formats = encode(query.ordered(params))
        try:
            if query.statement not in self.prepared:
                self._check(self.pgconn.prepare(query.statement, query.sql))
                self.prepared.add(query.statement)
            res = self.pgconn.exec_prepared(query.statement, values, formats,  # type: ignore[arg-type]  # NULLs are None
                                            result_format=1)
        except psycopg.Error as exc:
            raise self._lost(exc) from exc
        return self._check(res)

    def run(self, query: PreparedQuery, params: Mapping[str, Any]) -> WireCursor:
        return WireCursor(self._exec(query, params))

    def run_count(self, query: PreparedQuery, params: Mapping[str, Any]) -> int:
        """:meth:`run` for a statement that returns no rows: the rows it changed, without a cursor."""
        tuples = self._exec(query, params).command_tuples
        return tuples if tuples is not None and tuples >= 0 else 0

    def run_sql(self, sql: str, params: Sequence[Any] | None) -> WireCursor:
        values, formats = encode(params or ())
        try:
            res = self.pgconn.exec_params(positional(sql), values, param_formats=formats,
                                          result_format=1)
        except psycopg.Error as exc:
            raise self._lost(exc) from exc
        return WireCursor(self._check(res))

    def simple(self, command: bytes) -> None:
        try:
            res = self.pgconn.exec_(command)
        except psycopg.Error as exc:
            raise self._lost(exc) from exc
        self._check(res)

    def pipeline(self, calls: Sequence[tuple[PreparedQuery, Mapping[str, Any]]]) -> list[WireCursor]:
        """Run the statements as one transaction in one round trip (libpq's pipeline mode): every statement
        is sent, then one Sync, which commits them all together -- or rolls them all back if one failed --
        and only then are the results read. Callers keep batches to a few hundred short statements: the
        results (a few bytes each) are read only after everything is sent.

        The connection is non-blocking meanwhile and every wait is a ``poll`` on its socket: psycopg calls
        libpq's ``PQgetResult`` (and the flush in ``PQpipelineSync``) with the GIL held, so a blocking wait
        there -- for the commit, or for a row lock another transaction holds -- would stop every thread of
        the process, including the one whose transaction holds that lock.

        Raises:
            UniqueViolation, ForeignKeyViolation, StorageError: the first statement that failed (a passing fault
                such as a lost deadlock included, as a StorageError); nothing was committed.
            DatabaseUnavailableError: a fault, or the connection lost or left in an unknown state (it is
                closed, so the pool drops it): whether the transaction committed is unknown.
        """
        pg = self.pgconn
        sent: list[bytes | None] = []  # per command sent: the statement it prepares, or None for an execution
        try:
            pg.nonblocking = 1  # set with nothing pending: no flush, so no wait here
            pg.enter_pipeline_mode()
            preparing: set[bytes] = set()
            for query, params in calls:
                if query.statement not in self.prepared and query.statement not in preparing:
                    pg.send_prepare(query.statement, query.sql)
                    preparing.add(query.statement)
                    sent.append(query.statement)
                values, formats = encode(query.ordered(params))
                pg.send_query_prepared(query.statement, values, formats, result_format=1)
                sent.append(None)
            pg.pipeline_sync()
            self._flush_released()
            cursors: list[WireCursor] = []
            failure: StorageError | None = None
            for prepared in sent:
                res = self._result_released()
                while self._result_released() is not None:  # each command's results end with a NULL
                    pass
                if res is None or res.status == pq.ExecStatus.PIPELINE_ABORTED:
                    continue  # skipped: an earlier statement failed
                try:
                    self._check(res)
                except StorageError as exc:
                    failure = failure or exc
                    continue
                if prepared is not None:
                    self.prepared.add(prepared)
                else:
                    cursors.append(WireCursor(res))
            end = self._result_released()
            if end is None or end.status != pq.ExecStatus.PIPELINE_SYNC:
                raise psycopg.OperationalError("pipeline ended without its Sync")
            pg.exit_pipeline_mode()
            pg.nonblocking = 0  # everything was sent: no flush, so no wait here
        except psycopg.Error as exc:
            self.conn.close()  # in an unknown state: never reuse it
            raise DatabaseUnavailableError(f"PostgreSQL connection lost in a pipeline: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise
        if failure is not None:
            if isinstance(failure, DatabaseUnavailableError):
                # The Sync came back, so the transaction was rolled back for sure: a batch can lose a deadlock
                # (or a lock or serialization failure) that none of its statements would meet alone. Its
                # fate is known, so it is no fault of unknown fate: the caller may write each statement again.
                raise StorageError(f"PostgreSQL rolled the pipeline back: {failure}") from failure
            raise failure
        return cursors

    def _wait_socket(self, events: int) -> int:
        """Wait (GIL released) until the socket is ready for ``events``; the events that happened.

        Raises:
            psycopg.OperationalError: the connection is not usable any more.
        """
        if self.broken:
            raise psycopg.OperationalError("the connection is lost")
        poller = select.poll()
        poller.register(self.pgconn.socket, events)
        while True:
            ready = poller.poll()
            if ready:
                return ready[0][1]

    def _flush_released(self) -> None:
        """Send what libpq still holds of a non-blocking pipeline, reading whatever the server sends meanwhile
        (so neither side waits for the other), without holding the GIL while waiting."""
        pg = self.pgconn
        while pg.flush() == 1:
            if self._wait_socket(select.POLLIN | select.POLLOUT) & ~select.POLLOUT:
                pg.consume_input()

    def _result_released(self) -> pq.abc.PGresult | None:
        """``PQgetResult`` once it would not block: the waiting is done here, GIL released."""
        pg = self.pgconn
        while pg.is_busy():
            self._wait_socket(select.POLLIN)
            pg.consume_input()
        return pg.get_result()

    @property
    def broken(self) -> bool:
        return bool(self.pgconn.status != _CONNECTION_OK)

    def looks_alive(self) -> bool:
        """An idle connection has nothing to read; if its socket is readable, the server has sent an error or
        closed it (a restart, an idle timeout, a terminated backend). A cheap check before handing it out."""
        if self.pgconn.status != _CONNECTION_OK:  # broken (written out: this runs before every statement)
            return False
        try:
            if self.poller is None:
                self.poller = select.poll()
                self.poller.register(self.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
            return not self.poller.poll(0)
        except (OSError, psycopg.Error):
            return False

    def close(self) -> None:
        self.conn.close()


class WirePool:
    """A LIFO pool of autocommit connections, opened on demand up to ``size`` and replaced when broken.

    It never hands out a connection it can tell is dead: an idle connection whose socket has something to read
    (the server closed it) is dropped at checkout, and when a connection is lost in use every idle one is
    dropped too, since a server restart kills them all at once. Failing to connect, or to get a connection in
    time, raises :class:`DatabaseUnavailableError` (the caller retries).

    Every storage call checks a connection out and back in, so the common case -- a slot free, an idle
    connection waiting -- takes one uncontended lock and no Python-level semaphore or queue (the send-path
    profile in docs/benchmarks.md had those at about a third of the Python around a statement).
    """

    def __init__(self, url: str, size: int, setup: str, connect_timeout: int = 10) -> None:
        self.url = url
        self.setup = setup.encode()
        self.connect_timeout = connect_timeout
        self._idle: list[WireConnection] = []  # LIFO: the most recently used (warmest) connection first
        # Server process IDs of this pool's connections: the listener skips the NOTIFYs they send, since
        # the engine already woke this process's waiters itself after each of its writes.
        self.backend_pids: set[int] = set()
        self._size = size
        self._in_use = 0
        self._waiting = 0
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._closed = False
        self._idle.append(self._open())

    def _open(self) -> WireConnection:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.Error as exc:
            raise connect_error(exc) from exc
        wire = WireConnection(conn)
        try:
            wire.simple(self.setup)
        except StorageError:
            wire.close()
            raise
        self.backend_pids.add(wire.pgconn.backend_pid)
        return wire

    def _pop_idle(self) -> WireConnection | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _discard(self, wire: WireConnection) -> None:
        self.backend_pids.discard(wire.pgconn.backend_pid)
        wire.close()

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for wire in idle:
            self._discard(wire)

    def _release(self, wire: WireConnection | None) -> None:
        """Give back a slot, and ``wire`` to the idle list (None: it was discarded). Once the pool is closed
        ``wire`` is closed instead: checked under the lock, or one given back while :meth:`close` ran would be
        left open after it (a connection the server counts until this process ends)."""
        with self._lock:
            if wire is not None and not self._closed:
                self._idle.append(wire)
                wire = None
            self._in_use -= 1
            if self._waiting:
                self._freed.notify()
        if wire is not None:
            self._discard(wire)

    def take(self) -> WireConnection:
        """Check a connection out; give it back with :meth:`give`.

        Raises:
            StorageError: the pool is closed.
            DatabaseUnavailableError: no connection could be opened, or none was free within 30 s.
        """
        if self._closed:
            raise StorageError("The store is closed")
        with self._lock:
            if self._in_use >= self._size:
                deadline = time.monotonic() + 30
                self._waiting += 1
                try:
                    while self._in_use >= self._size:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise DatabaseUnavailableError("Timed out waiting for a free PostgreSQL connection")
                        self._freed.wait(remaining)
                finally:
                    self._waiting -= 1
            self._in_use += 1
            wire = self._idle.pop() if self._idle else None
        try:
            while wire is not None and not wire.looks_alive():
                self._discard(wire)
                wire = self._pop_idle()
            return wire if wire is not None else self._open()
        except BaseException:
            self._release(None)
            raise

    def give(self, wire: WireConnection) -> None:
        """Check a connection back in (closed instead if it broke, or if the pool was closed meanwhile)."""
        if wire.pgconn.status == _CONNECTION_OK:  # not broken: _release(wire) written out, it runs after every
            with self._lock:                      # statement
                if not self._closed:
                    self._idle.append(wire)
                    self._in_use -= 1
                    if self._waiting:
                        self._freed.notify()
                    return
        if wire.broken or self._closed:
            try:
                self._discard(wire)
                if not self._closed:
                    self._drop_idle()  # lost in use: the others were most likely cut off with it
            finally:
                self._release(None)
            return
        self._release(wire)

    def connection(self) -> Lease:
        """``with pool.connection() as wire:`` -- :meth:`take` and :meth:`give` around a block."""
        return Lease(self)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._drop_idle()


class Lease:
    """A connection checked out for the length of a ``with`` block (a class, not a generator: it runs around
    every storage call)."""

    __slots__ = ("pool", "wire")

    def __init__(self, pool: WirePool) -> None:
        self.pool = pool

    def __enter__(self) -> WireConnection:
        self.wire = self.pool.take()
        return self.wire

    def __exit__(self, *exc: object) -> None:
        self.pool.give(self.wire)
