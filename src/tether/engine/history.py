"""Bulk and history operations: many messages in one transaction (optionally to every fork of their
destinations), rewinding an ended workflow to an earlier step under its own ID, reading one stream offset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tether.engine import validation
from tether.engine.context import workflow_for_operation
from tether.engine.messages import sending_operation, topic_key
from tether.engine.queues import INTERNAL_QUEUE
from tether.engine.runtime import Runtime
from tether.engine.streams import StreamReader
from tether.errors import DBOSStreamTimeoutError
from tether.serialization import serialize
from tether.storage.base import OutgoingMessage
from tether.types import WorkflowSerializationFormat, WorkflowStatusString


async def send_bulk(rt: Runtime, messages: Sequence[dict[str, Any]], *,
                    serialization_type: WorkflowSerializationFormat | None = None,
                    send_to_forks: bool = False, function_name: str = "DBOS.send_bulk") -> None:
    """Send every message (``destination_id``, ``message``, optional ``topic`` and ``idempotency_key``) in one
    transaction: all are delivered or none. With ``send_to_forks`` each also goes to every workflow forked,
    directly or not, from its destination. From a workflow the whole send is one recorded operation.

    Raises:
        NonExistentWorkflowError: a destination has no workflow (nothing is sent).
        SerializationError: a message cannot be serialized (nothing is sent).
        ValueError: a message without a destination.
        InvalidArgumentError, ArgumentTypeError: a bad destination ID, topic or idempotency key (see
            :mod:`tether.engine.validation`); nothing is sent.
    """
    outgoing = outgoing_messages(messages, serialization_type)
    ctx = workflow_for_operation("send_bulk")
    sender = None
    if ctx is not None:
        sender = sending_operation(rt, ctx, function_name)
        if sender is None:
            return  # an earlier execution sent them
    delivered = await rt.io(rt.store.send_messages, outgoing, rt.clock.now_ms(), sender=sender,
                            send_to_forks=send_to_forks)
    for dest, topic in delivered:
        rt.notify("msg", dest, topic)


def outgoing_messages(messages: Sequence[dict[str, Any]], serialization_type: WorkflowSerializationFormat | None
                      ) -> list[OutgoingMessage]:
    """The messages of a bulk send, checked and serialized.

    Raises:
        ValueError, InvalidArgumentError, ArgumentTypeError, SerializationError: as :func:`send_bulk`.
    """
    outgoing = []
    for m in messages:
        dest = m.get("destination_id")
        if not isinstance(dest, str) or not dest:
            raise ValueError("every message needs a non-empty destination_id")
        validation.workflow_id(dest, "destination_id")
        key = validation.optional_text(m.get("idempotency_key"), "idempotency_key")
        outgoing.append(OutgoingMessage(dest, topic_key(m.get("topic")), serialize(m.get("message"),
                                        serialization_type), key))
    return outgoing


async def rewind_workflow(rt: Runtime, workflow_id: str, start_step: int = 1, *,
                          application_version: str | None = None, queue_name: str | None = None) -> None:
    """Send an ended workflow back to ``start_step`` under its own ID: its checkpoints from that step on are
    dropped (events set there roll back to their earlier values, unread messages are dropped, a closed
    stream is reopened) and it is enqueued again (on ``queue_name``, else the internal queue every process
    serves), so the replay runs everything from that step again.

    Raises:
        ValueError: ``start_step`` is below 1.
        NonExistentWorkflowError: no workflow has this ID.
        TetherError: the workflow has not ended (cancel it first).
    """
    if start_step < 1:
        raise ValueError(f"start_step must be >= 1, got {start_step}")
    await rt.io(rt.store.rewind_workflow, workflow_id, start_step, rt.clock.now_ms(),
                application_version=application_version, queue_name=queue_name or INTERNAL_QUEUE)
    rt.forget_outcome(workflow_id)
    rt.notify("wf", workflow_id, WorkflowStatusString.ENQUEUED.value)


async def read_stream_offset(rt: Runtime, workflow_id: str, key: str, offset: int,
                             timeout_seconds: float | None = None) -> Any:
    """The value at ``offset`` of a stream, waiting for it to be written.

    Raises:
        ValueError: a negative offset.
        DBOSStreamTimeoutError: the timeout passed first, or the stream ended before that offset.
    """
    reader = StreamReader(rt, workflow_id, key, offset)
    deadline = None if timeout_seconds is None else rt.clock.now_ms() + int(timeout_seconds * 1000)

    async def look() -> tuple[bool, Any] | None:
        got = await reader.poll()
        if got.values:
            return True, got.values[0]
        return (False, None) if got.closed else None

    stream = ("stream", workflow_id, reader.key)
    found = await rt.wait_until([stream, ("wf", workflow_id, "")], look, deadline, marks={stream: reader.offset})
    if found is None or not found[0]:
        raise DBOSStreamTimeoutError(workflow_id, key, timeout_seconds)
    return found[1]
