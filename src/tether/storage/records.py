"""The records the storage interface speaks: rows of each table as dataclasses, the listing
filter, and the queue-admission policy (a pure decision, tested without a database)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

# Topic under which messages sent without a topic are queued (NULL would defeat the index).
NULL_TOPIC = "__tether_null_topic__"


@dataclass
class WorkflowRow:
    workflow_uuid: str
    status: str
    name: str
    class_name: str | None = None
    config_name: str | None = None
    authenticated_user: str | None = None
    inputs: bytes | None = None
    output: bytes | None = None
    error: bytes | None = None
    executor_id: str | None = None
    application_version: str | None = None
    application_id: str | None = None
    created_at: int = 0
    # created_at, started_at_epoch_ms and completed_at to the microsecond (epoch us; each one's millisecond is
    # the millisecond column's value). None on rows written before migration 015 and on imported rows.
    created_at_us: int | None = None
    updated_at: int = 0
    recovery_attempts: int = 0
    queue_name: str | None = None
    deduplication_id: str | None = None
    priority: int = 0
    delay_until_epoch_ms: int | None = None
    started_at_epoch_ms: int | None = None
    started_at_us: int | None = None
    workflow_timeout_ms: int | None = None
    workflow_deadline_epoch_ms: int | None = None
    parent_workflow_id: str | None = None
    forked_from: str | None = None
    serialization: str | None = None
    schedule_name: str | None = None
    is_debounced: int = 0
    debounce_deadline_epoch_ms: int | None = None
    queue_partition_key: str | None = None
    attributes: str | None = None  # a JSON object, as text
    completed_at: int | None = None
    completed_at_us: int | None = None
    was_forked_from: bool = False
    application_name: str | None = None
    trace_context: str | None = None  # the starter's W3C trace context, JSON {"traceparent": ..., ...}
    unread_messages_at_end: int | None = None  # messages still queued when it ended; None until it ends
    authenticated_roles: str | None = None  # the roles granted to authenticated_user, a JSON list (engine/auth.py)
    assumed_role: str | None = None  # the role it was started with assumed


WORKFLOW_COLUMNS: tuple[str, ...] = tuple(WorkflowRow.__dataclass_fields__)


@dataclass
class OperationRow:
    """One checkpointed operation of a workflow. ``completed_at`` is None while the operation still waits
    (a recv or get_event whose deadline is recorded but which has not returned yet)."""

    function_id: int
    function_name: str
    output: bytes | None = None
    error: bytes | None = None
    child_workflow_id: str | None = None
    started_at: int | None = None
    completed_at: int | None = None
    wait_deadline: int | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """One message of a bulk send, already serialized; ``topic`` already mapped (NULL_TOPIC for None)."""

    destination_id: str
    topic: str
    message: bytes
    idempotency_key: str | None = None


class Delivery(enum.Enum):
    """What :meth:`Store.hand_message` did with a message."""

    HANDED = "handed"      # recorded as the parked recv's output: the receiver takes it with no statement
    QUEUED = "queued"      # queued as a plain send queues it (older messages wait, or the recv was recorded)
    SENT_BEFORE = "sent before"  # nothing written: the sender's operation or the idempotency key was used


@dataclass(frozen=True)
class QueuedMessage:
    """One message still queued for a workflow (not received yet). ``topic`` is as stored (NULL_TOPIC for
    none); ``size`` is the length of the stored bytes; ``message`` is None unless the values were asked for."""

    message_id: int
    topic: str
    created_at: int
    size: int
    idempotency_key: str | None = None
    message: bytes | None = None


@dataclass
class StreamChunk:
    """Rows of a stream from some offset, and the owning workflow's status when they were read."""

    entries: list[tuple[int, bytes | None]] = field(default_factory=list)  # (seq, value); None = close
    workflow_status: str | None = None


@dataclass(frozen=True)
class EventVersionRow:
    """One version of an event: its number (1, 2, ... per workflow and key), value and when it was set."""

    version: int
    value: bytes
    created_at: int


