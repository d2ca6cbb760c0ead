"""SQLite backend: stdlib ``sqlite3`` in WAL mode, a small connection pool, BEGIN IMMEDIATE writes.

``synchronous=NORMAL`` in WAL mode keeps every committed checkpoint across a process crash (SIGKILL); only an
OS crash or power loss can lose the last transactions. See docs/guarantees.md.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tether.errors import ConfigError, DatabaseUnavailableError, StorageError
from tether.storage.session import Cursor, UniqueViolation
from tether.storage.sql import load_migrations, load_queries
from tether.storage.sqlite.jsonb import sql_contains
from tether.storage.sqlstore import SqlStore
from tether.storage.wakeups import Listener

_QUERIES = load_queries("tether.storage.sqlite")


class _SqliteSession:
    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        return self.conn.execute(_QUERIES[name], params or {})

    def run_sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        return self.conn.execute(sql, params or ())


# Primary result codes of faults that pass (or that an operator fixes) without the data being wrong: another
# connection holds the lock past the busy timeout, the disk is full or failing, the file went read-only or
# cannot be opened right now. Operations meeting them are retried; anything else is a real error.
_PASSING_FAULTS = {
    5,   # SQLITE_BUSY
    6,   # SQLITE_LOCKED
    7,   # SQLITE_NOMEM
    8,   # SQLITE_READONLY
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
}


def _primary_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF  # extended code -> primary


def _translate(exc: sqlite3.Error) -> StorageError:
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return UniqueViolation(str(exc))
    if _primary_code(exc) in _PASSING_FAULTS:
        return DatabaseUnavailableError(f"SQLite database unavailable: {exc}")
    return StorageError(f"SQLite error: {exc}")


class SqliteStore(SqlStore):
    backend = "sqlite"
    queries = _QUERIES
    placeholder = "?"
    _named_sql = _QUERIES
    _no_limit = "-1"
    _explain = "EXPLAIN QUERY PLAN"

    def _attributes_contain(self, ph: str) -> str:
        # JSONB containment as PostgreSQL defines it, by a function registered on each connection (jsonb.py);
        # evaluated per row that the other conditions leave, as SQLite has no index for it.
        return f"(attributes IS NOT NULL AND tether_json_contains(attributes, {ph}))"

    def __init__(self, path: str, *, pool_size: int = 10, poll_interval: float = 0.05,
                 busy_timeout: float = 60.0) -> None:
        """Open the database file (creating it) and migrate it.

        Raises:
            StorageError: the file cannot be opened, migrated or written (a read-only file fails here, at
                launch, rather than at the first write).
            ConfigError: the file is a DBOS system database (nothing is changed in it).
        """
        self.path = path
        self.poll_interval = poll_interval
        self.busy_timeout = busy_timeout
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        _refuse_dbos_file(path)
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open SQLite database {path!r}: {exc}") from exc
        self._pool.put(conn)
        try:
            self._migrate()
        except StorageError as exc:
            self.close()
            raise StorageError(f"Cannot use SQLite database {path!r}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self.busy_timeout)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.create_function("tether_json_contains", 2, sql_contains, deterministic=True)
        except sqlite3.Error:
            conn.close()
            raise
        with self._lock:
            self._all.append(conn)
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL (a no-op once it is). The switch takes an exclusive lock, and SQLite answers
        "database is locked" at once, without its busy handler, while another process opening the same new
        file is switching it too; so retry, for at most the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

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
            # A read-only file opens and reads fine; write one row (to its own value) so that it fails now.
            try:
                s.run_sql("UPDATE tether_migrations SET applied_at = applied_at "
                          "WHERE version = (SELECT MAX(version) FROM tether_migrations)")
            except sqlite3.OperationalError as exc:
                if _primary_code(exc) == 8:  # SQLITE_READONLY
                    raise StorageError(f"the database is read-only ({exc}); Tether needs to write to it") from exc
                raise

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
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise _translate(exc) from exc
        try:
            yield conn
        finally:
            if self._closed or conn.in_transaction:  # a transaction left open cannot be handed out again
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
                _rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc) from exc
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    _rollback(conn)
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


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is left of a failed transaction. After some errors (disk full, I/O error) SQLite has
    already rolled back by itself; a ROLLBACK then fails with "no transaction is active" and would hide the
    error that matters, so it is only issued while a transaction is open, and its own failure is dropped
    (the caller re-raises the cause)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


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


def _refuse_dbos_file(path: str) -> None:
    """A SQLite file that DBOS created holds tables of the same names as Tether's (``workflow_status``,
    ``operation_outputs``, ...), so the two cannot share it: say so, and how to move, before touching it.

    Raises:
        ConfigError: ``path`` holds DBOS's system tables and no Tether tables.
    """
    if not os.path.isfile(path):
        return  # a new database
    try:  # read-only, and not waiting long on a lock (another process creating a new Tether file holds one)
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return  # unreadable: opening it for real says why
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    except sqlite3.Error:
        return
    finally:
        conn.close()
    if "dbos_migrations" in names and "tether_migrations" not in names:
        raise ConfigError(
            f"{path} is a DBOS system database: Tether's tables have the same names as DBOS's, so they cannot "
            f"share one SQLite file. Copy it into a new Tether database with: tether import-dbos --from "
            f"sqlite:///{path} --to sqlite:///<new file> (nothing was changed in {path})")
