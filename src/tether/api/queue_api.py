"""Queue methods of ``DBOS`` (``QueueAPI``) and of ``DBOSClient`` (``ClientQueueAPI``): register, retrieve,
list and delete queues stored in the database; on ``DBOS`` also ``listen_queues`` and ``enqueue_workflow``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ClassVar, ParamSpec, TypeVar

from tether.api.enqueue_options import EnqueueOptions, enqueue_by_name
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.queue import Queue, QueueRateLimit, enqueue
from tether.engine import queue_settings
from tether.engine.bridge import run_sync
from tether.engine.queue_settings import QueueConflictResolution
from tether.engine.runtime import Runtime
from tether.errors import QueueConfigurationError
from tether.storage.base import QueuePolicy

P = ParamSpec("P")
R = TypeVar("R")


class QueueAPI:
    """Mixin of ``DBOS``: queues registered in the database and enqueueing by queue name."""

    _listen: Sequence[str] | None = None

    _rt: ClassVar[Callable[[], Runtime]]  # DBOS's: the launched runtime

    @classmethod
    def _stored(cls, policy: QueuePolicy) -> Queue:
        return Queue._stored(policy, cls._rt)

    @classmethod
    def register_queue(cls, name: str, *, worker_concurrency: int | None = None,
                       global_concurrency: int | None = None, partition_concurrency: int | None = None,
                       partition_worker_concurrency: int | None = None,
                       partition_limiter: QueueRateLimit | None = None, limiter: QueueRateLimit | None = None,
                       polling_interval_sec: float = 1.0,
                       on_conflict: QueueConflictResolution = "update_if_latest_version",
                       concurrency: int | None = None) -> Queue:
        """Register a queue in the database; every process of this application sharing the database serves it
        (see :class:`Queue` for the limits). ``concurrency`` is the older name of ``global_concurrency``.

        If the queue exists, ``on_conflict`` decides: ``"update_if_latest_version"`` (the default) replaces
        its settings only when this application version is the newest to have registered a queue (so an old
        version still running in a rolling deploy does not undo a new one's settings), ``"always_update"``
        replaces them, ``"never_update"`` keeps them. Returns the queue with the settings now stored.

        Raises:
            QueueConfigurationError: contradictory or non-positive limits, a reserved name (``_tether_...``,
                ``_dbos_...``), or a name registered by another application.
        """
        return run_sync(cls.register_queue_async(
            name, worker_concurrency=worker_concurrency, global_concurrency=global_concurrency,
            partition_concurrency=partition_concurrency, partition_worker_concurrency=partition_worker_concurrency,
            partition_limiter=partition_limiter, limiter=limiter, polling_interval_sec=polling_interval_sec,
            on_conflict=on_conflict, concurrency=concurrency))

    @classmethod
    async def register_queue_async(cls, name: str, *, worker_concurrency: int | None = None,
                                   global_concurrency: int | None = None, partition_concurrency: int | None = None,
                                   partition_worker_concurrency: int | None = None,
                                   partition_limiter: QueueRateLimit | None = None,
                                   limiter: QueueRateLimit | None = None, polling_interval_sec: float = 1.0,
                                   on_conflict: QueueConflictResolution = "update_if_latest_version",
                                   concurrency: int | None = None) -> Queue:
        """Coroutine form of :meth:`register_queue`."""
        rt = cls._rt()
        policy = queue_settings.build(
            name, concurrency=concurrency, global_concurrency=global_concurrency,
            worker_concurrency=worker_concurrency, limiter=limiter, partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency, partition_limiter=partition_limiter,
            polling_interval_sec=polling_interval_sec, application_name=rt.settings.name,
            application_version=rt.application_version)
        _, stored = await queue_settings.register(rt, policy, on_conflict)
        return cls._stored(stored)

    @classmethod
    def retrieve_queue(cls, name: str) -> Queue | None:
        """The queue registered in the database under ``name``, or None."""
        return run_sync(cls.retrieve_queue_async(name))

    @classmethod
    async def retrieve_queue_async(cls, name: str) -> Queue | None:
        got = await queue_settings.retrieve(cls._rt(), name)
        return None if got is None else cls._stored(got)

    @classmethod
    def list_queues(cls, *, application_name: str | list[str] | None = None) -> list[Queue]:
        """Queues registered in the database by these applications (by default this one), and those that no
        application owns."""
        return run_sync(cls.list_queues_async(application_name=application_name))

    @classmethod
    async def list_queues_async(cls, *, application_name: str | list[str] | None = None) -> list[Queue]:
        rt = cls._rt()
        return [cls._stored(p) for p in await queue_settings.list_stored(rt, application_name, rt.settings.name)]

    @classmethod
    def delete_queue(cls, name: str) -> None:
        """Delete a queue from the database. Workflows still enqueued on it stay ENQUEUED until a queue of that
        name is served again."""
        run_sync(cls.delete_queue_async(name))

    @classmethod
    async def delete_queue_async(cls, name: str) -> None:
        await queue_settings.delete(cls._rt(), name)

    @classmethod
    def listen_queues(cls, queues: Sequence[str]) -> None:
        """Serve only these queues in this process (Tether's own internal queue is always served). Call it
        after ``DBOS(config=...)`` and before ``DBOS.launch()``, at most once.

        Raises:
            QueueConfigurationError: called after launch, or a second time.
        """
        if getattr(cls, "_runtime", None) is not None:
            raise QueueConfigurationError("listen_queues called after DBOS is launched")
        if cls._listen is not None:
            raise QueueConfigurationError("listen_queues called more than once")
        cls._listen = [q.name if isinstance(q, Queue) else str(q) for q in queues]

    @classmethod
    def enqueue_workflow(cls, queue_name: str, func: Callable[P, R], *args: P.args,
                         **kwargs: P.kwargs) -> WorkflowHandle[R]:
        """Enqueue a workflow on a queue by name (registered or not yet: it waits, ENQUEUED, until a process
        serves the queue), under the enclosing ``SetEnqueueOptions``.

        Raises:
            QueueDeduplicatedError: the deduplication ID is held (policy ``reject``).
            QueueConfigurationError: see ``SetEnqueueOptions``.
            SerializationError: the arguments cannot be stored.
        """
        return WorkflowHandle(cls._rt(), run_sync(enqueue(queue_name, func, args, kwargs)))

    @classmethod
    async def enqueue_workflow_async(cls, queue_name: str, func: Callable[P, Coroutine[Any, Any, R]],
                                     *args: P.args, **kwargs: P.kwargs) -> WorkflowHandleAsync[R]:
        """Coroutine form of :meth:`enqueue_workflow`."""
        return WorkflowHandleAsync(cls._rt(), await enqueue(queue_name, func, args, kwargs))

    @classmethod
    def enqueue_workflow_with_options(cls, options: EnqueueOptions, *args: Any,
                                      **kwargs: Any) -> WorkflowHandle[Any]:
        """Enqueue a workflow by its registered name, as ``DBOSClient.enqueue`` does (any process sharing the
        database that has the workflow and serves the queue may run it). Inside a workflow the enqueue is
        recorded as a child of it.

        Raises:
            ValueError: ``queue_name`` or ``workflow_name`` missing.
            QueueDeduplicatedError, QueueConfigurationError, SerializationError: as :meth:`enqueue_workflow`.
        """
        return WorkflowHandle(cls._rt(), run_sync(enqueue_by_name(cls._rt(), options, args, kwargs)))

    @classmethod
    async def enqueue_workflow_with_options_async(cls, options: EnqueueOptions, *args: Any,
                                                  **kwargs: Any) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`enqueue_workflow_with_options`."""
        return WorkflowHandleAsync(cls._rt(), await enqueue_by_name(cls._rt(), options, args, kwargs))


class ClientQueueAPI:
    """Mixin of ``DBOSClient``: the queue registry, from outside the application."""

    _rt: Runtime
    _application_name: str | None

    def _stored(self, policy: QueuePolicy) -> Queue:
        return Queue._stored(policy, lambda: self._rt, client=True)

    def register_queue(self, name: str, *, global_concurrency: int | None = None,
                       partition_concurrency: int | None = None, partition_worker_concurrency: int | None = None,
                       partition_limiter: QueueRateLimit | None = None, limiter: QueueRateLimit | None = None,
                       worker_concurrency: int | None = None, polling_interval_sec: float = 1.0,
                       on_conflict: QueueConflictResolution = "always_update",
                       application_name: str | None = None, concurrency: int | None = None) -> Queue:
        """Register a queue in the database, as ``DBOS.register_queue`` does; the queue belongs to
        ``application_name`` (default: the client's own; neither: no application, so every application sharing
        the database serves it).

        Raises:
            QueueConfigurationError: as ``DBOS.register_queue``.
        """
        return run_sync(self.register_queue_async(
            name, global_concurrency=global_concurrency, partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency, partition_limiter=partition_limiter,
            limiter=limiter, worker_concurrency=worker_concurrency, polling_interval_sec=polling_interval_sec,
            on_conflict=on_conflict, application_name=application_name, concurrency=concurrency))

    async def register_queue_async(self, name: str, *, global_concurrency: int | None = None,
                                   partition_concurrency: int | None = None,
                                   partition_worker_concurrency: int | None = None,
                                   partition_limiter: QueueRateLimit | None = None,
                                   limiter: QueueRateLimit | None = None, worker_concurrency: int | None = None,
                                   polling_interval_sec: float = 1.0,
                                   on_conflict: QueueConflictResolution = "always_update",
                                   application_name: str | None = None,
                                   concurrency: int | None = None) -> Queue:
        policy = queue_settings.build(
            name, concurrency=concurrency, global_concurrency=global_concurrency,
            worker_concurrency=worker_concurrency, limiter=limiter, partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency, partition_limiter=partition_limiter,
            polling_interval_sec=polling_interval_sec,
            application_name=application_name if application_name is not None else self._application_name)
        _, stored = await queue_settings.register(self._rt, policy, on_conflict)
        return self._stored(stored)

    def retrieve_queue(self, name: str) -> Queue | None:
        return run_sync(self.retrieve_queue_async(name))

    async def retrieve_queue_async(self, name: str) -> Queue | None:
        got = await queue_settings.retrieve(self._rt, name)
        return None if got is None else self._stored(got)

    def list_queues(self, *, application_name: str | list[str] | None = None) -> list[Queue]:
        """Queues registered in the database: those of ``application_name`` (default: the client's own) and of
        no application; every queue when neither is given."""
        return run_sync(self.list_queues_async(application_name=application_name))

    async def list_queues_async(self, *, application_name: str | list[str] | None = None) -> list[Queue]:
        return [self._stored(p) for p in await queue_settings.list_stored(self._rt, application_name,
                                                                             self._application_name)]

    def delete_queue(self, name: str) -> None:
        run_sync(self.delete_queue_async(name))

    async def delete_queue_async(self, name: str) -> None:
        await queue_settings.delete(self._rt, name)
