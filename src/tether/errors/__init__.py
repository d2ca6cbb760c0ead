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
    │   ├── UnregisteredWorkflowError (LookupError)
    │   └── NotAWorkflowError (TypeError)           start or enqueue of a function that is no workflow
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

from tether.errors.base import (
    ArgumentTypeError,
    ConfigError,
    DatabaseUnavailableError,
    DBOSBaseException,
    DBOSErrorCode,
    DBOSException,
    DBOSInitializationError,
    InvalidArgumentError,
    NotInWorkflowError,
    NotLaunchedError,
    SerializationError,
    StorageError,
    TetherError,
)
from tether.errors.operations import (
    DBOSImportError,
    DBOSPatchNondeterminismError,
    DBOSQueryTimeoutError,
    DBOSQueueDeduplicatedError,
    DBOSSourceError,
    DBOSStepNondeterminismError,
    DBOSStepTimeoutError,
    DBOSStreamNondeterminismError,
    DBOSStreamTimeoutError,
    DBOSUnexpectedStepError,
    InvalidScheduleError,
    QueueConfigurationError,
    QueueDeduplicatedError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    StepOptionsError,
    StreamClosedError,
)
from tether.errors.workflows import (
    AwaitedWorkflowCancelledError,
    AwaitedWorkflowMaxRecoveryAttemptsExceeded,
    ConflictingWorkflowError,
    DBOSAwaitedWorkflowCancelledError,
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSConflictingWorkflowError,
    DBOSMaxStepRetriesExceeded,
    DBOSNonExistentWorkflowError,
    DBOSNotAuthorizedError,
    DBOSRecoveryError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
    DBOSWorkflowFunctionNotFoundError,
    DBOSWorkflowIDInUseError,
    MaxRecoveryAttemptsExceeded,
    MaxRecoveryAttemptsExceededError,
    MaxStepRetriesExceeded,
    NonExistentWorkflowError,
    NotAWorkflowError,
    UnregisteredWorkflowError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
    is_workflow_id_in_use_error,
)

__all__ = [
    "ArgumentTypeError",
    "AwaitedWorkflowCancelledError",
    "AwaitedWorkflowMaxRecoveryAttemptsExceeded",
    "ConfigError",
    "ConflictingWorkflowError",
    "DBOSAwaitedWorkflowCancelledError",
    "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded",
    "DBOSBaseException",
    "DBOSConflictingWorkflowError",
    "DBOSErrorCode",
    "DBOSException",
    "DBOSImportError",
    "DBOSInitializationError",
    "DBOSMaxStepRetriesExceeded",
    "DBOSNonExistentWorkflowError",
    "DBOSNotAuthorizedError",
    "DBOSPatchNondeterminismError",
    "DBOSQueryTimeoutError",
    "DBOSQueueDeduplicatedError",
    "DBOSRecoveryError",
    "DBOSSourceError",
    "DBOSStepNondeterminismError",
    "DBOSStepTimeoutError",
    "DBOSStreamNondeterminismError",
    "DBOSStreamTimeoutError",
    "DBOSUnexpectedStepError",
    "DBOSWorkflowCancelledError",
    "DBOSWorkflowConflictIDError",
    "DBOSWorkflowFunctionNotFoundError",
    "DBOSWorkflowIDInUseError",
    "DatabaseUnavailableError",
    "InvalidArgumentError",
    "InvalidScheduleError",
    "MaxRecoveryAttemptsExceeded",
    "MaxRecoveryAttemptsExceededError",
    "MaxStepRetriesExceeded",
    "NonExistentWorkflowError",
    "NotAWorkflowError",
    "NotInWorkflowError",
    "NotLaunchedError",
    "QueueConfigurationError",
    "QueueDeduplicatedError",
    "ScheduleExistsError",
    "ScheduleNotFoundError",
    "SerializationError",
    "StepOptionsError",
    "StorageError",
    "StreamClosedError",
    "TetherError",
    "UnregisteredWorkflowError",
    "WorkflowCancelledError",
    "WorkflowNotFoundError",
    "is_workflow_id_in_use_error",
]