@dataclass
class EventVersionChunk:
    """Versions of an event from some version on, and the owning workflow's status in the same snapshot
    (None: no such workflow)."""

    entries: list[EventVersionRow] = field(default_factory=list)
    workflow_status: str | None = None


@dataclass
class WorkflowFilter:
    """Filters of ``list_workflows``; every field is optional. Lists mean "any of"."""

    workflow_ids: Sequence[str] | None = None
    status: Sequence[str] | None = None
    start_time_us: int | None = None  # creation-time bounds, inclusive, in epoch microseconds
    end_time_us: int | None = None
    name: Sequence[str] | None = None
    app_version: Sequence[str] | None = None
    forked_from: Sequence[str] | None = None
    parent_workflow_id: Sequence[str] | None = None
    user: Sequence[str] | None = None
    queue_name: Sequence[str] | None = None
    workflow_id_prefix: Sequence[str] | None = None
    executor_id: Sequence[str] | None = None
    schedule_name: Sequence[str] | None = None
    queues_only: bool = False
    has_parent: bool | None = None
    was_forked_from: bool | None = None
    is_fork: bool | None = None
    completed_after_us: int | None = None  # inclusive, in epoch microseconds
    completed_before_us: int | None = None
    dequeued_after_us: int | None = None
    dequeued_before_us: int | None = None
    application_name: Sequence[str] | None = None
    attributes: str | None = None  # a JSON object the workflows' attributes must contain
    limit: int | None = None
    offset: int | None = None
    sort_desc: bool = False
    load_input: bool = True
    load_output: bool = True


@dataclass(frozen=True)
class PartitionLoad:
    """What one partition of a queue holds, read inside the claiming transaction."""

    key: str | None
    enqueued: int
    running: int            # PENDING on this partition, over every process
    running_here: int       # PENDING on this partition in the claiming executor
    started_in_period: int  # started within the partition limiter's period


@dataclass(frozen=True)
class QueuePolicy:
    """What a queue admits. ``admit`` and ``admit_partitions`` are the pure admission rules; the store feeds
    them counts it read inside the claiming transaction (under a per-queue lock on PostgreSQL, BEGIN IMMEDIATE
    on SQLite). A queue with any ``partition_*`` limit is partitioned: those limits apply to each partition
    key separately, the others to the queue as a whole."""

    name: str
    concurrency: int | None = None          # PENDING at once on this queue, over every process
    worker_concurrency: int | None = None   # PENDING at once on this queue in one executor
    limit: int | None = None                # starts allowed per ``period_ms`` (rate limiter), globally
    period_ms: int | None = None
    priority_enabled: bool = False
    max_batch: int = 100
    partition_concurrency: int | None = None         # PENDING at once per partition, over every process
    partition_worker_concurrency: int | None = None  # PENDING at once per partition in one executor
    partition_limit: int | None = None               # starts per partition per ``partition_period_ms``
    partition_period_ms: int | None = None
    polling_interval_ms: int = 1000
    application_name: str | None = None     # the application that registered it (database queues)
    application_version: str | None = None  # the version whose settings these are (database queues)

    @property
    def partitioned(self) -> bool:
        return (self.partition_concurrency is not None or self.partition_worker_concurrency is not None
                or self.partition_limit is not None)

    @property
    def global_limits(self) -> bool:
        """Whether admission depends on other processes' claims (so claims must be serialized)."""
        return (self.concurrency is not None or self.limit is not None or self.partition_concurrency is not None
                or self.partition_limit is not None)

    def admit(self, running: int, running_here: int, started_in_period: int) -> int:
        """How many ENQUEUED workflows may start now, given the PENDING count on the queue, the PENDING
        count of this executor on it, and the number started within the rate limiter's period."""
        n = self.max_batch
        if self.concurrency is not None:
            n = min(n, self.concurrency - running)
        if self.worker_concurrency is not None:
            n = min(n, self.worker_concurrency - running_here)
        if self.limit is not None:
            n = min(n, self.limit - started_in_period)
        return max(0, n)

    def admit_partitions(self, budget: int, loads: Sequence[PartitionLoad], after: str | None = None
                         ) -> list[tuple[str | None, int]]:
        """Share ``budget`` (what :meth:`admit` allows the whole queue) among partitions, each within its own
        limits. Partitions are visited in key order starting after ``after`` (the last one served by the
        previous claim), so a few busy partitions cannot starve the others when the budget is small.
        Returns (partition key, how many to start) for each partition that gets any."""
        order = sorted(loads, key=lambda p: (p.key is not None, p.key or ""))
        if after is not None:
            split = next((i for i, p in enumerate(order) if p.key is not None and p.key > after), len(order))
            order = order[split:] + order[:split]
        out: list[tuple[str | None, int]] = []
        for p in order:
            if budget <= 0:
                break
            n = min(budget, p.enqueued)
            if self.partition_concurrency is not None:
                n = min(n, self.partition_concurrency - p.running)
            if self.partition_worker_concurrency is not None:
                n = min(n, self.partition_worker_concurrency - p.running_here)
            if self.partition_limit is not None:
                n = min(n, self.partition_limit - p.started_in_period)
            if n > 0:
                out.append((p.key, n))
                budget -= n
        return out


