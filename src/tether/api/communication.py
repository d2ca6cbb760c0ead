"""Talking to workflows from inside one (``Communication``, a mixin of ``DBOS``): messages (``send``/``recv``),
events (``set_event``/``get_event``) and stream writes. Each method is a shell over one engine coroutine; the
``*_async`` form awaits it, the sync form runs it through the bridge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from tether.engine import events, messages, streams
from tether.engine.bridge import run_sync, run_sync_call
from tether.engine.runtime import Runtime
from tether.types import WorkflowSerializationFormat


class Communication:
    """Mixin of ``DBOS``."""

    _rt: ClassVar[Callable[[], Runtime]]  # DBOS's: the launched runtime

    # -- messages --------------------------------------------------------------------------------------
    @classmethod
    def send(cls, destination_id: str, message: Any, topic: str | None = None, *,
             idempotency_key: str | None = None,
             serialization_type: WorkflowSerializationFormat | None = WorkflowSerializationFormat.DEFAULT,
             send_to_forks: bool = False, shard_key: str | None = None) -> None:
        """Send ``message`` to a workflow's queue for ``topic``; see :func:`tether.engine.messages.send`.

        Raises:
            NonExistentWorkflowError: no workflow has ``destination_id``.
            SerializationError: the message cannot be serialized.
        """
        run_sync(messages.send(cls._rt(), destination_id, message, topic, idempotency_key=idempotency_key,
                               serialization_type=serialization_type, send_to_forks=send_to_forks))

    @classmethod
    async def send_async(cls, destination_id: str, message: Any, topic: str | None = None, *,
                         idempotency_key: str | None = None,
                         serialization_type: WorkflowSerializationFormat | None =
                         WorkflowSerializationFormat.DEFAULT, send_to_forks: bool = False,
                         shard_key: str | None = None) -> None:
        await messages.send(cls._rt(), destination_id, message, topic, idempotency_key=idempotency_key,
                            serialization_type=serialization_type, send_to_forks=send_to_forks)

    @classmethod
    def recv(cls, topic: str | None = None, timeout_seconds: float = 60) -> Any:
        """Receive the next message on ``topic`` (None on timeout). Workflows only.

        Raises:
            NotInWorkflowError: called outside a workflow.
        """
        return run_sync_call(messages.recv, cls._rt(), topic, timeout_seconds)

    @classmethod
    async def recv_async(cls, topic: str | None = None, timeout_seconds: float = 60) -> Any:
        return await messages.recv(cls._rt(), topic, timeout_seconds)

    # -- events ----------------------------------------------------------------------------------------
    @classmethod
    def set_event(cls, key: str, value: Any, *,
                  serialization_type: WorkflowSerializationFormat | None = None) -> None:
        """Publish the latest value of ``key`` for the calling workflow.

        Raises:
            NotInWorkflowError: called outside a workflow.
            SerializationError: the value cannot be serialized.
        """
        run_sync(events.set_event(cls._rt(), key, value, serialization_type))

    @classmethod
    async def set_event_async(cls, key: str, value: Any, *,
                              serialization_type: WorkflowSerializationFormat | None = None) -> None:
        await events.set_event(cls._rt(), key, value, serialization_type)

    @classmethod
    def get_event(cls, workflow_id: str, key: str, timeout_seconds: float = 60, *,
                  shard_key: str | None = None) -> Any:
        """The latest value of an event, waiting up to ``timeout_seconds`` for it (None then). ``shard_key`` is
        accepted and ignored (the database is not sharded)."""
        return run_sync_call(events.get_event, cls._rt(), workflow_id, key, timeout_seconds)

    @classmethod
    async def get_event_async(cls, workflow_id: str, key: str, timeout_seconds: float = 60, *,
                              shard_key: str | None = None) -> Any:
        return await events.get_event(cls._rt(), workflow_id, key, timeout_seconds)

    @classmethod
    def get_all_events(cls, workflow_id: str, *, shard_key: str | None = None) -> dict[str, Any]:
        """The latest value of every event of a workflow."""
        return run_sync(events.get_all_events(cls._rt(), workflow_id))

    @classmethod
    async def get_all_events_async(cls, workflow_id: str, *, shard_key: str | None = None) -> dict[str, Any]:
        return await events.get_all_events(cls._rt(), workflow_id)

    # -- streams ---------------------------------------------------------------------------------------
    @classmethod
    def write_stream(cls, key: str, value: Any, *,
                     serialization_type: WorkflowSerializationFormat | None = None) -> None:
        """Append ``value`` to the calling workflow's stream ``key``.

        Raises:
            NotInWorkflowError: called outside a workflow or step.
            StreamClosedError: the stream was closed.
        """
        run_sync(streams.write_stream(cls._rt(), key, value, serialization_type=serialization_type))

    @classmethod
    async def write_stream_async(cls, key: str, value: Any, *,
                                 serialization_type: WorkflowSerializationFormat | None = None) -> None:
        await streams.write_stream(cls._rt(), key, value, serialization_type=serialization_type)

    @classmethod
    def close_stream(cls, key: str) -> None:
        """Close the calling workflow's stream ``key`` (streams also close when the workflow ends)."""
        run_sync(streams.write_stream(cls._rt(), key, None, close=True))

    @classmethod
    async def close_stream_async(cls, key: str) -> None:
        await streams.write_stream(cls._rt(), key, None, close=True)
