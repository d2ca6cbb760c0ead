"""Tether's exceptions, one tree, shaped like DBOS's so that ``except <DBOS name>`` catches what Tether raises.

    TetherError = DBOSException (Exception)       base of every error Tether raises (``message``, ``dbos_error_code``)
    ├── NotLaunchedError (RuntimeError)            an API call before DBOS.launch() / after destroy()
    ├── NotInWorkflowError (RuntimeError)          a workflow-only call (recv, set_event, ...) outside a workflow
    ├── DBOSInitializationError                    DBOS could not be set up
    │   └── ConfigError (ValueError)               a bad config key, value or database URL
    ├── SerializationError (TypeError)             a value that cannot be stored (or read back) in its format
    ├── DBOSNonExistentWorkflowError (LookupError) no workflow has that ID
    │   └── WorkflowNotFoundError                  Tether's name, built from the workflow ID alone
    │       └── NonExistentWorkflowError           a send / event / stream addressed to a missing workflow
    ├── ConflictingWorkflowError = DBOSConflictingWorkflowError (ValueError)  one ID, another workflow function
    ├── DBOSWorkflowFunctionNotFoundError          a stored workflow names a function this process lacks
    │   └── UnregisteredWorkflowError (LookupError)
    ├── DBOSMaxStepRetriesExceeded                 a step failed on every allowed attempt (``errors``)
    │   └── MaxStepRetriesExceeded                 Tether's name, built from the last error
    ├── MaxRecoveryAttemptsExceeded = MaxRecoveryAttemptsExceededError   crashed more often than allowed
    ├── DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded   get_result() on such a workflow
    │   └── AwaitedWorkflowMaxRecoveryAttemptsExceeded   (also a MaxRecoveryAttemptsExceeded)
    ├── AwaitedWorkflowCancelledError = DBOSAwaitedWorkflowCancelledError   get_result() on a cancelled workflow
    ├── QueueDeduplicatedError = DBOSQueueDeduplicatedError (ValueError)   deduplication ID already active
    ├── QueueConfigurationError (ValueError)       queue settings or enqueue options that cannot be honoured
    ├── DBOSWorkflowIDInUseError                   a 'reject' reuse policy met an ID in use
    ├── DBOSRecoveryError, DBOSNotAuthorizedError, DBOSQueryTimeoutError,
    │   DBOSStepTimeoutError, DBOSStreamTimeoutError, DBOSStreamNondeterminismError,
    │   DBOSUnexpectedStepError, DBOSStepNondeterminismError, DBOSPatchNondeterminismError
    ├── StepOptionsError (ValueError)              step options that cannot work (a timeout on a sync step, ...)
    ├── StreamClosedError (RuntimeError)           a write to a stream that was already closed
    ├── InvalidScheduleError (ValueError)          a schedule or debouncer definition that cannot be used
    ├── ScheduleExistsError (ValueError)           create_schedule with a name already taken
    ├── ScheduleNotFoundError (LookupError)        no schedule has that name
    ├── InvalidArgumentError (ValueError)          a bad argument: a NUL or lone surrogate in an ID, key or name,
    │                                              one too long, a NaN/infinite/negative timeout, a huge offset
    ├── ArgumentTypeError (TypeError)              an argument of the wrong type (an int idempotency key, ...)
    ├── DBOSImportError                            tether import-dbos could not copy; nothing was written
    │   └── DBOSSourceError (ValueError)           the source is unreachable, not DBOS's, or of an unknown version
    └── StorageError                               the database failed; the driver's error is ``__cause__``
        └── DatabaseUnavailableError               a passing fault (connection lost, server restarting, lock
                                                   held, disk full, read-only): retried until the database
                                                   is back; seen only when the caller's own timeout ran out

    DBOSBaseException (BaseException)              stops a workflow; ``except Exception`` does not swallow it
    ├── DBOSWorkflowCancelledError
    │   └── WorkflowCancelledError                 the workflow was cancelled; raised at its next operation
    └── DBOSWorkflowConflictIDError                this execution no longer owns its workflow

Errors that DBOS numbers print as DBOS does (``DBOS Error 5: Non-existent ...``): people match on those texts.
``tether.error`` offers exactly DBOS's names.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class DBOSErrorCode(Enum):
    """DBOS's error numbers, kept on each error as ``dbos_error_code``."""

    ConflictingIDError = 1
    RecoveryError = 2
    InitializationError = 3
    WorkflowFunctionNotFound = 4
    NonExistentWorkflowError = 5
    MaxRecoveryAttemptsExceeded = 6
    MaxStepRetriesExceeded = 7
    NotAuthorized = 8
    ConflictingWorkflowError = 9
    WorkflowCancelled = 10
    UnexpectedStep = 11
    QueueDeduplicated = 12
    AwaitedWorkflowCancelled = 13
    AwaitedWorkflowMaxRecoveryAttemptsExceeded = 14
    PatchNondeterminism = 15
    StreamTimeout = 16
    StreamNondeterminism = 17
    StepTimeout = 18
    QueryTimeout = 26
    WorkflowIDInUse = 27
    StepNondeterminism = 28