@dataclass
class ScheduleRow:
    """One durable schedule. ``context`` is serialized; ``last_fired_at`` is the last tick's ISO 8601 time
    in the schedule's zone (``last_fired_ms`` the same instant)."""

    schedule_id: str
    schedule_name: str
    workflow_name: str
    schedule: str
    workflow_class_name: str | None = None
    status: str = "ACTIVE"
    context: bytes | None = None
    last_fired_at: str | None = None
    last_fired_ms: int | None = None
    automatic_backfill: int = 0
    cron_timezone: str | None = None
    queue_name: str | None = None
    updated_at: int = 0
    application_name: str | None = None  # the owning application; None: unclaimed, fired by every application


SCHEDULE_COLUMNS: tuple[str, ...] = tuple(ScheduleRow.__dataclass_fields__)


@dataclass(frozen=True)
class VersionRow:
    """One registered application version (times in epoch ms; ``application_name`` None: unclaimed)."""

    version_id: str
    version_name: str
    version_timestamp: int
    created_at: int
    application_name: str | None


@dataclass
class DebounceResult:
    """What a debounce found under its key: the DELAYED workflow it pushed back (``bounced``), or else the
    active workflow holding the key (``holder``, None when the key is free) and whether that one is a
    debounced workflow of the same function."""

    bounced: str | None = None
    holder: str | None = None
    holder_is_debounced: bool = False
    holder_name: str | None = None


@dataclass
class ProcessRow:
    """A launched process as registered in the database (see ``engine/ownership.py`` for the rules)."""

    process_id: str
    executor_id: str
    app_name: str
    application_version: str
    hostname: str
    pid: int
    machine: str | None
    pid_started: str | None
    started_at: int
    heartbeat_at: int
    timeout_ms: int
    stopped_at: int | None = None


PROCESS_COLUMNS: tuple[str, ...] = tuple(ProcessRow.__dataclass_fields__)


@dataclass
class Adoption:
    """What adopting a dead process moved: the workflows the adopter now runs (PENDING, owned by it) and those
    put back on their queue (freeing the dead process's queue slots)."""

    adopted: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)


# A stream value written from a step: (the step's function_id, the occurrence of this value among the step
# attempt's writes to the key, a 16-byte digest of the value). See migration 014.
StepWrite = tuple[int, int, bytes]


def step_write_params(step_write: StepWrite | None) -> dict[str, object]:
    """The statement parameters naming a step write (all None for a write from elsewhere)."""
    if step_write is None:
        return {"step_function_id": None, "write_index": None, "write_digest": None}
    return {"step_function_id": step_write[0], "write_index": step_write[1], "write_digest": step_write[2]}
