"""Mailboxes you can see: the messages queued for a workflow that no ``recv`` has taken yet.

Reads only. A listing is one indexed query on ``messages`` (``destination_uuid, topic, message_id``); values are
fetched and decoded only when asked for, and one that cannot be decoded here is marked, not raised.
"""

from __future__ import annotations

from tether.engine import validation
from tether.engine.messages import topic_key
from tether.engine.runtime import Runtime
from tether.errors import ArgumentTypeError, WorkflowNotFoundError
from tether.serialization import decode_or_mark
from tether.storage.base import NULL_TOPIC, QueuedMessage
from tether.types import PendingMessage


def shown_topic(key: str) -> str | None:
    """The topic a stored topic key stands for (None: sent without a topic)."""
    return None if key == NULL_TOPIC else key


def _pending(row: QueuedMessage, workflow_id: str, load_values: bool) -> PendingMessage:
    value = decode_or_mark(row.message, f"message {row.message_id}", workflow_id) if load_values else None
    return PendingMessage(message_id=row.message_id, topic=shown_topic(row.topic), sent_at_epoch_ms=row.created_at,
                          size_bytes=row.size, idempotency_key=row.idempotency_key, value=value)


async def list_pending(rt: Runtime, workflow_id: str, topic: str | None = None, *, load_values: bool = False,
                       limit: int | None = None, offset: int | None = None) -> list[PendingMessage]:
    """The messages still queued for ``workflow_id`` (every topic, or only ``topic``), grouped by topic and
    oldest first within one: the order ``recv`` takes them.

    Raises:
        WorkflowNotFoundError: no workflow has this ID.
        InvalidArgumentError, ArgumentTypeError: a bad ID, topic, limit or offset, or a ``load_values`` that is
            not a bool (see :mod:`tether.engine.validation`); nothing is read.
    """
    validation.workflow_id(workflow_id)
    key = None if topic is None else topic_key(topic)
    if not isinstance(load_values, bool):
        raise ArgumentTypeError("load_values", f"must be a bool, not {type(load_values).__name__}")
    limit = validation.optional_count(limit, "limit")
    offset = validation.optional_count(offset, "offset")
    rows = await rt.io(rt.store.pending_messages, workflow_id, key, load_values=load_values, limit=limit,
                       offset=offset)
    if rows is None:
        raise WorkflowNotFoundError(workflow_id)
    return [_pending(r, workflow_id, load_values) for r in rows]


async def pending_counts(rt: Runtime, workflow_id: str) -> dict[str | None, int]:
    """How many messages are still queued for ``workflow_id``, per topic (None: sent without a topic); topics
    with none queued are left out.

    Raises:
        WorkflowNotFoundError: no workflow has this ID.
        InvalidArgumentError, ArgumentTypeError: a bad ID.
    """
    validation.workflow_id(workflow_id)
    counts = await rt.io(rt.store.pending_message_counts, workflow_id)
    if counts is None:
        raise WorkflowNotFoundError(workflow_id)
    return {shown_topic(key): n for key, n in counts.items()}
