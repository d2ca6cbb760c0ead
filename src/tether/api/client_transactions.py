"""``DBOSClient``'s writes in the caller's own transaction: ``enqueue_in_transaction``, ``send_in_transaction``
and ``send_bulk_in_transaction``, as in DBOS 3.4. The caller passes a SQLAlchemy ``Connection`` or ``Session``
on the system database, in a transaction it commits or rolls back; the workflow or the messages exist exactly
when the caller's own writes do (the rules are in :mod:`tether.engine.caller_writes`).

    with engine.begin() as conn:                      # engine: SQLAlchemy, on the system database
        conn.execute(text("INSERT INTO tether_app.orders ..."))   # the application's own table
        client.enqueue_in_transaction(conn, {"queue_name": "orders", "workflow_name": "ship"}, order_id)
"""

from __future__ import annotations

from typing import Any

from tether.api.enqueue_options import EnqueueOptions, enqueue_request
from tether.api.handles import WorkflowHandle
from tether.api.history import SendMessage, _as_dict
from tether.api.management import _runtime_of
from tether.engine import caller_writes
from tether.types import WorkflowSerializationFormat


class CallerTransactions:
    """Mixin of ``DBOSClient``."""

    def enqueue_in_transaction(self, conn_or_session: Any, options: EnqueueOptions, *args: Any,
                               **kwargs: Any) -> WorkflowHandle[Any]:
        """Enqueue a workflow (as :meth:`enqueue` does) in the caller's transaction on the system database.
        The handle is good once the caller commits.

        Raises:
            QueueDeduplicatedError: the deduplication ID is held; the caller's transaction stays usable.
            ConflictingWorkflowError: ``workflow_id`` is already used by another workflow function.
            ValueError, QueueConfigurationError, ArgumentTypeError, InvalidArgumentError, SerializationError:
                bad options or arguments; nothing is written.
        """
        rt = _runtime_of(self)
        reg, opts = enqueue_request(rt, options)
        return WorkflowHandle(rt, caller_writes.enqueue_in_transaction(rt, conn_or_session, reg, args, kwargs,
                                                                       opts))

    def send_in_transaction(self, conn_or_session: Any, destination_id: str, message: Any,
                            topic: str | None = None, idempotency_key: str | None = None, *,
                            serialization_type: WorkflowSerializationFormat | None = (
                                WorkflowSerializationFormat.DEFAULT),
                            send_to_forks: bool = False, shard_key: str | None = None) -> None:
        """Send a message (as :meth:`send` does) in the caller's transaction; the destination sees it once the
        caller commits. ``shard_key`` is accepted and ignored (the database is not sharded).

        Raises:
            NonExistentWorkflowError: no workflow has ``destination_id``; nothing is written.
            SerializationError, InvalidArgumentError, ArgumentTypeError: a bad message; nothing is written.
        """
        caller_writes.send_in_transaction(
            _runtime_of(self), conn_or_session, [{"destination_id": destination_id, "message": message,
                                                  "topic": topic, "idempotency_key": idempotency_key}],
            serialization_type=serialization_type, send_to_forks=send_to_forks)

    def send_bulk_in_transaction(self, conn_or_session: Any, messages: list[SendMessage], *,
                                 serialization_type: WorkflowSerializationFormat | None = (
                                     WorkflowSerializationFormat.DEFAULT),
                                 send_to_forks: bool = False) -> None:
        """Send many messages (as :meth:`send_bulk` does) in the caller's transaction: all of them or none.

        Raises:
            NonExistentWorkflowError: a destination has no workflow; none of the messages is written.
            SerializationError, ValueError, InvalidArgumentError, ArgumentTypeError: a bad message; nothing is
                written.
        """
        caller_writes.send_in_transaction(_runtime_of(self), conn_or_session, [_as_dict(m) for m in messages],
                                          serialization_type=serialization_type, send_to_forks=send_to_forks)
