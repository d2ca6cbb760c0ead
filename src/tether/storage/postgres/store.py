"""PostgreSQL backend: psycopg 3 with a connection pool; schema ``tether``; migrations under an advisory lock.

Connections run in autocommit mode, so a single-statement checkpoint costs one round trip; multi-statement
writes use an explicit transaction.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from tether.errors import NonExistentWorkflowError, StorageError, StreamClosedError
from tether.storage.base import Delivery, OperationRow, StepWrite, step_write_params
from tether.storage.postgres.codec import PreparedQuery
from tether.storage.postgres.wire import WireConnection, WirePool, connect_error
from tether.storage.session import Cursor, ForeignKeyViolation
from tether.storage.sql import load_migrations, load_queries
from tether.storage.sqlstore import SqlStore
from tether.storage.wakeups import Listener

SCHEMA = "tether"
_MIGRATION_LOCK = 0x7E7E_0001  # advisory lock key serializing concurrent launches


_SOURCES = load_queries("tether.storage.postgres")
_QUERIES = {name: PreparedQuery(f"tether_{name}", sql) for name, sql in _SOURCES.items()}


class _PgSession:
    __slots__ = ("wire",)

    def __init__(self, wire: WireConnection) -> None:
        self.wire = wire

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        return self.wire.run(_QUERIES[name], params or {})

    def run_sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        if isinstance(params, Mapping):
            raise TypeError("dynamic SQL takes positional ? parameters")
        return self.wire.run_sql(sql, params)


class _AutoSession(_PgSession):
    """One autocommit statement's connection, for a ``with`` block, and the session on it (a class rather
    than a generator-based context manager, and one object: it wraps every single-statement storage call)."""

    __slots__ = ("pool",)

    def __init__(self, pool: WirePool) -> None:
        self.pool = pool

    def __enter__(self) -> _PgSession:
        self.wire = self.pool.take()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.give(self.wire)


class PostgresStore(SqlStore):
    backend = "postgres"
    queries = _SOURCES
    placeholder = "?"  # rewritten to $n by the wire layer
    _named_sql = _SOURCES
    _caller_schema = SCHEMA
    _prefix_column = 'workflow_uuid COLLATE "C"'
    _true, _false = "TRUE", "FALSE"
    _json_strings = "SELECT jsonb_array_elements_text(CAST({ph} AS JSONB))"

    def _attributes_contain(self, ph: str) -> str:
        # The same expression as the GIN index workflow_status_attributes, so the index serves it.
        return f"(attributes IS NOT NULL AND CAST(attributes AS JSONB) @> CAST({ph} AS JSONB))"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        """Connect, migrate, and check that the database takes writes.

        Raises:
            DatabaseUnavailableError: the server cannot be reached now (refused, starting, shutting down).
            StorageError: wrong credentials or database, a failed migration, or a read-only database.
        """
        self.url = url
        self._control_pool: WirePool | None = None
        self._control_lock = threading.Lock()
        try:
            self._migrate()
        except psycopg.Error as exc:
            cause = connect_error(exc)
            raise type(cause)(f"Cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc
        try:
            self._pool = WirePool(url, pool_size, f"SET search_path TO {SCHEMA}")
        except StorageError as exc:
            raise type(exc)(f"Cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc

    def _migrate(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SHOW transaction_read_only").fetchone()
            if row is not None and row[0] == "on":
                raise StorageError(f"The PostgreSQL database at {_redact(self.url)} is read-only (a standby, or "
                                   "default_transaction_read_only is set); Tether needs to write to it")
            if _up_to_date(conn):  # nothing to create: no DDL, so a role that may not change the schema opens it
                return
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                conn.execute(f"SET search_path TO {SCHEMA}")
                conn.execute("CREATE TABLE IF NOT EXISTS tether_migrations (version INTEGER PRIMARY KEY, "
                             "name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
                done = {r[0] for r in conn.execute("SELECT version FROM tether_migrations").fetchall()}
                for version, name, sql in load_migrations("tether.storage.postgres"):
                    if version in done:
                        continue
                    with conn.transaction():
                        conn.execute(sql.encode())
                        conn.execute("INSERT INTO tether_migrations VALUES (%s, %s, %s)",
                                     (version, name, int(time.time() * 1000)))
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    def applied_migrations(self) -> list[int]:
        with self._auto() as s:
            return [r[0] for r in s.run_sql("SELECT version FROM tether_migrations ORDER BY version").fetchall()]

    @contextmanager
    def _tx(self) -> Iterator[_PgSession]:
        with self._pool.connection() as wire:
            wire.simple(b"BEGIN")
            try:
                yield _PgSession(wire)
            except BaseException:
                if not wire.broken:
                    with contextlib.suppress(StorageError):  # the cause, re-raised below, is what matters
                        wire.simple(b"ROLLBACK")
                raise
            wire.simple(b"COMMIT")

    def _auto(self) -> _AutoSession:
        return _AutoSession(self._pool)

    def _run_count(self, name: str, params: Mapping[str, Any]) -> int:
        pool = self._pool
        wire = pool.take()
        try:
            return wire.run_count(_QUERIES[name], params)
        finally:
            pool.give(wire)

    def _control(self) -> WirePool:
        """One connection of its own for the process statements (opened on first use: clients never need it),
        so a heartbeat never waits for the workload's pool."""
        with self._control_lock:
            if self._control_pool is None:
                self._control_pool = WirePool(self.url, 1, f"SET search_path TO {SCHEMA}")
                self._pool.backend_pids |= self._control_pool.backend_pids  # our own NOTIFYs: not for us
            return self._control_pool

    @contextmanager
    def _control_tx(self) -> Iterator[_PgSession]:
        with self._control().connection() as wire:
            wire.simple(b"BEGIN")
            try:
                yield _PgSession(wire)
            except BaseException:
                if not wire.broken:
                    wire.simple(b"ROLLBACK")
                raise
            wire.simple(b"COMMIT")

    @contextmanager
    def _control_auto(self) -> Iterator[_PgSession]:
        with self._control().connection() as wire:
            yield _PgSession(wire)

    def _write_batch(self, statements: Sequence[tuple[str, Mapping[str, Any]]]) -> list[int]:
        """Group commit (``storage/checkpoints.py``): the statements in one transaction and one round trip."""
        with self._pool.connection() as wire:
            return [c.rowcount for c in wire.pipeline([(_QUERIES[name], params) for name, params in statements])]

    # PostgreSQL runs the two hottest multi-row writes as single statements (one round trip each).
    def send_message(self, destination_id: str, topic: str, message: bytes, now_ms: int, *,
                     idempotency_key: str | None = None,
                     sender: tuple[str, OperationRow] | None = None) -> bool:
        return self._send(destination_id, topic, message, now_ms, None, idempotency_key, sender) is Delivery.QUEUED

    def hand_message(self, destination_id: str, topic: str, message: bytes, now_ms: int, receiver: OperationRow,
                     *, idempotency_key: str | None = None,
                     sender: tuple[str, OperationRow] | None = None) -> Delivery:
        return self._send(destination_id, topic, message, now_ms, receiver, idempotency_key, sender)

    def _send(self, destination_id: str, topic: str, message: bytes, now_ms: int, receiver: OperationRow | None,
              idempotency_key: str | None, sender: tuple[str, OperationRow] | None) -> Delivery:
        """The one send statement, with or without a parked receiver to hand the message to."""
        params = {"destination_uuid": destination_id, "topic": topic, "message": message, "now": now_ms,
                  "idempotency_key": idempotency_key, "sender_id": sender[0] if sender else None,
                  "sender_function_id": sender[1].function_id if sender else None,
                  "receiver_function_id": receiver.function_id if receiver else None,
                  "receiver_function_name": receiver.function_name if receiver else None,
                  "receiver_started_at": receiver.started_at if receiver else None}
        try:
            with self._auto() as s:
                row = s.run("send_message", params).fetchone()
        except ForeignKeyViolation as exc:
            raise NonExistentWorkflowError(destination_id) from exc
        if row is not None and row[0]:
            return Delivery.HANDED
        return Delivery.QUEUED if row is not None and row[1] else Delivery.SENT_BEFORE

    def consume_message(self, workflow_id: str, topic: str, op: OperationRow, *,
                        also: OperationRow | None = None) -> bytes | None:
        params = {"workflow_uuid": workflow_id, "topic": topic, "function_id": op.function_id,
                  "function_name": op.function_name, "started_at": op.started_at,
                  "completed_at": op.completed_at, "wait_deadline": op.wait_deadline,
                  "also_function_id": also.function_id if also else None,
                  "also_function_name": also.function_name if also else None,
                  "also_output": also.output if also else None,
                  "also_started_at": also.started_at if also else None,
                  "also_completed_at": also.completed_at if also else None}
        with self._auto() as s:
            row = s.run("consume_message", params).fetchone()
        return bytes(row[0]) if row is not None and row[0] is not None else None

    def take_selected_message(self, workflow_id: str, topics: Sequence[str], headers: Sequence[str],
                              op: OperationRow, *, also: OperationRow | None = None
                              ) -> tuple[int, bytes] | OperationRow | None:
        params = {**_selection_params(workflow_id, op, also), "topics": json.dumps(list(topics)),
                  "headers": "[" + ",".join(headers) + "]"}
        with self._auto() as s:
            row = s.run("take_selected_message", params).fetchone()
        if row is None:
            return None
        position, message, prior = row
        if prior is not None:
            return OperationRow(function_id=op.function_id, function_name=op.function_name, output=bytes(prior),
                                completed_at=op.completed_at)
        return int(position), bytes(message)

    def record_selection(self, workflow_id: str, op: OperationRow, *,
                         also: OperationRow | None = None) -> OperationRow | None:
        params = {**_selection_params(workflow_id, op, also), "output": op.output}
        with self._auto() as s:
            row = s.run("record_selection", params).fetchone()
        if row is None:
            return None
        return OperationRow(function_id=op.function_id, function_name=op.function_name, output=bytes(row[0]),
                            completed_at=op.completed_at)

    def set_event(self, workflow_id: str, key: str, value: bytes, now_ms: int,
                  op: OperationRow | None = None, history_fid: int | None = None) -> bool:
        params = {"workflow_uuid": workflow_id, "key": key, "value": value, "now": now_ms,
                  "function_id": op.function_id if op else None, "function_name": op.function_name if op else None,
                  "history_fid": history_fid}
        try:
            return self._run_count("set_event_recorded", params) == 1
        except ForeignKeyViolation as exc:
            raise NonExistentWorkflowError(workflow_id, "target") from exc

    def _append_stream(self, workflow_id: str, key: str, value: bytes | None, now_ms: int,
                       op: OperationRow | None, step_write: StepWrite | None) -> int | None:
        if step_write is not None and value is not None:
            return self._append_step_write(workflow_id, key, value, now_ms, step_write)
        params = {"workflow_uuid": workflow_id, "key": key, "value": value, "now": now_ms,
                  "function_id": op.function_id if op else None, "function_name": op.function_name if op else None}
        try:
            with self._auto() as s:
                got = s.run("append_stream", params).fetchone()
                if got is not None:
                    return None if value is None else int(got[0])
                if value is None:
                    return None  # a close of a closed stream (harmless)
                # Nothing appended: an earlier run already did this write (its checkpoint is there), or the
                # stream is closed.
                if op is not None and s.run("get_operation", {"workflow_uuid": workflow_id,
                                                              "function_id": op.function_id}).fetchone():
                    return None
                tail = s.run("stream_tail", {"workflow_uuid": workflow_id, "key": key}).fetchone()
        except ForeignKeyViolation as exc:
            raise NonExistentWorkflowError(workflow_id, "target") from exc
        if tail is not None and tail[1]:
            raise StreamClosedError(workflow_id, key)
        raise StorageError(f"Append to stream {key!r} of {workflow_id!r} was not applied")

    def _append_step_write(self, workflow_id: str, key: str, value: bytes, now_ms: int,
                           step_write: StepWrite) -> int:
        p = {"workflow_uuid": workflow_id, "key": key, **step_write_params(step_write)}
        try:
            with self._auto() as s:
                got = s.run("append_stream_step", {**p, "value": value, "now": now_ms}).fetchone()
                if got is not None:
                    return int(got[0])
                # Nothing appended and nothing stored before the statement began: the same write committed
                # concurrently (read its offset), or the stream is closed.
                prior = s.run("stream_step_write", p).fetchone()
                if prior is not None:
                    return int(prior[0])
                tail = s.run("stream_tail", {"workflow_uuid": workflow_id, "key": key}).fetchone()
        except ForeignKeyViolation as exc:
            raise NonExistentWorkflowError(workflow_id, "target") from exc
        if tail is not None and tail[1]:
            raise StreamClosedError(workflow_id, key)
        raise StorageError(f"Append to stream {key!r} of {workflow_id!r} was not applied")

    def listener(self) -> Listener:
        from tether.storage.postgres.listener import PostgresListener

        return PostgresListener(self.url, ignore_pids=self._pool.backend_pids)

    def close(self) -> None:
        self._pool.close()
        if self._control_pool is not None:
            self._control_pool.close()


def _selection_params(workflow_id: str, op: OperationRow, also: OperationRow | None) -> dict[str, Any]:
    return {"workflow_uuid": workflow_id, "function_id": op.function_id, "function_name": op.function_name,
            "started_at": op.started_at, "completed_at": op.completed_at,
            "also_function_id": also.function_id if also else None,
            "also_function_name": also.function_name if also else None,
            "also_output": also.output if also else None,
            "also_started_at": also.started_at if also else None,
            "also_completed_at": also.completed_at if also else None}


def _redact(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)


def _up_to_date(conn: psycopg.Connection[Any]) -> bool:
    """Whether every migration this code ships is applied already (read without taking the migration lock: a
    migration in flight is not recorded until it commits, so this errs towards migrating)."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.tether_migrations",)).fetchone()
    if row is None or row[0] is None:
        return False
    done = {r[0] for r in conn.execute(f"SELECT version FROM {SCHEMA}.tether_migrations").fetchall()}
    return all(version in done for version, _, _ in load_migrations("tether.storage.postgres"))
