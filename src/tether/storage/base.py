"""The storage interface every backend implements (the records it speaks live in ``records.py``).

Values arrive here already serialized (``bytes``); the store never pickles or unpickles anything. Each method
is one short transaction. Driver exceptions are translated into :class:`tether.errors.StorageError` (or a more
specific Tether error) inside the backend, so nothing above this layer sees ``sqlite3`` or ``psycopg``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from tether.storage.checkpoints import Checkpoint, Outcome, write_alone
from tether.storage.external import CallerSession
from tether.storage.importstore import ImportBatch, ImportCounts
from tether.storage.records import (
    NULL_TOPIC,
    PROCESS_COLUMNS,
    SCHEDULE_COLUMNS,
    WORKFLOW_COLUMNS,
    Adoption,
    DebounceResult,
    Delivery,
    EventVersionChunk,
    EventVersionRow,
    OperationRow,
    OutgoingMessage,
    PartitionLoad,
    ProcessRow,
    QueuedMessage,
    QueuePolicy,
    ScheduleRow,
    StepWrite,
    StreamChunk,
    VersionRow,
    WorkflowFilter,
    WorkflowRow,
    step_write_params,
)
from tether.storage.wakeups import Listener
from tether.types import ApplicationRowCounts

__all__ = [
    "NULL_TOPIC", "PROCESS_COLUMNS", "SCHEDULE_COLUMNS", "WORKFLOW_COLUMNS", "Adoption", "DebounceResult",
    "Delivery", "EventVersionChunk", "EventVersionRow", "OperationRow", "OutgoingMessage", "PartitionLoad",
    "ProcessRow", "QueuePolicy", "QueuedMessage", "ScheduleRow", "StepWrite", "Store", "StreamChunk", "VersionRow",
    "WorkflowFilter", "WorkflowRow", "step_write_params",
]


class Store(abc.ABC):
    """The system database. Every method is one short transaction and may raise ``StorageError``.

    ``owner_process`` is the registered process this store acts for (None for a client): every write that
    makes a workflow PENDING under an executor (a start, a queue claim, a resume, a recovery) names it as the
    workflow's owner, so that at most one live process runs a workflow whatever the executor IDs.
    """

    backend: str
    owner_process: str | None = None

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def listener(self) -> Listener:
        """A new listener for wake-ups from other processes."""

    # -- workflows -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def insert_workflow(self, row: WorkflowRow) -> tuple[bool, WorkflowRow]:
        """Insert a new workflow. Returns (True, row) if created, or (False, existing row) if the ID exists.

        Raises:
            QueueDeduplicatedError: the row's deduplication ID is already active on its queue.
        """

    @abc.abstractmethod
    def get_workflow(self, workflow_id: str, *, load_input: bool = True, load_output: bool = True
                     ) -> WorkflowRow | None: ...

    @abc.abstractmethod
    def complete_workflow(self, workflow_id: str, status: str, output: bytes | None,
                          error: bytes | None, now_ms: int, now_us: int | None = None) -> bool:
        """Record a PENDING workflow's end (at ``now_us`` to the microsecond when given; its millisecond is
        ``now_ms``). Returns False if it was no longer PENDING (e.g. cancelled)."""

    @abc.abstractmethod
    def begin_recovery_many(self, workflow_ids: Sequence[str], now_ms: int, *,
                            previous_owner: str | None = None) -> list[WorkflowRow]:
        """Count one more recovery attempt for each still-PENDING workflow of ``workflow_ids`` that has no
        owner or is owned by ``owner_process`` (or ``previous_owner``), make it owned by ``owner_process``, and
        return them (with inputs), in few statements: recovery of many workflows must not cost a round trip
        each."""

    # -- processes (ownership) -----------------------------------------------------------------------------
    @abc.abstractmethod
    def register_process(self, row: ProcessRow) -> None:
        """Insert this process's row (a fresh ``process_id``)."""

    @abc.abstractmethod
    def list_processes(self) -> list[ProcessRow]:
        """Every registered process, live or not yet adopted."""

    @abc.abstractmethod
    def heartbeat(self, process_id: str, now_ms: int) -> bool:
        """Renew a process's heartbeat. False when its row is gone or stopped: it was adopted (or stopped),
        and the workflows it was running belong to another process now."""

    @abc.abstractmethod
    def stop_process(self, process_id: str, now_ms: int) -> None:
        """A clean shutdown: delete the row if the process owns no PENDING workflow, else mark it stopped
        (adoptable at once, and the others are woken)."""

    @abc.abstractmethod
    def adopt_process(self, dead: ProcessRow, executor_id: str, now_ms: int) -> Adoption | None:
        """Take over ``dead`` atomically, exactly once: if its row still holds the heartbeat ``dead`` was
        judged on, delete it, put its PENDING workflows that came from a queue back to ENQUEUED, and make the
        rest owned by ``owner_process`` under ``executor_id`` — all in one transaction. None if another
        process adopted it first or it renewed its heartbeat meanwhile."""

    @abc.abstractmethod
    def owned_pending(self, process_id: str) -> list[str]:
        """IDs of the PENDING workflows a process owns."""

    @abc.abstractmethod
    def run_state(self, workflow_id: str) -> tuple[str, str | None] | None:
        """A workflow's status and the process that owns it (None when no process does), or None when there
        is no such workflow."""

    @abc.abstractmethod
    def load_operations_many(self, workflow_ids: Sequence[str]) -> dict[str, list[OperationRow]]:
        """The checkpoints of several workflows at once, each list ordered by function_id."""

    @abc.abstractmethod
    def list_workflows(self, flt: WorkflowFilter) -> list[WorkflowRow]: ...

    @abc.abstractmethod
    def set_status(self, workflow_ids: Sequence[str], status: str, now_ms: int, *,
                   only_from: Sequence[str] | None = None, queue_name: Any = ...,
                   reset_recovery: bool = False, executor_id: str | None = None,
                   started_at: Any = ..., app_version: str | None = None,
                   restart_deadline_at: Any = ..., now_us: int | None = None,
                   clear_deduplication_id: bool = False) -> list[str]:
        """Set the status of workflows (optionally only those currently in ``only_from``); ``queue_name`` and
        ``started_at`` if given replace those columns (an end, or a start at ``now_ms``, is recorded to the
        microsecond too when ``now_us`` is given), ``app_version`` fills an empty version,
        ``restart_deadline_at`` (epoch ms) counts the timeout again from then, or None clears the deadline
        (a queued workflow gets it at its dequeue), ``clear_deduplication_id`` empties that column. Returns the
        IDs changed.

        Raises:
            QueueDeduplicatedError: the change would make two active workflows share a deduplication ID.
        """

    @abc.abstractmethod
    def delete_workflows(self, workflow_ids: Sequence[str]) -> None:
        """Delete workflows with everything recorded for them."""

    @abc.abstractmethod
    def update_attributes(self, workflow_id: str, attributes: str | None, merge: bool) -> bool:
        """Replace a workflow's attributes (JSON object text, or None), or merge its top-level keys into the
        stored ones, atomically. Returns False if no workflow has this ID."""

    @abc.abstractmethod
    def explain_list_workflows(self, flt: WorkflowFilter) -> str:
        """The database's query plan for ``list_workflows(flt)`` (a diagnostic)."""

    # -- queues and delays -------------------------------------------------------------------------------
    @abc.abstractmethod
    def claim_queued(self, policy: QueuePolicy, executor_id: str, app_version: str, now_ms: int,
                     after_partition: str | None = None, *, now_us: int | None = None
                     ) -> tuple[list[WorkflowRow], str | None]:
        """Move as many ENQUEUED workflows of a queue to PENDING (owned by ``executor_id``, dequeued at
        ``now_ms``, and at ``now_us`` to the microsecond when given) as the policy admits, highest priority
        and oldest first, and return them with their inputs. Only workflows of ``app_version`` (or of no
        version) are taken. Safe to call from many processes at once. On a
        partitioned queue partitions are served from the one after ``after_partition``; the second value is
        the last partition served (pass it to the next claim)."""

    @abc.abstractmethod
    def queues_with_work(self, queue_names: Sequence[str]) -> set[str]:
        """Which of these queues hold at least one ENQUEUED workflow (a lock-free read, so that the runner
        only opens a claiming transaction where there is something to claim)."""

    @abc.abstractmethod
    def deduplicated_workflow(self, queue_name: str, deduplication_id: str) -> str | None:
        """The active (enqueued, delayed or running) workflow holding a deduplication ID on a queue."""

    @abc.abstractmethod
    def register_queue(self, policy: QueuePolicy, now_ms: int, on_conflict: str) -> tuple[bool, QueuePolicy]:
        """Store a queue's settings. ``on_conflict``: ``always_update``, ``never_update`` or
        ``update_if_latest_version`` (replace only if ``policy.application_version`` is its application's
        latest registered version). Returns (created, the settings now stored).

        Raises:
            QueueConfigurationError: the name is registered by another application.
        """

    @abc.abstractmethod
    def get_queue(self, name: str) -> QueuePolicy | None: ...

    # application versions (storage/versionstore.py)
    @abc.abstractmethod
    def register_version(self, version_name: str, application_name: str | None, now_ms: int) -> str | None: ...

    @abc.abstractmethod
    def list_versions(self, application_name: str | None) -> list[VersionRow]: ...

    @abc.abstractmethod
    def promote_version(self, version_name: str, application_name: str | None, now_ms: int) -> None: ...

    @abc.abstractmethod
    def rename_application(self, old_name: str | None, new_name: str, adopt_unclaimed: bool,
                           batch_size: int | None) -> ApplicationRowCounts: ...  # storage/renamestore.py

    @abc.abstractmethod
    def caller_session(self, conn: Any) -> AbstractContextManager[CallerSession]:
        """Named statements in the caller's own SQLAlchemy transaction (storage/external.py)."""

    @abc.abstractmethod
    def list_queues(self) -> list[QueuePolicy]: ...

    @abc.abstractmethod
    def queue_loads(self) -> dict[str, dict[str, int]]:
        """For each queue holding unfinished workflows: how many are ENQUEUED, PENDING, DELAYED (statuses
        with none are left out)."""

    @abc.abstractmethod
    def update_queue(self, name: str, fields: dict[str, Any], now_ms: int) -> bool:
        """Change some settings of a stored queue (keys are ``QueuePolicy`` field names); False if missing."""

    @abc.abstractmethod
    def delete_queue(self, name: str) -> bool: ...

    @abc.abstractmethod
    def due_delayed(self, now_ms: int, limit: int = 100) -> list[WorkflowRow]:
        """DELAYED workflows whose delay has passed (without inputs or outputs)."""

    @abc.abstractmethod
    def next_delay_ms(self, after_ms: int = -1) -> int | None:
        """The earliest ``delay_until_epoch_ms`` later than ``after_ms`` of any DELAYED workflow."""

    @abc.abstractmethod
    def set_delay(self, workflow_id: str, delay_until_ms: int, now_ms: int) -> bool:
        """Move a DELAYED workflow's start time; False if it is not DELAYED."""

    @abc.abstractmethod
    def promote_delayed(self, workflow_id: str, now_ms: int, *, start_executor: str | None = None,
                        app_version: str = "", now_us: int | None = None) -> bool:
        """Move a DELAYED workflow whose delay has passed at ``now_ms`` to ENQUEUED or, with ``start_executor``,
        to PENDING owned by that executor. False if it is no longer DELAYED or no longer due (its delay was
        moved since it was read as due): the delay is re-checked in the same statement."""

    @abc.abstractmethod
    def fork_workflow(self, row: WorkflowRow, source_id: str, before_function_id: int,
                      replacement_children: dict[str, str] | None = None) -> bool:
        """Insert ``row`` and copy ``source_id``'s checkpoints below ``before_function_id`` to it (child IDs
        swapped per ``replacement_children``), with the events as they were then, atomically; mark the source
        as forked from. False, writing nothing, when a workflow already has ``row``'s ID."""

    # -- schedules and debounces ------------------------------------------------------------------------
    @abc.abstractmethod
    def put_schedules(self, rows: Sequence[ScheduleRow], *, replace: bool) -> None:
        """Create schedules in one transaction. With ``replace`` an existing schedule of the same name takes
        the new definition (keeping its ID, status, last tick and owner); without, it is an error.

        Raises:
            ScheduleExistsError: a schedule of that name exists (and ``replace`` is False), or belongs to
                another application than the new definition names.
        """

    @abc.abstractmethod
    def list_schedules(self, *, status: Sequence[str] | None = None, workflow_name: Sequence[str] | None = None,
                       name_prefix: Sequence[str] | None = None, names: Sequence[str] | None = None,
                       owners: Sequence[str] | None = None) -> list[ScheduleRow]: ...

    @abc.abstractmethod
    def set_schedule_status(self, name: str, status: str, now_ms: int) -> bool:
        """Pause or resume a schedule; False if there is none of that name."""

    @abc.abstractmethod
    def delete_schedule(self, name: str) -> bool: ...

    @abc.abstractmethod
    def record_tick(self, name: str, fired_at: str, fired_ms: int) -> None:
        """Note that a schedule fired a tick (only ever moves ``last_fired_at`` forward)."""

    @abc.abstractmethod
    def debounce(self, workflow_name: str, queue_name: str, deduplication_id: str, delay_until_ms: int,
                 inputs: bytes, now_ms: int) -> DebounceResult:
        """Push back the DELAYED debounced workflow holding ``deduplication_id`` on the queue (not past its
        debounce deadline) and give it ``inputs``; or report who holds the key. One transaction."""

    # -- operations (checkpoints) ------------------------------------------------------------------------
    def write_checkpoints(self, items: Sequence[Checkpoint[Any]]) -> list[Outcome]:
        """Write checkpoints of many workflows, sharing one transaction where the backend can (group commit,
        ``storage/checkpoints.py``), and answer each as its own method would: ``(result, None)`` or
        ``(None, error)`` in order. This default writes each alone.

        Raises:
            DatabaseUnavailableError: a fault cut a shared transaction off (its fate unknown): write each
                checkpoint again alone.
        """
        return [write_alone(self, item) for item in items]

    @abc.abstractmethod
    def record_operation(self, workflow_id: str, op: OperationRow) -> OperationRow | None:
        """Record an operation's outcome (or, with ``completed_at`` None, its wait deadline).

        Returns None when this call recorded it, or the row already recorded by an earlier run (whose
        result then wins, keeping replay deterministic). A waiting row is completed by a later call.
        """

    @abc.abstractmethod
    def load_operations(self, workflow_id: str, *, limit: int | None = None,
                        offset: int | None = None) -> list[OperationRow]: ...

    @abc.abstractmethod
    def copy_operations(self, source_id: str, target_id: str, before_function_id: int) -> None:
        """Copy the checkpoints of ``source_id`` below ``before_function_id`` to ``target_id`` (fork)."""

    # -- messages --------------------------------------------------------------------------------------
    @abc.abstractmethod
    def send_message(self, destination_id: str, topic: str, message: bytes, now_ms: int, *,
                     idempotency_key: str | None = None,
                     sender: tuple[str, OperationRow] | None = None) -> bool:
        """Queue a message. With ``sender`` (workflow_id, op) the send is recorded as that operation in the
        same transaction. Returns False when it had already been sent (idempotency key or op recorded).

        Raises:
            NonExistentWorkflowError: no workflow has ``destination_id``.
        """

    @abc.abstractmethod
    def hand_message(self, destination_id: str, topic: str, message: bytes, now_ms: int, receiver: OperationRow,
                     *, idempotency_key: str | None = None,
                     sender: tuple[str, OperationRow] | None = None) -> Delivery:
        """Send a message to a ``recv`` parked in this process (``engine/handoff.py``): when no older message
        waits on (destination, topic), record it straight as ``receiver`` (the recv's operation, whose output
        it becomes) instead of queueing it, in the same transaction as the sender's operation and the
        idempotency key. Otherwise, or when the recv's operation was recorded meanwhile, queue it as
        :meth:`send_message` does.

        Raises:
            NonExistentWorkflowError: no workflow has ``destination_id``.
        """

    @abc.abstractmethod
    def send_messages(self, messages: Sequence[OutgoingMessage], now_ms: int, *,
                      sender: tuple[str, OperationRow] | None = None,
                      send_to_forks: bool = False) -> list[tuple[str, str]]:
        """Queue several messages in one transaction (with ``send_to_forks``, also to every workflow forked,
        directly or not, from each destination); with ``sender`` recorded as that operation. Returns the
        (destination, topic) pairs delivered: none when the operation was already recorded; a message whose
        idempotency key was used before is skipped.

        Raises:
            NonExistentWorkflowError: a destination has no workflow (nothing is written).
        """

    @abc.abstractmethod
    def rewind_workflow(self, workflow_id: str, start_step: int, now_ms: int, *,
                        application_version: str | None, queue_name: str) -> None:
        """Drop an ended workflow's checkpoints from ``start_step`` on (rolling its events back, dropping its
        unread messages and the close marks of its streams) and enqueue it on ``queue_name``, atomically.

        Raises:
            NonExistentWorkflowError: no workflow has this ID.
            TetherError: the workflow has not ended.
        """

    @abc.abstractmethod
    def consume_message(self, workflow_id: str, topic: str, op: OperationRow, *,
                        also: OperationRow | None = None) -> bytes | None:
        """Take the oldest message on (workflow, topic) and record it as ``op``'s output, atomically; with
        ``also``, that operation (the recv's recorded deadline) is recorded in the same transaction unless
        already there, whether a message was taken or not. Returns None when the queue is empty (then only
        ``also`` is written)."""

    # -- select ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def take_selected_message(self, workflow_id: str, topics: Sequence[str], headers: Sequence[str],
                              op: OperationRow, *, also: OperationRow | None = None
                              ) -> tuple[int, bytes] | OperationRow | None:
        """Take the oldest message of the first of ``topics`` (in order) that holds one and record it as
        ``op``, whose output becomes ``selection_output(headers[i], message)`` (``storage/selectstore.py``),
        atomically; with ``also``, that operation (the select's deadline) too unless already there.

        Returns (i, message) when this call took and recorded it; the row an earlier execution recorded for
        ``op``'s step (nothing is taken then); None when every topic is empty (nothing is written).
        """

    @abc.abstractmethod
    def record_selection(self, workflow_id: str, op: OperationRow, *,
                         also: OperationRow | None = None) -> OperationRow | None:
        """Record a select's outcome ``op`` and, with ``also``, its deadline, in one transaction. Returns None
        when this call recorded it, or the row an earlier execution recorded (whose outcome wins)."""

    # -- mailboxes -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def pending_messages(self, workflow_id: str, topic: str | None, *, load_values: bool,
                         limit: int | None = None, offset: int | None = None) -> list[QueuedMessage] | None:
        """The messages still queued for a workflow (all topics, or only ``topic``, a stored topic key), by
        topic and then oldest first: the order ``recv`` takes them. The stored bytes only with
        ``load_values``. None when no workflow has this ID."""

    @abc.abstractmethod
    def pending_message_counts(self, workflow_id: str) -> dict[str, int] | None:
        """How many messages are still queued for a workflow, per stored topic key (topics with none are
        left out). None when no workflow has this ID."""

    # -- events ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def set_event(self, workflow_id: str, key: str, value: bytes, now_ms: int,
                  op: OperationRow | None = None, history_fid: int | None = None) -> bool:
        """Publish an event value as the key's next version (1, 2, ...), kept with the step number
        ``history_fid`` (for forks and rewinds); with ``op`` recorded in the same transaction, and then a
        repeat (``op`` already recorded) changes nothing and adds no version. Returns whether the value was
        written (False only for such a repeat)."""

    @abc.abstractmethod
    def get_event(self, workflow_id: str, key: str) -> bytes | None: ...

    @abc.abstractmethod
    def get_event_version(self, workflow_id: str, key: str) -> EventVersionRow | None:
        """The latest version of an event (None: never set)."""

    @abc.abstractmethod
    def read_event_versions(self, workflow_id: str, key: str, from_version: int,
                            limit: int = 1000) -> EventVersionChunk:
        """Up to ``limit`` versions of an event from ``from_version`` on, in order, with the workflow's status
        read in the same snapshot."""

    @abc.abstractmethod
    def get_all_events(self, workflow_id: str) -> dict[str, bytes]: ...

    # -- streams ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def write_stream(self, workflow_id: str, key: str, value: bytes | None, now_ms: int,
                     op: OperationRow | None = None, step_write: StepWrite | None = None) -> int | None:
        """Append ``value`` (None closes the stream). With ``op`` recorded in the same transaction (a repeat
        changes nothing). With ``step_write`` = (step function_id, occurrence of this value among the step
        attempt's writes to ``key``, digest of the value), a value written from a step: if that write is already
        stored (an earlier attempt or run of the same step call wrote the value as often), nothing is
        appended, even on a closed stream.

        Returns the offset of the value (for a repeated step write, the stored one); None for a close, or
        for a repeat of ``op``.

        Raises:
            StreamClosedError: the stream was already closed.
            NonExistentWorkflowError: no workflow has this ID.
        """

    @abc.abstractmethod
    def read_stream(self, workflow_id: str, key: str, from_seq: int, limit: int = 1000) -> StreamChunk: ...

    @abc.abstractmethod
    def list_streams(self, workflow_id: str) -> list[tuple[str, int, bool]]:
        """Every stream the workflow wrote: (key, number of values, closed), by key."""

    # -- wake-ups ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def recheck_waiters(self, kind: str, wants: Sequence[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
        """Of ``wants`` — (workflow ID, key, mark) of waiters of one ``kind`` (see ``engine/waiters.py``) —
        those whose key holds what the waiter waits for now: for ``msg`` a message queued on that topic, for
        ``event`` the event set, for ``stream`` a value at an offset >= mark, for ``wf`` the workflow existing
        (mark 0) or ended (mark 1). One read, whatever the number of entries.

        Raises:
            KeyError: ``kind`` is none of these.
        """

    # -- moving a DBOS database over ------------------------------------------------------------------------
    @abc.abstractmethod
    def import_rows(self, batches: Iterable[ImportBatch]) -> ImportCounts:
        """Insert imported rows, batch after batch, in one transaction, leaving alone workflows (with all their
        rows), queues and schedules that already exist (see ``storage/importstore.py``).

        Raises:
            DBOSImportError: an imported workflow's deduplication ID is active in Tether already.
            StorageError: the database failed. In these cases, and when ``batches`` raises, nothing is written.
        """
