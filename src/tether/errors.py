"""Tether's exceptions, one tree.

    TetherError                              base of every error Tether raises
    ├── NotLaunchedError (RuntimeError)      an API call before DBOS.launch() / after destroy()
    ├── NotInWorkflowError (RuntimeError)    a workflow-only call (recv, set_event, ...) outside a workflow
    ├── ConfigError (ValueError)             a bad config or database URL
    ├── SerializationError (TypeError)       a value that cannot be stored in the chosen format
    ├── WorkflowNotFoundError (LookupError)  no workflow has that ID
    ├── ConflictingWorkflowError (ValueError) one ID reused for a different workflow function
    ├── NonExistentWorkflowError (LookupError) send() to an ID that has no workflow
    ├── UnregisteredWorkflowError (LookupError) recovery met a workflow name this process does not know
    ├── MaxStepRetriesExceeded               a step failed on every allowed attempt (``last_error`` kept)
    ├── MaxRecoveryAttemptsExceeded          a workflow crashed more often than it may be recovered
    ├── WorkflowCancelledError               the workflow was cancelled; raised at its next operation
    ├── AwaitedWorkflowCancelledError        get_result() on a cancelled workflow
    ├── QueueDeduplicatedError (ValueError)  an enqueue whose deduplication ID is already in use
    ├── StreamClosedError (RuntimeError)     a write to a stream that was already closed
    └── StorageError                         the database failed; the driver's error is ``__cause__``

Names used by DBOS (``DBOSException``, ``DBOSNonExistentWorkflowError``, ...) are aliases of these.
"""

from __future__ import annotations


class TetherError(Exception):
    """Base class of every exception Tether raises."""


class NotLaunchedError(TetherError, RuntimeError):
    """An API call that needs a launched DBOS was made before ``DBOS.launch()`` or after ``destroy()``."""


class NotInWorkflowError(TetherError, RuntimeError):
    """A call that only makes sense inside a workflow (or step) was made outside one."""


class ConfigError(TetherError, ValueError):
    """The configuration, typically the database URL, is invalid."""


class SerializationError(TetherError, TypeError):
    """A value could not be serialized (or deserialized) in the requested format."""


class WorkflowNotFoundError(TetherError, LookupError):
    """No workflow with the given ID exists."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"No workflow with ID {workflow_id!r}")
        self.workflow_id = workflow_id


class NonExistentWorkflowError(WorkflowNotFoundError):
    """A message was sent to a workflow ID that does not exist."""


class ConflictingWorkflowError(TetherError, ValueError):
    """A workflow ID is already used by a workflow of another name."""

    def __init__(self, workflow_id: str, message: str) -> None:
        super().__init__(f"Conflicting workflow ID {workflow_id!r}: {message}")
        self.workflow_id = workflow_id


class UnregisteredWorkflowError(TetherError, LookupError):
    """A stored workflow names a function that is not registered in this process."""


class MaxStepRetriesExceeded(TetherError):
    """A step failed on every one of its allowed attempts. ``last_error`` is the final failure."""

    def __init__(self, step_name: str, max_attempts: int, last_error: BaseException | None) -> None:
        super().__init__(
            f"Step {step_name!r} failed after {max_attempts} attempts; last error: {last_error!r}"
        )
        self.step_name = step_name
        self.max_attempts = max_attempts
        self.last_error = last_error

    def __reduce__(self) -> tuple[object, ...]:
        return (MaxStepRetriesExceeded, (self.step_name, self.max_attempts, self.last_error))


class MaxRecoveryAttemptsExceeded(TetherError):
    """A workflow was recovered more times than its ``max_recovery_attempts`` allows."""

    def __init__(self, workflow_id: str, max_attempts: int) -> None:
        super().__init__(
            f"Workflow {workflow_id!r} exceeded its maximum of {max_attempts} recovery attempts"
        )
        self.workflow_id = workflow_id
        self.max_attempts = max_attempts

    def __reduce__(self) -> tuple[object, ...]:
        return (MaxRecoveryAttemptsExceeded, (self.workflow_id, self.max_attempts))


class WorkflowCancelledError(TetherError):
    """The running workflow was cancelled; raised at the start of its next operation."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"Workflow {workflow_id!r} was cancelled")
        self.workflow_id = workflow_id

    def __reduce__(self) -> tuple[object, ...]:
        return (WorkflowCancelledError, (self.workflow_id,))


class AwaitedWorkflowCancelledError(TetherError):
    """``get_result`` was called on a workflow that has been cancelled."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"Awaited workflow {workflow_id!r} was cancelled")
        self.workflow_id = workflow_id

    def __reduce__(self) -> tuple[object, ...]:
        return (AwaitedWorkflowCancelledError, (self.workflow_id,))


class QueueDeduplicatedError(TetherError, ValueError):
    """An enqueue used a deduplication ID that another active workflow on that queue holds."""

    def __init__(self, workflow_id: str, queue_name: str, deduplication_id: str) -> None:
        super().__init__(
            f"Workflow {workflow_id!r} not enqueued: deduplication ID {deduplication_id!r} "
            f"is already active on queue {queue_name!r}"
        )
        self.workflow_id = workflow_id
        self.queue_name = queue_name
        self.deduplication_id = deduplication_id

    def __reduce__(self) -> tuple[object, ...]:
        return (QueueDeduplicatedError, (self.workflow_id, self.queue_name, self.deduplication_id))


class StorageError(TetherError):
    """The database failed. The driver's exception is attached as ``__cause__``."""


# DBOS-compatible names, so code written against DBOS catches the same things.
DBOSException = TetherError
DBOSNonExistentWorkflowError = NonExistentWorkflowError
DBOSConflictingWorkflowError = ConflictingWorkflowError
DBOSWorkflowConflictIDError = ConflictingWorkflowError
DBOSMaxStepRetriesExceeded = MaxStepRetriesExceeded
DBOSWorkflowCancelledError = WorkflowCancelledError
DBOSAwaitedWorkflowCancelledError = AwaitedWorkflowCancelledError
DBOSQueueDeduplicatedError = QueueDeduplicatedError


class StreamClosedError(TetherError, RuntimeError):
    """A value was written to a stream that had already been closed."""

    def __init__(self, workflow_id: str, key: str) -> None:
        super().__init__(f"Stream {key!r} of workflow {workflow_id!r} is closed")
        self.workflow_id = workflow_id
        self.key = key

    def __reduce__(self) -> tuple[object, ...]:
        return (StreamClosedError, (self.workflow_id, self.key))
