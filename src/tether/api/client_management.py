"""What ``DBOSClient`` adds for workflows it does not run itself: enqueueing by name, and the management
methods (list, steps, cancel, resume, fork, delay) shared with ``DBOS``."""

from __future__ import annotations

from typing import Any

from tether.api.enqueue_options import EnqueueOptions, enqueue_by_name
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.history import HistoryOperations
from tether.api.management import WorkflowManagement, _runtime_of
from tether.engine.bridge import run_sync
from tether.engine.renaming import rename_application
from tether.types import ApplicationRowCounts

__all__ = ["ClientManagement", "EnqueueOptions"]

DEFAULT_RENAME_BATCH_SIZE = 10_000  # as DBOS


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

    def rename_application(self, old_name: str | None, new_name: str, *,
                           batch_size: int | None = DEFAULT_RENAME_BATCH_SIZE,
                           adopt_unclaimed_rows: bool = False) -> ApplicationRowCounts:
        """Give the application ``new_name`` the queues, schedules, versions and workflows that ``old_name``
        owns (``None``: none) and, with ``adopt_unclaimed_rows``, the ones no application owns. Queues,
        schedules, versions and unfinished workflows move in one transaction; ended workflows follow
        ``batch_size`` at a time (``None``: in that same transaction). Run it while no process of the
        renamed application runs. Returns how many rows moved, by kind.

        Raises:
            DBOSException: an empty ``old_name``, nothing to move, an invalid ``new_name`` (3-256 lowercase
                letters, digits, dashes, underscores) or the same name twice; nothing is written.
            ValueError: ``batch_size`` is not a positive integer (or None).
        """
        return run_sync(self.rename_application_async(old_name, new_name, batch_size=batch_size,
                                                      adopt_unclaimed_rows=adopt_unclaimed_rows))

    async def rename_application_async(self, old_name: str | None, new_name: str, *,
                                       batch_size: int | None = DEFAULT_RENAME_BATCH_SIZE,
                                       adopt_unclaimed_rows: bool = False) -> ApplicationRowCounts:
        """Coroutine form of :meth:`rename_application`."""
        return await rename_application(_runtime_of(self), old_name, new_name, batch_size=batch_size,
                                        adopt_unclaimed_rows=adopt_unclaimed_rows)