def _render(message: str, code: int | None) -> str:
    return f"DBOS Error {code}: {message}" if code else message


class _Rebuildable:
    """Errors whose constructor is not ``(message)`` keep their arguments so that pickle can rebuild them."""

    _ctor_args: tuple[Any, ...]

    def __reduce__(self) -> Any:
        args = getattr(self, "_ctor_args", None)
        if args is None:
            return super().__reduce__()
        return (type(self), args, self.__dict__)


class TetherError(_Rebuildable, Exception):
    """Base class of every exception Tether raises (``DBOSException`` is the same class)."""

    def __init__(self, message: str = "", dbos_error_code: int | None = None) -> None:
        self.message = message
        self.dbos_error_code = dbos_error_code
        super().__init__(message)

    def __str__(self) -> str:
        return _render(self.message, self.dbos_error_code)


DBOSException = TetherError


class DBOSBaseException(_Rebuildable, BaseException):
    """Base of the errors that end a workflow's execution; not an ``Exception``, so user code does not
    swallow them with ``except Exception``."""

    def __init__(self, message: str = "", dbos_error_code: int | None = None) -> None:
        self.message = message
        self.dbos_error_code = dbos_error_code
        super().__init__(message)

    def __str__(self) -> str:
        return _render(self.message, self.dbos_error_code)


class NotLaunchedError(TetherError, RuntimeError):
    """An API call that needs a launched DBOS was made before ``DBOS.launch()`` or after ``destroy()``."""


class NotInWorkflowError(TetherError, RuntimeError):
    """A call that only makes sense inside a workflow (or step) was made outside one."""


class DBOSInitializationError(TetherError):
    """DBOS could not be initialized."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Error initializing DBOS: {message}", DBOSErrorCode.InitializationError.value)
        self.detail = message
        self._ctor_args = (message,)


class ConfigError(DBOSInitializationError, ValueError):
    """The configuration (a key, a value, the database URL) is invalid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.dbos_error_code = None


class SerializationError(TetherError, TypeError):
    """A value could not be serialized (or deserialized) in the requested format."""


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


class QueueDeduplicatedError(TetherError, ValueError):
    """An enqueue used a deduplication ID that another active workflow on that queue holds."""

    def __init__(self, workflow_id: str, queue_name: str, deduplication_id: str) -> None:
        super().__init__(
            f"Workflow {workflow_id} was deduplicated due to an existing workflow in queue {queue_name} "
            f"with deduplication ID {deduplication_id}.", DBOSErrorCode.QueueDeduplicated.value)
        self.workflow_id = workflow_id
        self.queue_name = queue_name
        self.deduplication_id = deduplication_id
        self._ctor_args = (workflow_id, queue_name, deduplication_id)


DBOSQueueDeduplicatedError = QueueDeduplicatedError


class QueueConfigurationError(TetherError, ValueError):
    """Queue settings that contradict each other, a queue name another application owns, or enqueue options
    that cannot be honoured (a deduplication policy without a deduplication ID, enqueue options on a workflow
    that is not enqueued, an unknown workflow ID reuse policy). Raised before anything is written."""


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


