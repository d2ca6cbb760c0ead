"""What ``DBOSClient`` adds for workflows it does not run itself: enqueueing by name, and the management
methods (list, steps, cancel, resume, fork, delay) shared with ``DBOS``."""

from __future__ import annotations

from typing import Any, TypedDict

from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.management import WorkflowManagement, _runtime_of
from tether.engine.bridge import run_sync
from tether.engine.registry import DEFAULT_MAX_RECOVERY_ATTEMPTS, RegisteredWorkflow
from tether.engine.workflows import StartOptions, prepare_start
from tether.types import WorkflowSerializationFormat


class _EnqueueRequired(TypedDict):
    queue_name: str
    workflow_name: str


class EnqueueOptions(_EnqueueRequired, total=False):
    """What ``DBOSClient.enqueue`` needs: the queue and the workflow's registered name; the rest optional."""

    workflow_id: str
    app_version: str
    deduplication_id: str
    priority: int
    delay_seconds: float
    authenticated_user: str
    serialization_type: WorkflowSerializationFormat


def _not_here(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("A client never runs workflows")


class ClientManagement(WorkflowManagement):
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
        rt = _runtime_of(self)
        queue_name, name = options.get("queue_name"), options.get("workflow_name")
        if not queue_name or not name:
            raise ValueError("enqueue options need queue_name and workflow_name")
        delay = options.get("delay_seconds")
        if delay is not None and delay < 0:
            raise ValueError("delay_seconds must be non-negative")
        fmt = WorkflowSerializationFormat(options.get("serialization_type", WorkflowSerializationFormat.DEFAULT))
        reg = RegisteredWorkflow(name=name, func=_not_here, is_async=False,
                                 max_recovery_attempts=DEFAULT_MAX_RECOVERY_ATTEMPTS, serialization=fmt)
        opts = StartOptions(
            workflow_id=options.get("workflow_id"), queue_name=queue_name,
            deduplication_id=options.get("deduplication_id"), priority=options.get("priority", 0),
            delay_until_epoch_ms=None if delay is None else rt.clock.now_ms() + int(delay * 1000),
            authenticated_user=options.get("authenticated_user"), app_version=options.get("app_version"),
        )
        start = await prepare_start(rt, reg, args, kwargs, opts)
        return start.workflow_id
