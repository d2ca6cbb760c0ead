"""Writes made in the caller's own transaction on the system database (``DBOSClient.enqueue_in_transaction``,
``send_in_transaction``, ``send_bulk_in_transaction``), through a SQLAlchemy ``Connection`` or ``Session`` the
caller holds: the workflow row or the messages commit with the caller's own writes, or not at all.

The same named statements run as in the store (``<backend>/queries.sql``); the wake-up triggers fire on the
caller's commit, as for any other write. On PostgreSQL Tether's tables live in the ``tether`` schema: the
transaction's ``search_path`` is set to it for these statements and put back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from tether.errors import NonExistentWorkflowError, QueueDeduplicatedError
from tether.storage.checkpoints import workflow_params
from tether.storage.records import OutgoingMessage, WorkflowRow
from tether.storage.session import Cursor, NamedStatements


class CallerSession:
    """The store's named statements over the caller's SQLAlchemy connection (or ORM session); only named
    statements run there (no dynamic SQL)."""

    def __init__(self, conn: Any, queries: Mapping[str, str]) -> None:
        self._conn = conn
        self._queries = queries

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        from sqlalchemy import text

        return self._conn.execute(text(self._queries[name]), dict(params or {}))  # type: ignore[no-any-return]

    def savepoint(self) -> Any:
        """A nested transaction (SAVEPOINT) of the caller's, as a context manager."""
        return self._conn.begin_nested()


@contextmanager
def caller_session(conn: Any, queries: Mapping[str, str], schema: str | None) -> Iterator[CallerSession]:
    """A session over ``conn`` (``schema``: PostgreSQL's, set as the search path meanwhile)."""
    from sqlalchemy import text

    old = None
    if schema is not None:
        old = conn.execute(text("SELECT current_setting('search_path')")).scalar()
        conn.execute(text("SELECT set_config('search_path', :schema, true)"), {"schema": schema})
    try:
        yield CallerSession(conn, queries)
    finally:
        if schema is not None:
            try:
                conn.execute(text("SELECT set_config('search_path', :old, true)"), {"old": old})
            except Exception:  # the transaction failed: rolling it back restores the search path
                pass


def write_messages(s: NamedStatements, messages: Sequence[OutgoingMessage], now_ms: int, send_to_forks: bool
                   ) -> list[tuple[str, str]]:
    """Queue messages in the transaction of ``s``; returns (destination, topic) of each one written.

    Raises:
        NonExistentWorkflowError: a destination has no workflow.
    """
    delivered: list[tuple[str, str]] = []
    for m in messages:
        if s.run("workflow_exists", {"workflow_uuid": m.destination_id}).fetchone() is None:
            raise NonExistentWorkflowError(m.destination_id)
        targets = [m.destination_id]
        if send_to_forks:
            targets = [r[0] for r in s.run("fork_tree", {"workflow_uuid": m.destination_id}).fetchall()]
        for dest in targets:
            if m.idempotency_key is not None and s.run("claim_message_key", {
                    "destination_uuid": dest, "idempotency_key": m.idempotency_key}).rowcount != 1:
                continue
            s.run("insert_message", {"destination_uuid": dest, "topic": m.topic, "message": m.message,
                                     "idempotency_key": m.idempotency_key, "now": now_ms})
            delivered.append((dest, m.topic))
    return delivered


def insert_enqueued(s: CallerSession, row: WorkflowRow) -> tuple[str, str, str | None, str | None] | None:
    """Insert an enqueued (or delayed) workflow's row in the caller's transaction: None when created, else the
    (status, name, class, config) of the workflow already under its ID. A deduplication ID already held rolls back
    only this insert (a savepoint), leaving the caller's transaction usable.

    Raises:
        QueueDeduplicatedError: an active workflow of the queue holds the deduplication ID.
    """
    from sqlalchemy.exc import IntegrityError

    params = workflow_params(row, None)
    if row.deduplication_id is None:
        created = s.run("insert_workflow", params).rowcount == 1
    else:
        try:
            with s.savepoint():
                created = s.run("insert_workflow", params).rowcount == 1
        except IntegrityError as exc:
            raise QueueDeduplicatedError(row.workflow_uuid, row.queue_name or "", row.deduplication_id) from exc
    if created:
        return None
    existing = s.run("workflow_identity", {"workflow_uuid": row.workflow_uuid}).fetchone()
    if existing is None:  # deleted since: it stood for this workflow
        return row.status, row.name, row.class_name, row.config_name
    return str(existing[0]), str(existing[1]), existing[2], existing[3]
