"""Errors about workflows as a whole: one that does not exist, conflicts, recovery, retries exhausted,
cancellation, and ownership lost."""

from __future__ import annotations

from tether.errors.base import DBOSBaseException, DBOSErrorCode, TetherError


class DBOSNonExistentWorkflowError(TetherError, LookupError):
    """No workflow with the given ID exists (``destination`` says what the ID was used for)."""

    def __init__(self, destination: str, destination_id: str) -> None:
        where = f"{destination} " if destination else ""
        super().__init__(f"Non-existent {where}workflow ID: {destination_id}",
                         DBOSErrorCode.NonExistentWorkflowError.value)
        self.destination = destination
        self.destination_id = destination_id
        self.workflow_id = destination_id
        self._ctor_args = (destination, destination_id)


class WorkflowNotFoundError(DBOSNonExistentWorkflowError):
    """No workflow with the given ID exists."""

    def __init__(self, workflow_id: str, destination: str = "target") -> None:
        super().__init__(destination, workflow_id)
        self._ctor_args = (workflow_id, destination)


class NonExistentWorkflowError(WorkflowNotFoundError):
    """A message, event or stream write was addressed to a workflow ID that does not exist."""

    def __init__(self, workflow_id: str, destination: str = "`send` destination") -> None:
        super().__init__(workflow_id, destination)


class ConflictingWorkflowError(TetherError, ValueError):
    """A workflow ID is already used by a workflow of another function (``DBOSConflictingWorkflowError``)."""

    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        super().__init__(f"Conflicting workflow invocation with the same ID ({workflow_id}): {message}",
                         DBOSErrorCode.ConflictingWorkflowError.value)
        self.workflow_id = workflow_id
        self.detail = message
        self._ctor_args = (workflow_id, message)


DBOSConflictingWorkflowError = ConflictingWorkflowError


class DBOSWorkflowFunctionNotFoundError(TetherError):
    """The database names a workflow function that is not registered in this process."""

    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        super().__init__(f"Could not execute workflow {workflow_id}: {message}",
                         DBOSErrorCode.WorkflowFunctionNotFound.value)
        self.workflow_id = workflow_id
        self.detail = message
        self._ctor_args = (workflow_id, message)


class UnregisteredWorkflowError(DBOSWorkflowFunctionNotFoundError, LookupError):
    """A stored workflow names a function that is not registered in this process."""


class NotAWorkflowError(DBOSWorkflowFunctionNotFoundError, TypeError):
    """A function that is not a registered workflow (nor a step) was given to start or enqueue, where DBOS
    raises ``DBOSWorkflowFunctionNotFoundError`` (for the workflow ``<NONE>``); also a ``TypeError``."""


class DBOSRecoveryError(TetherError):
    """Recovering a workflow failed."""

    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        super().__init__(f"Recovery error for workflow ID {workflow_id}: {message}",
                         DBOSErrorCode.RecoveryError.value)
        self.workflow_id = workflow_id
        self.detail = message
        self._ctor_args = (workflow_id, message)


class DBOSMaxStepRetriesExceeded(TetherError):
    """A step failed on every one of its allowed attempts; ``errors`` holds the failures."""

    def __init__(self, step_name: str, max_retries: int, errors: list[Exception]) -> None:
        super().__init__(f"Step {step_name} has exceeded its maximum of {max_retries} retries",
                         DBOSErrorCode.MaxStepRetriesExceeded.value)
        self.step_name = step_name
        self.max_retries = max_retries
        self.errors = errors
        self._ctor_args = (step_name, max_retries, errors)


class MaxStepRetriesExceeded(DBOSMaxStepRetriesExceeded):
    """A step failed on every one of its allowed attempts. ``last_error`` is the final failure."""

    def __init__(self, step_name: str, max_attempts: int, last_error: BaseException | None,
                 errors: list[Exception] | None = None) -> None:
        if errors is None:
            errors = [last_error] if isinstance(last_error, Exception) else []
        super().__init__(step_name, max_attempts, errors)
        if last_error is not None:
            self.message += f"; last error: {last_error!r}"
        self.max_attempts = max_attempts
        self.last_error = last_error
        self._ctor_args = (step_name, max_attempts, last_error, errors)


