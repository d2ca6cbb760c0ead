"""SQLite backend: stdlib ``sqlite3`` in WAL mode, a small connection pool, BEGIN IMMEDIATE writes.

``synchronous=NORMAL`` in WAL mode keeps every committed checkpoint across a process crash (SIGKILL); only an
OS crash or power loss can lose the last transactions. See docs/guarantees.md.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from tether.errors import StorageError
from tether.storage.base import Listener
from tether.storage.sql import load_migrations, load_queries
from tether.storage.sqlstore import Cursor, SqlStore, UniqueViolation

_QUERIES = load_queries("tether.storage.sqlite")


class _SqliteSession:
    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        return self.conn.execute(_QUERIES[name], params or {})

    def run_sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        return self.conn.execute(sql, params or ())


def _translate(exc: sqlite3.Error) -> StorageError:
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return UniqueViolation(str(exc))
    return StorageError(f"SQLite error: {exc}")


class SqliteStore(SqlStore):
    backend = "sqlite"
    queries = _QUERIES
    placeholder = "?"
    _no_limit = "-1"
    _explain = "EXPLAIN QUERY PLAN"

    def __init__(self, path: str, *, pool_size: int = 10, poll_interval: float = 0.05) -> None:
        self.path = path
        self.poll_interval = poll_interval
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open SQLite database {path!r}: {exc}") from exc
        self._pool.put(conn)
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._all.append(conn)
        return conn

    def _migrate(self) -> None:
        with self._tx() as s:  # BEGIN IMMEDIATE: concurrent launches run the migrations one at a time
            s.run_sql("CREATE TABLE IF NOT EXISTS tether_migrations (version INTEGER PRIMARY KEY, "
                      "name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
            done = {r[0] for r in s.run_sql("SELECT version FROM tether_migrations").fetchall()}
            for version, name, sql in load_migrations("tether.storage.sqlite"):
                if version in done:
                    continue
                for statement in _split_statements(sql):
                    s.run_sql(statement)
                s.run_sql("INSERT INTO tether_migrations VALUES (?, ?, ?)",
                          (version, name, int(time.time() * 1000)))

    def applied_migrations(self) -> list[int]:
        with self._auto() as s:
            return [r[0] for r in s.run_sql("SELECT version FROM tether_migrations ORDER BY version").fetchall()]

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise StorageError("The store is closed")
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            if self._closed:
                conn.close()
            else:
                self._pool.put(conn)

    @contextmanager
    def _tx(self) -> Iterator[_SqliteSession]:
        with self._borrow() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _translate(exc) from exc
            try:
                yield _SqliteSession(conn)
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc) from exc
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK")
                    raise _translate(exc) from exc

    @contextmanager
    def _auto(self) -> Iterator[_SqliteSession]:
        with self._borrow() as conn:
            try:
                yield _SqliteSession(conn)
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

    def _limit(self, limit: int | None) -> int | None:
        return -1 if limit is None else limit

    def listener(self) -> Listener:
        from tether.storage.sqlite.listener import SqliteListener

        return SqliteListener(self.path, self.poll_interval)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break


def _split_statements(script: str) -> list[str]:
    """Split a script into statements; triggers contain ';' inside BEGIN ... END, so ask SQLite."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()):
        statements.append(buf.strip())
    return statements
