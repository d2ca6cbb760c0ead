"""Tether: durable workflows for Python, on SQLite or PostgreSQL.

    from tether import DBOS, SetWorkflowID

The API mirrors DBOS's Python SDK, so its examples run with only the import changed.
"""

from tether import error
from tether.api.async_datasource import AsyncSQLAlchemyDatasource
from tether.api.client import DBOSClient
from tether.api.client_management import EnqueueOptions
from tether.api.context import SetShardKey, SetWorkflowAttributes, SetWorkflowID, SetWorkflowTimeout
from tether.api.database_admin import run_dbos_database_migrations
from tether.api.datasource import SQLAlchemyDatasource
from tether.api.dbos import DBOS
from tether.api.debouncer import Debouncer, DebouncerClient
from tether.api.enqueue_options import DuplicationPolicy, SetEnqueueOptions, WorkflowIDReusePolicy
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.history import SendMessage, StepReservation
from tether.api.instances import DBOSConfiguredInstance
from tether.api.kafka import KafkaMessage
from tether.api.queue import Queue, QueueRateLimit
from tether.api.roles import DBOSContextEnsure, DBOSContextSetAuth
from tether.api.schedules import ClientScheduleInput, ScheduleInput
from tether.api.tracing_api import PropagateOtelContext
from tether.api.validation import make_pydantic_args_validator, pydantic_args_validator
from tether.config import DBOSConfig
from tether.errors import (
    ArgumentTypeError,
    AwaitedWorkflowCancelledError,
    ConfigError,
    ConflictingWorkflowError,
    DatabaseUnavailableError,
    DBOSAwaitedWorkflowCancelledError,
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSMaxStepRetriesExceeded,
    DBOSNonExistentWorkflowError,
    DBOSQueueDeduplicatedError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
    InvalidArgumentError,
    InvalidScheduleError,
    MaxRecoveryAttemptsExceeded,
    MaxStepRetriesExceeded,
    NonExistentWorkflowError,
    NotInWorkflowError,
    NotLaunchedError,
    QueueConfigurationError,
    QueueDeduplicatedError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    SerializationError,
    StorageError,
    StreamClosedError,
    TetherError,
    UnregisteredWorkflowError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
)
from tether.selection import OnCompletion, OnEvent, OnMessage, Selected, on_completion, on_event, on_message
from tether.serialization import DBOSPortableJSONSerializer, PortableWorkflowError, Serializer
from tether.types import (
    EventVersion,
    PendingMessage,
    StepInfo,
    StepOptions,
    StepStatus,
    StreamRead,
    VersionInfo,
    WorkflowSchedule,
    WorkflowSerializationFormat,
    WorkflowStatus,
    WorkflowStatusString,
)

__version__ = "0.1.0"

__all__ = [
    "DBOS",
    "ArgumentTypeError",
    "AsyncSQLAlchemyDatasource",
    "AwaitedWorkflowCancelledError",
    "ClientScheduleInput",
    "ConfigError",
    "ConflictingWorkflowError",
    "DBOSAwaitedWorkflowCancelledError",
    "DBOSClient",
    "DBOSConfig",
    "DBOSConfiguredInstance",
    "DBOSConflictingWorkflowError",
    "DBOSContextEnsure",
    "DBOSContextSetAuth",
    "DBOSException",
    "DBOSMaxStepRetriesExceeded",
    "DBOSNonExistentWorkflowError",
    "DBOSPortableJSONSerializer",
    "DBOSQueueDeduplicatedError",
    "DBOSWorkflowCancelledError",
    "DBOSWorkflowConflictIDError",
    "DatabaseUnavailableError",
    "Debouncer",
    "DebouncerClient",
    "DuplicationPolicy",
    "EnqueueOptions",
    "EventVersion",
    "InvalidArgumentError",
    "InvalidScheduleError",
    "KafkaMessage",
    "MaxRecoveryAttemptsExceeded",
    "MaxStepRetriesExceeded",
    "NonExistentWorkflowError",
    "NotInWorkflowError",
    "NotLaunchedError",
    "OnCompletion",
    "OnEvent",
    "OnMessage",
    "PendingMessage",
    "PortableWorkflowError",
    "PropagateOtelContext",
    "Queue",
    "QueueConfigurationError",
    "QueueDeduplicatedError",
    "QueueRateLimit",
    "SQLAlchemyDatasource",
    "ScheduleExistsError",
    "ScheduleInput",
    "ScheduleNotFoundError",
    "Selected",
    "SendMessage",
    "SerializationError",
    "Serializer",
    "SetEnqueueOptions",
    "SetShardKey",
    "SetWorkflowAttributes",
    "SetWorkflowID",
    "SetWorkflowTimeout",
    "StepInfo",
    "StepOptions",
    "StepReservation",
    "StepStatus",
    "StorageError",
    "StreamClosedError",
    "StreamRead",
    "TetherError",
    "UnregisteredWorkflowError",
    "VersionInfo",
    "WorkflowCancelledError",
    "WorkflowHandle",
    "WorkflowHandleAsync",
    "WorkflowIDReusePolicy",
    "WorkflowNotFoundError",
    "WorkflowSchedule",
    "WorkflowSerializationFormat",
    "WorkflowStatus",
    "WorkflowStatusString",
    "error",
    "make_pydantic_args_validator",
    "on_completion",
    "on_event",
    "on_message",
    "pydantic_args_validator",
    "run_dbos_database_migrations",
]
