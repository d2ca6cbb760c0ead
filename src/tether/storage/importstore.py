"""Writing an imported DBOS database into Tether's tables (``tether import-dbos``): one transaction, so a
failure leaves nothing behind. Mixin of ``SqlStore``; it runs the store's own named statements.

A workflow whose ID is already in Tether's tables is left alone with everything recorded for it, and so are
its checkpoints, messages, events and streams from the import: running the import twice changes nothing.
Queues and schedules whose name is taken are left alone likewise.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tether.errors import DBOSImportError
from tether.storage.records import (
    SCHEDULE_COLUMNS,
    WORKFLOW_COLUMNS,
    OperationRow,
    QueuePolicy,
    ScheduleRow,
    StepWrite,
    WorkflowRow,
    step_write_params,
)
from tether.storage.session import UniqueViolation, op_params

if TYPE_CHECKING:
    from tether.storage.session import Session


@dataclass
class ImportBatch:
    """Rows to import, already in Tether's stored form (values serialized as Tether reads them)."""

    workflows: list[WorkflowRow] = field(default_factory=list)
    operations: list[tuple[str, OperationRow]] = field(default_factory=list)
    messages: list[tuple[str, str, bytes, int]] = field(default_factory=list)  # destination, topic, value, at
    events: list[tuple[str, str, bytes, int]] = field(default_factory=list)    # workflow, key, value, at
    event_history: list[tuple[str, int, str, bytes]] = field(default_factory=list)  # workflow, step, key, value
    # workflow, key, seq, value, at, and for a value written from a step: (the step's number, its index among
    # that step call's writes to the key), which makes a re-run of the step find it instead of appending again
    streams: list[tuple[str, str, int, bytes | None, int, StepWrite | None]] = field(default_factory=list)
    queues: list[tuple[QueuePolicy, int]] = field(default_factory=list)  # settings, created at
    schedules: list[ScheduleRow] = field(default_factory=list)


@dataclass
class ImportCounts:
    """What an import wrote, and what it found already there (left alone)."""

    imported: list[str] = field(default_factory=list)          # workflow IDs
    already_present: list[str] = field(default_factory=list)   # workflow IDs
    operations: int = 0
    messages: int = 0
    events: int = 0
    event_history: int = 0
    stream_values: int = 0
    queues: list[str] = field(default_factory=list)
    queues_present: list[str] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    schedules_present: list[str] = field(default_factory=list)


class ImportStore(abc.ABC):
    """Mixin of ``SqlStore``."""

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    def import_rows(self, batches: Iterable[ImportBatch]) -> ImportCounts:
        """Insert the rows of ``batches`` (read lazily, one after the other, so that memory holds one) in one
        transaction, skipping workflows (and all their rows), queues and schedules that already exist. Each
        batch holds every row of its workflows. An exception raised by the iterator rolls everything back.

        Raises:
            DBOSImportError: a workflow's deduplication ID is already held by an active workflow of the same
                queue in Tether (nothing is written).
            StorageError: the database failed (nothing is written).
        """

        counts = ImportCounts()
        inserting: list[WorkflowRow] = []  # the workflow being inserted, should its deduplication ID clash
        try:
            with self._tx() as s:
                for batch in batches:
                    new: set[str] = set()
                    for row in batch.workflows:
                        inserting[:] = [row]
                        params = {c: getattr(row, c) for c in WORKFLOW_COLUMNS}
                        params["owner_process"] = None
                        created = s.run("insert_workflow", params).rowcount == 1
                        (counts.imported if created else counts.already_present).append(row.workflow_uuid)
                        if created:
                            new.add(row.workflow_uuid)
                    inserting.clear()
                    self._write_rows(s, batch, new, counts)
        except UniqueViolation as exc:
            if not inserting:
                raise
            row = inserting[0]  # the only unique index insert_workflow can meet besides the ID (DO NOTHING)
            raise DBOSImportError(
                f"workflow {row.workflow_uuid}: its deduplication ID {row.deduplication_id!r} is held by an "
                f"active workflow of queue {row.queue_name!r} in Tether already; nothing was imported") from exc
        return counts

    def _write_rows(self, s: Session, batch: ImportBatch, new: set[str], counts: ImportCounts) -> None:
        from tether.storage.queuestore import _params as queue_params  # (both build on base.py, which

        for wfid, op in batch.operations:
            if wfid in new:
                s.run("insert_operation", op_params(wfid, op))
                counts.operations += 1
        for dest, topic, value, at in batch.messages:
            if dest in new:
                s.run("insert_message", {"destination_uuid": dest, "topic": topic, "message": value,
                                         "idempotency_key": None, "now": at})
                counts.messages += 1
        for row in batch.workflows:  # insert_workflow leaves it NULL, as for a workflow that has not ended
            if row.workflow_uuid in new and row.unread_messages_at_end is not None:
                s.run("import_unread_at_end", {"workflow_uuid": row.workflow_uuid,
                                               "unread": row.unread_messages_at_end})
        events, history = _import_events(s, batch, new)
        counts.events += events
        counts.event_history += history
        for wfid, key, seq, stream_value, at, step_write in batch.streams:
            if wfid in new:
                s.run("insert_stream", {"workflow_uuid": wfid, "key": key, "seq": seq, "value": stream_value,
                                        "now": at, **step_write_params(step_write)})
                counts.stream_values += 1
        for policy, created_at in batch.queues:
            if s.run("queue_get", {"name": policy.name}).fetchone() is None:
                s.run("queue_insert", queue_params(policy, created_at))
                counts.queues.append(policy.name)
            else:
                counts.queues_present.append(policy.name)
        for sched in batch.schedules:
            done = s.run("insert_schedule", {c: getattr(sched, c) for c in SCHEDULE_COLUMNS}).rowcount == 1
            (counts.schedules if done else counts.schedules_present).append(sched.schedule_name)


def _import_events(s: Session, batch: ImportBatch, new: set[str]) -> tuple[int, int]:
    """The events of the new workflows as versions: DBOS's event history, in step order, is versions 1, 2, ...
    of each key; the latest value is the last of them (version 1 when DBOS kept no history for the key).
    Returns (events, history rows) imported."""
    history: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
    for wfid, fid, key, value in batch.event_history:
        if wfid in new:
            history.setdefault((wfid, key), []).append((fid, value))
    set_at = {(wfid, key): at for wfid, key, _, at in batch.events}
    for (wfid, key), rows in history.items():
        for version, (fid, value) in enumerate(sorted(rows, key=lambda r: r[0]), start=1):
            s.run("import_event_version", {"workflow_uuid": wfid, "key": key, "version": version,
                                           "function_id": fid, "value": value,
                                           "now": set_at.get((wfid, key), 0)})
    events = 0
    for wfid, key, value, at in batch.events:
        if wfid not in new:
            continue
        version = len(history.get((wfid, key), ()))
        if version == 0:
            version = 1
            s.run("import_event_version", {"workflow_uuid": wfid, "key": key, "version": 1, "function_id": None,
                                           "value": value, "now": at})
        s.run("import_event", {"workflow_uuid": wfid, "key": key, "value": value, "now": at, "version": version})
        events += 1
    return events, sum(len(rows) for rows in history.values())
