"""Errors of single operations: queues, step options and timeouts, streams, replay nondeterminism, schedules,
and ``tether import-dbos``."""

from __future__ import annotations

from tether.errors.base import DBOSErrorCode, TetherError


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


class InvalidScheduleError(TetherError, ValueError):
    """A schedule (or debouncer) that cannot be used: a bad cron expression or time zone, an undeclared
    queue, an unregistered workflow, a bound instance method, or a call not allowed inside a workflow."""


class ScheduleExistsError(TetherError, ValueError):
    """``create_schedule`` with a name another schedule already has (``apply_schedules`` replaces it), or
    ``apply_schedules`` redefining a schedule that another application owns (``owner``)."""

    def __init__(self, name: str, owner: str | None = None) -> None:
        if owner is None:
            super().__init__(f"Schedule '{name}' already exists")
        else:
            super().__init__(f"Schedule '{name}' belongs to application '{owner}'; give this application's "
                             f"schedule a different name")
        self.schedule_name = name
        self.owner = owner
        self._ctor_args = (name, owner)


class ScheduleNotFoundError(TetherError, LookupError):
    """No schedule has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Schedule '{name}' does not exist")
        self.schedule_name = name
        self._ctor_args = (name,)


class DBOSImportError(TetherError):
    """``tether import-dbos`` could not copy a DBOS system database into Tether's; nothing was written."""


class DBOSSourceError(DBOSImportError, ValueError):
    """The database to import from cannot be read as a DBOS 3.4 system database: it cannot be reached or
    opened, it holds no DBOS system tables, its schema version is not one Tether reads, or one of its stored
    values is malformed. Raised before anything is written."""
