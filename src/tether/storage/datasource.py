"""The checkpoint table of a datasource (``SQLAlchemyDatasource``), in the application's own database.

A datasource transaction inserts its outcome into ``datasource_outputs`` in the same database transaction as
its own writes: both commit, or neither does. A transaction that runs again after a crash (its workflow
recovered before the step's checkpoint reached the system database) finds the row and returns the recorded
outcome instead of writing twice. The table is DBOS 3.4's (name, columns, schema ``dbos`` on PostgreSQL), so
an application's database keeps working when the application moves from DBOS. Values are Tether's serialized
form, base64 in the TEXT columns.

This module runs the statements over SQLAlchemy connections and sessions that the caller opens (the user's
transaction is one of them); the statements are in ``<backend>/datasource.sql``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tether.storage.sql import load_queries

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

TABLE = "datasource_outputs"


def is_retriable(backend: str, exc: BaseException) -> bool:
    """Whether a failed transaction attempt (a SQLAlchemy error) may simply run again: on PostgreSQL a
    serialization failure, a deadlock, a server shutting down or starting up, or a connection that failed or
    was cut (the attempt then waits for the database, as Tether's own statements do); on SQLite a locked
    database."""
    if backend == "postgres":
        import psycopg

        from tether.storage.postgres.wire import is_passing_fault

        if getattr(exc, "connection_invalidated", False):  # SQLAlchemy saw the connection drop
            return True
        orig = getattr(exc, "orig", None)
        state = getattr(orig, "sqlstate", None)
        if state is None:  # no answer from the server at all: the connection failed or was cut
            return isinstance(orig, psycopg.OperationalError)
        return isinstance(state, str) and is_passing_fault(state.encode())
    message = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in message or "database table is locked" in message


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def prepare_sqlite_engine(engine: Any) -> None:
    """Set up a SQLite (sync) engine that the datasource made: sqlite3 begins a transaction only before a
    write, so the reads before it would see a snapshot of their own (a lost update when two transactions read,
    then write). Its transaction handling is turned off and every transaction begins with BEGIN IMMEDIATE,
    taking the write lock at once; writers wait for each other (busy_timeout) instead of failing at once with
    "database is locked"."""
    from sqlalchemy import event

    def connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    def begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", connect)
    event.listen(engine, "begin", begin)


class DatasourceCheckpoints:
    """The named statements for one datasource's table (``schema``: PostgreSQL only)."""

    def __init__(self, backend: str, schema: str | None) -> None:
        table = _quoted(TABLE) if schema is None else f"{_quoted(schema)}.{_quoted(TABLE)}"
        self._sql = {name: sql.replace("{table}", table).replace("{schema}", _quoted(schema or ""))
                     for name, sql in load_queries(f"tether.storage.{backend}", "datasource.sql").items()}
        self._schema = schema

    def _text(self, name: str, role: str = "") -> Any:
        from sqlalchemy import text

        return text(self._sql[name].replace("{role}", _quoted(role)))

    def grant(self, conn: Connection, role: str) -> None:
        """Let ``role`` use the table (PostgreSQL)."""
        conn.execute(self._text("grant_schema", role))
        conn.execute(self._text("grant_table", role))

    def create(self, conn: Connection) -> None:
        """Create the schema and the table if they are missing (idempotent)."""
        if self._schema is not None:
            conn.execute(self._text("create_schema"))
        conn.execute(self._text("create_table"))

    def read(self, conn: Connection | Session, workflow_id: str, step_id: int) -> tuple[Any, ...] | None:
        """(output, error, serialization) recorded for a step, or None."""
        row = conn.execute(self._text("read"), {"workflow_id": workflow_id, "step_id": step_id}).first()
        return None if row is None else tuple(row)

    def record(self, conn: Connection | Session, workflow_id: str, step_id: int, output: str | None,
               error: str | None, serialization: str) -> bool:
        """Insert a step's outcome in the caller's transaction; False when one is recorded already (a
        concurrent or earlier execution's, which wins)."""
        row = conn.execute(self._text("record"), {"workflow_id": workflow_id, "step_id": step_id, "output": output,
                                                   "error": error, "serialization": serialization}).first()
        return row is not None

    def forget(self, conn: Connection, workflow_id: str, step_id: int) -> None:
        """Delete the row of one step."""
        conn.execute(self._text("forget"), {"workflow_id": workflow_id, "step_id": step_id})
