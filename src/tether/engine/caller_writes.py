"""Enqueueing and sending inside the caller's own transaction on the system database (``DBOSClient``'s
``enqueue_in_transaction``, ``send_in_transaction`` and ``send_bulk_in_transaction``): the workflow row or the
messages commit with the caller's writes, or roll back with them. Nothing is visible before the caller
commits; the wake-up triggers then tell every process, as for any other write.

Checks come first, as for the other starts and sends; the rows are written with the caller's connection
(storage/external.py) and nothing is written through Tether's own connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tether.engine.history import outgoing_messages
from tether.engine.registry import RegisteredWorkflow
from tether.engine.runtime import Runtime
from tether.engine.starts import StartOptions, plan_unattached_start
from tether.errors import ConflictingWorkflowError, DBOSWorkflowIDInUseError, QueueDeduplicatedError
from tether.storage.external import insert_enqueued, write_messages
from tether.types import WorkflowSerializationFormat


def enqueue_in_transaction(rt: Runtime, conn: Any, reg: RegisteredWorkflow, args: tuple[Any, ...],
                           kwargs: dict[str, Any], opts: StartOptions) -> str:
    """Write an enqueued workflow's row with ``conn`` (the caller commits it); returns its ID, or under the
    ``return-existing`` policy the ID of the workflow holding its deduplication ID.

    Raises:
        QueueDeduplicatedError: the deduplication ID is held (policy ``reject``); the caller's transaction
            stays usable.
        ConflictingWorkflowError: the ID belongs to a workflow of another function.
        DBOSWorkflowIDInUseError: the ID exists and the reuse policy is ``reject``.
        The errors of a start's checks (bad IDs, arguments that cannot be stored); nothing is written.
    """
    row = plan_unattached_start(rt, reg, args, kwargs, opts)
    with rt.store.caller_session(conn) as s:
        try:
            existing = insert_enqueued(s, row)
        except QueueDeduplicatedError:
            if opts.duplication_policy != "return-existing" or row.queue_name is None \
                    or row.deduplication_id is None:
                raise
            holder = rt.store.deduplicated_workflow(row.queue_name, row.deduplication_id)
            if holder is None:
                raise
            return holder
    if existing is not None:
        if opts.reuse_policy == "reject":
            raise DBOSWorkflowIDInUseError(row.workflow_uuid, existing[0], existing[1])
        for what, old, new in zip(("function", "class", "config"), existing[1:],
                                  (row.name, row.class_name, row.config_name), strict=True):
            if old != new:
                raise ConflictingWorkflowError(row.workflow_uuid, f"Workflow already exists with a different "
                                                                  f"{what} name: {old}, but the provided {what} "
                                                                  f"name is: {new}")
    return row.workflow_uuid


def send_in_transaction(rt: Runtime, conn: Any, messages: Sequence[dict[str, Any]], *,
                        serialization_type: WorkflowSerializationFormat | None, send_to_forks: bool) -> None:
    """Queue ``messages`` with ``conn`` (the caller commits them): all of them or none.

    Raises:
        NonExistentWorkflowError: a destination has no workflow; none of the messages is written, and the
            caller's transaction stays usable (the messages go in a savepoint).
        ValueError, InvalidArgumentError, ArgumentTypeError, SerializationError: a bad message; nothing is
            written.
    """
    outgoing = outgoing_messages(messages, serialization_type)
    with rt.store.caller_session(conn) as s, s.savepoint():  # a missing destination undoes the others
        write_messages(s, outgoing, rt.clock.now_ms(), send_to_forks)
