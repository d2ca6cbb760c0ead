"""What ``DBOSClient`` adds for workflows it does not run itself: enqueueing by name, and the management
methods (list, steps, cancel, resume, fork, delay) shared with ``DBOS``."""

from __future__ import annotations

from typing import Any

from tether.api.enqueue_options import EnqueueOptions, enqueue_by_name
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.history import HistoryOperations
from tether.api.management import WorkflowManagement, _runtime_of
from tether.engine.bridge import run_sync

__all__ = ["ClientManagement", "EnqueueOptions"]


class ClientManagement(WorkflowManagement, HistoryOperations):
    """Mixin of ``DBOSClient``."""

    _runs_workflows = False

    def enqueue(self, options: EnqueueOptions, *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        """Enqueue the workflow registered as ``options["workflow_name"]`` on ``options["queue_name"]``; an
        application process serving that queue runs it. Returns once it is durably recorded.

        Raises:
            QueueDeduplicatedError: the deduplication ID is held by an active workflow on that queue.
            ConflictingWorkflowError: ``workflow_id`` is already used by another workflow function.
            SerializationError: the arguments cannot be stored.
            ValueError: ``queue_name`` or ``workflow_name`` missing, or a negative delay.
        """
        return WorkflowHandle(_runtime_of(self), run_sync(self._enqueue(options, args, kwargs)))

    async def enqueue_async(self, options: EnqueueOptions, *args: Any, **kwargs: Any
                            ) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`enqueue`."""
        return WorkflowHandleAsync(_runtime_of(self), await self._enqueue(options, args, kwargs))

    async def _enqueue(self, options: EnqueueOptions, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        return await enqueue_by_name(_runtime_of(self), options, args, kwargs)
