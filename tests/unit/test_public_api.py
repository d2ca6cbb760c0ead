"""The public surface is pinned: adding or removing a name is a deliberate change to this list."""

from __future__ import annotations

import tether

PUBLIC = {
    # the application, its handles and context managers
    "DBOS", "DBOSClient", "DBOSConfig", "DBOSConfiguredInstance", "SetWorkflowID", "SetWorkflowAttributes",
    "SetWorkflowTimeout", "SendMessage", "StepReservation", "SetEnqueueOptions", "WorkflowHandle",
    "WorkflowHandleAsync", "Queue", "QueueRateLimit", "EnqueueOptions", "DuplicationPolicy", "KafkaMessage",
    "WorkflowIDReusePolicy", "PropagateOtelContext", "SQLAlchemyDatasource",
    "AsyncSQLAlchemyDatasource",
    # identity and roles
    "DBOSContextSetAuth", "DBOSContextEnsure",
    # accepted for DBOS's enterprise features, without effect
    "SetShardKey",
    # schedules and the debouncer
    "Debouncer", "DebouncerClient", "ScheduleInput", "ClientScheduleInput", "WorkflowSchedule",
    # durable select: its sources and its result
    "on_message", "on_event", "on_completion", "OnMessage", "OnEvent", "OnCompletion", "Selected",
    # value types
    "WorkflowStatus", "WorkflowStatusString", "StepInfo", "StepOptions", "StepStatus", "StreamRead",
    "PendingMessage", "VersionInfo",
    "WorkflowSerializationFormat",
    "EventVersion",
    # errors (Tether names)
    "TetherError", "ConfigError", "NotLaunchedError", "NotInWorkflowError", "SerializationError", "StorageError",
    "DatabaseUnavailableError",
    "WorkflowNotFoundError", "NonExistentWorkflowError", "ConflictingWorkflowError", "UnregisteredWorkflowError",
    "MaxStepRetriesExceeded", "MaxRecoveryAttemptsExceeded", "WorkflowCancelledError",
    "AwaitedWorkflowCancelledError", "QueueDeduplicatedError", "StreamClosedError", "InvalidScheduleError",
    "ScheduleExistsError", "ScheduleNotFoundError",
    "QueueConfigurationError",
    "InvalidArgumentError", "ArgumentTypeError",
    # errors (DBOS names, aliases of the above)
    "DBOSException", "DBOSNonExistentWorkflowError", "DBOSConflictingWorkflowError", "DBOSWorkflowConflictIDError",
    "DBOSMaxStepRetriesExceeded", "DBOSWorkflowCancelledError", "DBOSAwaitedWorkflowCancelledError",
    "DBOSQueueDeduplicatedError",
    # DBOS's error module; serializers
    "error", "DBOSPortableJSONSerializer", "PortableWorkflowError", "Serializer",
    "make_pydantic_args_validator", "pydantic_args_validator", "run_dbos_database_migrations",
}


def test_public_names_are_pinned() -> None:
    assert set(tether.__all__) == PUBLIC
    assert len(tether.__all__) == len(PUBLIC)  # no duplicates
    for name in tether.__all__:
        assert hasattr(tether, name), name


def test_every_public_error_is_a_tether_error() -> None:
    # Errors that stop a workflow's execution are BaseExceptions, as in DBOS, so that ``except Exception``
    # in user code does not swallow a cancellation.
    for name in tether.__all__:
        obj = getattr(tether, name)
        if isinstance(obj, type) and issubclass(obj, BaseException) and obj is not tether.PortableWorkflowError:
            # PortableWorkflowError stands for an application's error read back without its class, as in DBOS
            assert issubclass(obj, (tether.TetherError, tether.error.DBOSBaseException)), name


def test_dbos_names_catch_tether_errors() -> None:
    assert tether.DBOSException is tether.TetherError
    assert issubclass(tether.NonExistentWorkflowError, tether.DBOSNonExistentWorkflowError)
    assert issubclass(tether.WorkflowNotFoundError, tether.DBOSNonExistentWorkflowError)
    assert tether.DBOSConflictingWorkflowError is tether.ConflictingWorkflowError
    assert issubclass(tether.WorkflowCancelledError, tether.DBOSWorkflowCancelledError)
    assert not issubclass(tether.WorkflowCancelledError, Exception)
    assert issubclass(tether.MaxStepRetriesExceeded, tether.DBOSMaxStepRetriesExceeded)


def test_py_typed_is_shipped() -> None:
    from importlib import resources

    assert resources.files("tether").joinpath("py.typed").is_file()