class MaxRecoveryAttemptsExceededError(TetherError):
    """A workflow was started or recovered more times than its ``max_recovery_attempts`` allows."""

    def __init__(self, wf_id: str, max_retries: int | None = None) -> None:
        limit = "its maximum" + (f" of {max_retries}" if max_retries is not None else " number of")
        super().__init__(f"Workflow {wf_id} has exceeded {limit} execution or recovery attempts. "
                         "Further attempts to execute or recover it will fail.",
                         DBOSErrorCode.MaxRecoveryAttemptsExceeded.value)
        self.workflow_id = wf_id
        self.max_retries = max_retries
        self.max_attempts = max_retries
        self._ctor_args = (wf_id, max_retries)


MaxRecoveryAttemptsExceeded = MaxRecoveryAttemptsExceededError


class DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(TetherError):
    """The awaited workflow was dead-lettered after too many recovery attempts."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"Awaited workflow {workflow_id} exceeded its maximum recovery attempts",
                         DBOSErrorCode.AwaitedWorkflowMaxRecoveryAttemptsExceeded.value)
        self.workflow_id = workflow_id
        self._ctor_args = (workflow_id,)


class AwaitedWorkflowMaxRecoveryAttemptsExceeded(DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
                                                 MaxRecoveryAttemptsExceededError):
    """``get_result`` on a workflow that exceeded its recovery attempts; caught by either name."""

    def __init__(self, workflow_id: str, max_attempts: int | None = None) -> None:
        TetherError.__init__(self, f"Awaited workflow {workflow_id} exceeded its maximum recovery attempts",
                             DBOSErrorCode.AwaitedWorkflowMaxRecoveryAttemptsExceeded.value)
        self.workflow_id = workflow_id
        self.max_retries = max_attempts
        self.max_attempts = max_attempts
        self._ctor_args = (workflow_id, max_attempts)


class AwaitedWorkflowCancelledError(TetherError):
    """``get_result`` was called on a workflow that has been cancelled."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"Awaited workflow {workflow_id} was cancelled",
                         DBOSErrorCode.AwaitedWorkflowCancelled.value)
        self.workflow_id = workflow_id
        self._ctor_args = (workflow_id,)


DBOSAwaitedWorkflowCancelledError = AwaitedWorkflowCancelledError


class DBOSWorkflowIDInUseError(TetherError):
    """A start with reuse policy 'reject' found its workflow ID already in use."""

    def __init__(self, workflow_id: str, workflow_status: str, workflow_name: str) -> None:
        super().__init__(f"Workflow ID {workflow_id} is already in use by workflow {workflow_name} "
                         f"with status {workflow_status}.", DBOSErrorCode.WorkflowIDInUse.value)
        self.workflow_id = workflow_id
        self.workflow_status = workflow_status
        self.workflow_name = workflow_name
        self._ctor_args = (workflow_id, workflow_status, workflow_name)


class DBOSNotAuthorizedError(TetherError):
    """The caller lacks a role the function requires."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, DBOSErrorCode.NotAuthorized.value)
        self.msg = msg
        self._ctor_args = (msg,)


class DBOSWorkflowCancelledError(DBOSBaseException):
    """The workflow has been cancelled: its execution stops at its next durable operation."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, DBOSErrorCode.WorkflowCancelled.value)
        self._ctor_args = (msg,)


class WorkflowCancelledError(DBOSWorkflowCancelledError):
    """The running workflow was cancelled; raised at the start of its next operation."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"Workflow {workflow_id} is cancelled. Aborting function.")
        self.workflow_id = workflow_id
        self._ctor_args = (workflow_id,)


class DBOSWorkflowConflictIDError(DBOSBaseException):
    """This execution no longer owns its workflow (another process took it over); it must stop."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"Workflow {workflow_id} is no longer owned by this execution",
                         DBOSErrorCode.ConflictingIDError.value)
        self.workflow_id = workflow_id
        self._ctor_args = (workflow_id,)


def is_workflow_id_in_use_error(e: BaseException) -> bool:
    """True if ``e`` is a workflow-ID-in-use rejection, also when it was recorded without its class."""
    if getattr(e, "dbos_error_code", None) == DBOSErrorCode.WorkflowIDInUse.value:
        return True
    return getattr(e, "name", None) == "DBOSWorkflowIDInUseError"
