"""Value types shared by every layer: statuses, status snapshots, step records, options.

Kept in a leaf module so that storage, engine and API can all speak them without importing each other.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict


@dataclass(frozen=True)
class StepStatus:
    """What ``DBOS.step_status`` tells a running step: its number in the workflow and, for a step with
    retries, which attempt this is (from 0) out of how many."""

    step_id: int
    current_attempt: int | None
    max_attempts: int | None


class WorkflowStatusString(str, enum.Enum):
    """Lifecycle of a workflow. ENQUEUED/DELAYED -> PENDING -> one of the terminal states."""

    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"
    ENQUEUED = "ENQUEUED"
    DELAYED = "DELAYED"
    MAX_RECOVERY_ATTEMPTS_EXCEEDED = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"

    def __str__(self) -> str:
        return self.value


class ApplicationRowCounts(TypedDict):
    """What ``DBOSClient.rename_application`` moved to the new name, by kind of row."""

    queues: int
    schedules: int
    versions: int
    workflows: int
    steps: int  # checkpoints of the moved workflows


TERMINAL_STATUSES = frozenset(
    {
        WorkflowStatusString.SUCCESS.value,
        WorkflowStatusString.ERROR.value,
        WorkflowStatusString.CANCELLED.value,
        WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value,
    }
)
ACTIVE_STATUSES = frozenset(
    {
        WorkflowStatusString.PENDING.value,
        WorkflowStatusString.ENQUEUED.value,
        WorkflowStatusString.DELAYED.value,
    }
)


class WorkflowSerializationFormat(str, enum.Enum):
    """How values are stored, with DBOS's members and values: ``DEFAULT`` (the application's ``serializer``,
    else pickle), ``NATIVE`` (pickle: any Python value) or ``PORTABLE`` (JSON any language can read).

    ``DEFAULT``'s value is the string ``"None"``, as in DBOS. The names Tether used before, ``"pickle"`` and
    ``"json"``, still convert (to ``DEFAULT`` and ``PORTABLE``), as does ``None``.
    """

    PORTABLE = "portable"
    NATIVE = "native"
    DEFAULT = None

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> WorkflowSerializationFormat | None:
        legacy = {None: cls.DEFAULT, "pickle": cls.DEFAULT, "json": cls.PORTABLE}
        return legacy.get(value) if isinstance(value, str | type(None)) else None


@dataclass
class WorkflowStatus:
    """A snapshot of one workflow, as returned by ``get_workflow_status`` and ``list_workflows``."""

    workflow_id: str
    status: str
    name: str
    class_name: str | None = None
    config_name: str | None = None
    authenticated_user: str | None = None
    input: Any = None
    output: Any = None
    error: BaseException | None = None
    created_at: int | None = None
    updated_at: int | None = None
    queue_name: str | None = None
    executor_id: str | None = None
    app_version: str | None = None
    recovery_attempts: int = 0
    parent_workflow_id: str | None = None
    forked_from: str | None = None
    deduplication_id: str | None = None
    priority: int = 0
    delay_until_epoch_ms: int | None = None
    app_id: str | None = None
    workflow_timeout_ms: int | None = None
    workflow_deadline_epoch_ms: int | None = None
    schedule_name: str | None = None
    is_debounced: bool = False
    debounce_deadline_epoch_ms: int | None = None
    attributes: dict[str, Any] | None = None
    queue_partition_key: str | None = None
    completed_at: int | None = None
    dequeued_at: int | None = None
    was_forked_from: bool = False
    application_name: str | None = None
    assumed_role: str | None = None
    authenticated_roles: list[str] | None = None
    shard_key: str | None = None
    parent_shard_key: str | None = None
    # Tether: how many messages were still queued for it (sent, never received) when it ended; None while it
    # has not ended. Messages sent after the end are not counted (``pending_message_counts`` shows them).
    unread_messages_at_end: int | None = None

    @property
    def args(self) -> tuple[Any, ...]:
        inp = self.input
        if isinstance(inp, dict) and "args" in inp:
            return tuple(inp["args"])
        return ()

    @property
    def kwargs(self) -> dict[str, Any]:
        inp = self.input
        if isinstance(inp, dict) and "kwargs" in inp:
            return dict(inp["kwargs"])
        return {}


class WorkflowSchedule(TypedDict):
    """A durable schedule, as ``list_schedules`` and ``get_schedule`` return it. ``status`` is ``ACTIVE`` or
    ``PAUSED``; ``last_fired_at`` is the last tick's ISO 8601 time in the schedule's zone (None before the
    first); ``cron_timezone`` None means UTC; ``queue_name`` None means Tether's internal queue;
    ``application_name`` is the owning application (None: unclaimed, fired by every application)."""

    schedule_id: str
    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    status: str
    context: Any
    last_fired_at: str | None
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    application_name: str | None
    shard_key: str | None  # always None: the database is not sharded


class VersionInfo(TypedDict):
    """A registered application version, as ``list_application_versions`` returns it: times in epoch
    milliseconds; the latest version is the one with the newest ``version_timestamp``; ``application_name``
    is the owning application (None: unclaimed, every application's)."""

    version_id: str
    version_name: str
    version_timestamp: int
    created_at: int
    application_name: str | None


class StepInfo(TypedDict):
    """One recorded operation of a workflow, as returned by ``list_workflow_steps``."""

    function_id: int
    function_name: str
    output: Any | None
    error: BaseException | None
    child_workflow_id: str | None
    started_at_epoch_ms: int | None
    completed_at_epoch_ms: int | None
    child_shard_key: str | None


class StepOptions(TypedDict, total=False):
    """Options for ``DBOS.run_step`` (the same knobs as ``@DBOS.step``)."""

    name: str | None
    retries_allowed: bool
    interval_seconds: float
    max_attempts: int
    backoff_rate: float
    should_retry: Callable[[BaseException], bool | Awaitable[bool]] | None
    preemptible: bool
    timeout_seconds: float | None


@dataclass(frozen=True)
class StreamRead:
    """A non-blocking read of a stream: the values from ``offset`` on, and whether the stream is closed.

    ``next_offset`` is where a follow-up read should start (``offset + len(values)``).
    """

    values: list[Any] = field(default_factory=list)
    closed: bool = False
    next_offset: int = 0


@dataclass(frozen=True)
class PendingMessage:
    """A message queued for a workflow that no ``recv`` has taken yet (``DBOS.list_pending_messages``).

    ``topic`` is None for a message sent without a topic; ``sent_at_epoch_ms`` is when it was sent;
    ``size_bytes`` the size of the stored (serialized) value; ``value`` the decoded message when the listing
    was asked for values (``load_values=True``), else None. A value that cannot be decoded in this process is
    an :class:`~tether.serialization.UndecodableValue` saying why, rather than an error for the whole listing.
    """

    message_id: int
    topic: str | None
    sent_at_epoch_ms: int
    size_bytes: int
    idempotency_key: str | None = None
    value: Any = None


@dataclass(frozen=True)
class StreamInfo:
    """One stream a workflow wrote: its key, how many values it holds, and whether it was closed."""

    key: str
    values: int
    closed: bool


@dataclass(frozen=True)
class EventVersion:
    """One version of a workflow event: every ``set_event`` of a key gives it the next ``version``
    (1, 2, ... per workflow and key). ``created_at_epoch_ms`` is when that version was set."""

    key: str
    version: int
    value: Any
    created_at_epoch_ms: int