class DBOSQueryTimeoutError(TetherError, TimeoutError):
    """An observability query ran past its statement timeout."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__(f"This query was cancelled after exceeding its {timeout_seconds:g}s statement timeout.",
                         DBOSErrorCode.QueryTimeout.value)
        self.timeout_seconds = timeout_seconds
        self._ctor_args = (timeout_seconds,)


class DBOSStepTimeoutError(TetherError):
    """A step was stopped because it ran past its timeout."""

    def __init__(self, step_name: str, timeout_seconds: float) -> None:
        super().__init__(f"Step {step_name} was cancelled after exceeding its timeout of {timeout_seconds} seconds",
                         DBOSErrorCode.StepTimeout.value)
        self.step_name = step_name
        self.timeout_seconds = timeout_seconds
        self._ctor_args = (step_name, timeout_seconds)


class DBOSStreamTimeoutError(TetherError):
    """No value arrived on a stream in time (or the stream ended before the wanted offset)."""

    def __init__(self, workflow_id: str, key: str, timeout_seconds: float | None = None) -> None:
        within = f" within {timeout_seconds} seconds" if timeout_seconds is not None else ""
        super().__init__(f"No value arrived on stream {key} of workflow {workflow_id}{within}",
                         DBOSErrorCode.StreamTimeout.value)
        self.workflow_id = workflow_id
        self.key = key
        self.timeout_seconds = timeout_seconds
        self._ctor_args = (workflow_id, key, timeout_seconds)


class DBOSStreamNondeterminismError(TetherError):
    """Two concurrent stream reads in one workflow would make its replay depend on scheduling."""

    def __init__(self, workflow_id: str, key: str) -> None:
        super().__init__(f"Cannot deterministically read stream {key} in workflow {workflow_id}: another read "
                         "of a stream in this workflow is still in progress. Read streams one at a time, "
                         "or from a step.", DBOSErrorCode.StreamNondeterminism.value)
        self.workflow_id = workflow_id
        self.key = key
        self._ctor_args = (workflow_id, key)


class DBOSUnexpectedStepError(TetherError):
    """Replay found another function recorded at this step than the one the code calls now."""

    def __init__(self, workflow_id: str, step_id: int, expected_name: str, recorded_name: str) -> None:
        super().__init__(f"During execution of workflow {workflow_id} step {step_id}, function {recorded_name} "
                         f"was recorded when {expected_name} was expected. Check that your workflow is "
                         "deterministic.", DBOSErrorCode.UnexpectedStep.value)
        self.inputs = (workflow_id, step_id, expected_name, recorded_name)
        self._ctor_args = self.inputs


class DBOSStepNondeterminismError(TetherError):
    """One execution recorded the same step twice with different results."""

    def __init__(self, workflow_id: str, step_id: int) -> None:
        super().__init__(f"Step {step_id} of workflow {workflow_id} was recorded twice by the same execution "
                         "with different results. Check that your workflow is deterministic.",
                         DBOSErrorCode.StepNondeterminism.value)
        self.inputs = (workflow_id, step_id)
        self._ctor_args = self.inputs


class DBOSPatchNondeterminismError(TetherError):
    """A patch check cannot be answered deterministically."""

    def __init__(self, workflow_id: str, patch_name: str, details: str) -> None:
        super().__init__(f"Cannot deterministically apply patch {patch_name} in workflow {workflow_id}: "
                         f"{details}. Check that your workflow is deterministic.",
                         DBOSErrorCode.PatchNondeterminism.value)
        self.inputs = (workflow_id, patch_name, details)
        self._ctor_args = self.inputs


class StreamClosedError(TetherError, RuntimeError):
    """A value was written to a stream that had already been closed."""

    def __init__(self, workflow_id: str, key: str) -> None:
        super().__init__(f"Stream {key!r} of workflow {workflow_id!r} is closed")
        self.workflow_id = workflow_id
        self.key = key
        self._ctor_args = (workflow_id, key)


class StepOptionsError(TetherError, ValueError):
    """Step options that cannot be honoured: a timeout or preemption on a synchronous step, a timeout that is
    not a positive finite number, an async ``should_retry`` for a synchronous step."""


class StorageError(TetherError):
    """The database failed. The driver's exception is attached as ``__cause__``."""


class DatabaseUnavailableError(StorageError):
    """The database is unreachable or cannot take writes for now: the connection was lost, the server is
    restarting or shutting down, a SQLite write lock was held past the busy timeout, the disk is full, or the
    database is read-only.

    Tether retries every operation that meets such a fault, with backoff, until the database is back, so
    this error reaches code only when the caller's own timeout (``get_result(timeout)``, ``get_event``'s
    ``timeout_seconds`` outside a workflow) ran out first. It is never recorded as a workflow's outcome.
    """


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


class InvalidScheduleError(TetherError, ValueError):
    """A schedule (or debouncer) that cannot be used: a bad cron expression or time zone, an undeclared
    queue, an unregistered workflow, a bound instance method, or a call not allowed inside a workflow."""


class ScheduleExistsError(TetherError, ValueError):
    """``create_schedule`` with a name another schedule already has (``apply_schedules`` replaces it)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Schedule '{name}' already exists")
        self.schedule_name = name
        self._ctor_args = (name,)


class ScheduleNotFoundError(TetherError, LookupError):
    """No schedule has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Schedule '{name}' does not exist")
        self.schedule_name = name
        self._ctor_args = (name,)
class InvalidArgumentError(TetherError, ValueError):
    """An argument's value cannot be accepted, and nothing was written: an ID, key, topic or name that is empty
    where it may not be, contains a NUL character or a lone surrogate, or is longer than
    :data:`tether.engine.validation.MAX_TEXT_BYTES` bytes of UTF-8; a timeout that is NaN, infinite, negative or
    over :data:`tether.engine.validation.MAX_TIMEOUT_SECONDS`; an offset or step number out of range.
    ``argument`` names the parameter."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self._ctor_args = (argument, message)


class ArgumentTypeError(TetherError, TypeError):
    """An argument has the wrong type (an ``int`` idempotency key, a ``str`` timeout); nothing was written.
    ``argument`` names the parameter."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self._ctor_args = (argument, message)


class DBOSImportError(TetherError):
    """``tether import-dbos`` could not copy a DBOS system database into Tether's; nothing was written."""


class DBOSSourceError(DBOSImportError, ValueError):
    """The database to import from cannot be read as a DBOS 3.4 system database: it cannot be reached or
    opened, it holds no DBOS system tables, its schema version is not one Tether reads, or one of its stored
    values is malformed. Raised before anything is written."""
