"""Moving a DBOS 3.4 system database into Tether's tables (``tether import-dbos``).

:func:`import_dbos` reads the DBOS database in one read-only snapshot, converts every row to Tether's form
(``engine/dbos_values.py``), and writes them in one transaction on the target: a failure leaves nothing
half-copied, and a workflow already in Tether (same ID) is left alone, so a second run changes nothing.

Workflows that had not ended in DBOS are made ready for Tether to run, because DBOS's executors and
application versions mean nothing to Tether's processes: a PENDING workflow is put back on its queue (or on
Tether's internal queue, which every launched process serves) as ENQUEUED, keeping its checkpoints; ENQUEUED
and DELAYED ones stay so. Their application version becomes ``app_version`` (by default none, so any Tether
process that registers the function takes them). A launched Tether application then runs them from their
recorded steps: a step that completed under DBOS is not run again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tether.config import DatabaseURL, parse_database_url
from tether.engine.auth import decode_roles, encode_roles
from tether.engine.dbos_values import (
    PORTABLE_NAME,
    Converted,
    ValueConversionError,
    convert_inputs,
    convert_sleep,
    convert_value,
    is_stream_close,
)
from tether.engine.queues import INTERNAL_QUEUE
from tether.engine.streams import value_digest
from tether.errors import DBOSImportError, DBOSSourceError, SerializationError
from tether.serialization import deserialize, serialize
from tether.storage import open_store
from tether.storage.base import NULL_TOPIC, OperationRow, QueuePolicy, ScheduleRow, WorkflowRow
from tether.storage.dbos_source import DbosChunk, open_dbos
from tether.storage.importstore import ImportBatch, ImportCounts
from tether.storage.provision import create_database
from tether.types import WorkflowSerializationFormat, WorkflowStatusString

DBOS_INTERNAL_QUEUE = "_dbos_internal_queue"
_ACTIVE = ("PENDING", "ENQUEUED", "DELAYED")
_STATUSES = {s.value for s in WorkflowStatusString} | {"RETRIES_EXCEEDED"}

NOT_CARRIED = (
    "DBOS's application_versions table (its versions name DBOS deployments; Tether registers its own at launch)",
    "messages DBOS had already delivered (the recv that took each one keeps its value in its checkpoint)",
    "the columns owner_xid, creator_xid, rate_limited and the retention "
    "timestamps of workflow_input, workflow_output and operation_outputs",
    "which recv consumed each delivered message (notifications.consumed_by_function_id)",
)


@dataclass
class ImportReport:
    """What :func:`import_dbos` did."""

    source: str
    target: str
    dbos_schema_version: int
    counts: ImportCounts
    to_run: list[str] = field(default_factory=list)  # imported workflows Tether will run (had not ended)
    unmapped_classes: list[str] = field(default_factory=list)  # DBOS classes pickled in values, absent here
    consumed_messages: int = 0
    application_versions: int = 0

    @property
    def changed(self) -> bool:
        c = self.counts
        return bool(c.imported or c.queues or c.schedules)


def import_dbos(source_url: str, target_url: str, *, schema: str = "dbos", app_version: str | None = None,
                now_ms: int | None = None, chunk_size: int = 500) -> ImportReport:
    """Copy the DBOS 3.4 system database at ``source_url`` (a SQLite file, or the PostgreSQL schema
    ``schema``) into Tether's tables at ``target_url`` (created and migrated if needed), reading and
    converting ``chunk_size`` workflows at a time (with all their rows) within the one target transaction.

    Raises:
        ConfigError: a URL is not a database URL Tether knows.
        DBOSSourceError: the source cannot be reached, is not a DBOS system database or is of a schema version
            this Tether does not read (found before anything is written anywhere), or holds a malformed value
            (found while copying: the copy is rolled back, the target keeps only Tether's empty tables).
        DBOSImportError: source and target are one SQLite file, or an imported deduplication ID is active
            in Tether already; nothing is imported.
        StorageError: the target database failed; nothing is imported.
    """
    source = parse_database_url(source_url)
    target = parse_database_url(target_url)
    if source.backend == "sqlite" and target.backend == "sqlite" and _same_file(source.url, target.url):
        raise DBOSImportError(
            f"{source.url}: DBOS's and Tether's tables cannot share one SQLite file (they have the same names); "
            "import into a new file: tether import-dbos --from sqlite:///dbos.sqlite --to sqlite:///tether.sqlite")
    with open_dbos(source, schema) as dbos:
        report = ImportReport(source=_shown(source), target=_shown(target), dbos_schema_version=dbos.version,
                              counts=ImportCounts(), consumed_messages=dbos.consumed_messages(),
                              application_versions=dbos.application_versions())
        now = now_ms if now_ms is not None else int(datetime.now().timestamp() * 1000)
        conv = _Converter()
        to_run: list[str] = []

        def batches() -> Iterator[ImportBatch]:
            for chunk in dbos.chunks(chunk_size):
                yield convert_chunk(conv, chunk, app_version, now, to_run)
            yield ImportBatch(queues=[(_queue(r), int(r["created_at"] or now)) for r in dbos.queues()],
                              schedules=[_schedule(conv, r, now) for r in dbos.schedules()])

        create_database(target)
        store = open_store(target)
        try:
            report.counts = store.import_rows(batches())
        finally:
            store.close()
    present = set(report.counts.already_present)
    report.to_run = [w for w in to_run if w not in present]
    report.unmapped_classes = sorted(conv.unmapped)
    return report


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _shown(database: DatabaseURL) -> str:
    from tether.storage.dbos_source import _redact

    return database.url if database.backend == "sqlite" else _redact(database.url)


class _Converter:
    def __init__(self) -> None:
        self.unmapped: set[str] = set()

    def take(self, converted: Converted) -> bytes | None:
        self.unmapped |= converted.unmapped
        return converted.data

    def value(self, where: str, text: str | None, serialization: str | None) -> bytes | None:
        try:
            return self.take(convert_value(text, serialization))
        except ValueConversionError as exc:
            raise DBOSSourceError(f"{where}: {exc}") from exc


def _rerun_digest(value: bytes, serialization: str | None) -> bytes:
    """The digest Tether gives this value when the step that wrote it runs again here: of the bytes Tether's
    own encoder makes for it (DBOS's pickle protocol and JSON spacing differ), else of the bytes as they are
    (a value this process cannot decode)."""
    fmt = WorkflowSerializationFormat.PORTABLE if serialization == PORTABLE_NAME else None
    try:
        return value_digest(serialize(deserialize(value), fmt))
    except SerializationError:
        return value_digest(value)


def convert_chunk(conv: _Converter, chunk: DbosChunk, app_version: str | None, now_ms: int,
                  to_run: list[str]) -> ImportBatch:
    """One chunk of DBOS rows in Tether's form; the IDs of its workflows that had not ended are added to
    ``to_run``, and the DBOS classes its pickles name that Tether lacks to ``conv.unmapped``.

    Raises:
        DBOSSourceError: a row holds a malformed value or an unknown status.
    """
    batch = ImportBatch()
    updated: dict[str, int] = {}
    for r in chunk.workflows:
        row = _workflow(conv, r, app_version)
        batch.workflows.append(row)
        updated[row.workflow_uuid] = row.updated_at
        if r["status"] in _ACTIVE:
            to_run.append(row.workflow_uuid)
    for r in chunk.operations:
        wfid = r["workflow_uuid"]
        where = f"step {r['function_id']} of workflow {wfid}"
        done = r["completed_at_epoch_ms"] or r["started_at_epoch_ms"] or updated.get(wfid, now_ms)
        if r["function_name"] == "DBOS.sleep":
            try:
                output = convert_sleep(r["output"], r["serialization"])
            except ValueConversionError as exc:
                raise DBOSSourceError(f"{where}: {exc}") from exc
        else:
            output = conv.value(where, r["output"], r["serialization"])
        batch.operations.append((wfid, OperationRow(
            function_id=int(r["function_id"]), function_name=r["function_name"], output=output,
            error=conv.value(where, r["error"], r["serialization"]), child_workflow_id=r["child_workflow_id"],
            started_at=r["started_at_epoch_ms"], completed_at=int(done))))
    unread: dict[str, int] = {}
    for r in chunk.messages:
        dest = r["destination_uuid"]
        unread[dest] = unread.get(dest, 0) + 1
        value = conv.value(f"a message to {dest}", r["message"], r["serialization"])
        batch.messages.append((dest, r["topic"] if r["topic"] is not None else NULL_TOPIC, value or b"",
                               int(r["created_at_epoch_ms"])))
    for row in batch.workflows:  # as Tether records it when a workflow ends: the messages no recv took
        if row.status not in _ACTIVE:
            row.unread_messages_at_end = unread.get(row.workflow_uuid, 0)
    for r in chunk.events:
        wfid = r["workflow_uuid"]
        value = conv.value(f"event {r['key']!r} of {wfid}", r["value"], r["serialization"])
        batch.events.append((wfid, r["key"], value or b"", updated.get(wfid, now_ms)))
    for r in chunk.event_history:
        wfid = r["workflow_uuid"]
        value = conv.value(f"event {r['key']!r} of {wfid}", r["value"], r["serialization"])
        batch.event_history.append((wfid, int(r["function_id"]), r["key"], value or b""))
    # DBOS stamps each stream value with the operation that wrote it: a DBOS.writeStream/closeStream of the
    # workflow body, or a step (whose number it takes). A value from a step becomes Tether's step write (step
    # number, occurrence of that value among the call's writes to the key), so a step re-run under Tether does
    # not append it again; values DBOS stored twice (a retried attempt) stay twice, as occurrences 0 and 1.
    body = {(wfid, op.function_id) for wfid, op in batch.operations
            if op.function_name in ("DBOS.writeStream", "DBOS.closeStream")}
    step_writes: dict[tuple[str, str, int, bytes], int] = {}
    for r in chunk.streams:
        wfid = r["workflow_uuid"]
        closed = is_stream_close(r["value"], r["serialization"])
        value = None if closed else conv.value(f"stream {r['key']!r} of {wfid}", r["value"], r["serialization"])
        fid = r["function_id"]
        step_write = None
        if not closed and value is not None and fid is not None and (wfid, int(fid)) not in body:
            digest = _rerun_digest(value, r["serialization"])
            n = step_writes.get((wfid, r["key"], int(fid), digest), 0)
            step_writes[(wfid, r["key"], int(fid), digest)] = n + 1
            step_write = (int(fid), n, digest)
        batch.streams.append((wfid, r["key"], int(r["offset"]), value, updated.get(wfid, now_ms), step_write))
    return batch


def _workflow(conv: _Converter, r: dict[str, Any], app_version: str | None) -> WorkflowRow:
    wfid = r["workflow_uuid"]
    status = r["status"]
    if status not in _STATUSES:
        raise DBOSSourceError(f"workflow {wfid} has status {status!r}, which Tether does not know")
    if status == "RETRIES_EXCEEDED":  # DBOS's older name
        status = WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value
    ser = r["serialization"]
    queue = INTERNAL_QUEUE if r["queue_name"] == DBOS_INTERNAL_QUEUE else r["queue_name"]
    started = r["started_at_epoch_ms"]
    version = r["application_version"]
    if status in _ACTIVE:
        version = app_version
        if status == "PENDING":  # runs again from its checkpoints, taken from its queue by a Tether process
            status, queue, started = WorkflowStatusString.ENQUEUED.value, queue or INTERNAL_QUEUE, None
    try:
        inputs = conv.take(convert_inputs(r["inputs"], ser))
    except ValueConversionError as exc:
        raise DBOSSourceError(f"the inputs of workflow {wfid}: {exc}") from exc
    attributes = r["attributes"]
    return WorkflowRow(
        workflow_uuid=wfid, status=status, name=r["name"] or "", class_name=r["class_name"],
        config_name=r["config_name"], authenticated_user=r["authenticated_user"], inputs=inputs,
        output=conv.value(f"the output of workflow {wfid}", r["output"], ser),
        error=conv.value(f"the error of workflow {wfid}", r["error"], ser),
        executor_id=r["executor_id"], application_version=version, application_id=r["application_id"],
        created_at=int(r["created_at"]), updated_at=int(r["updated_at"]),
        recovery_attempts=int(r["recovery_attempts"] or 0), queue_name=queue,
        deduplication_id=r["deduplication_id"], priority=int(r["priority"] or 0),
        delay_until_epoch_ms=r["delay_until_epoch_ms"], started_at_epoch_ms=started,
        workflow_timeout_ms=r["workflow_timeout_ms"], workflow_deadline_epoch_ms=r["workflow_deadline_epoch_ms"],
        parent_workflow_id=r["parent_workflow_id"], forked_from=r["forked_from"], serialization=ser,
        schedule_name=r["schedule_name"], is_debounced=int(bool(r["is_debounced"])),
        debounce_deadline_epoch_ms=r["debounce_deadline_epoch_ms"], queue_partition_key=r["queue_partition_key"],
        attributes=None if attributes in (None, "null") else attributes, completed_at=r["completed_at"],
        was_forked_from=bool(r["was_forked_from"]), application_name=r["application_name"],
        authenticated_roles=encode_roles(decode_roles(r["authenticated_roles"])), assumed_role=r["assumed_role"])


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(float(seconds) * 1000)


def _queue(r: dict[str, Any]) -> QueuePolicy:
    return QueuePolicy(
        name=r["name"], concurrency=r["concurrency"], worker_concurrency=r["worker_concurrency"],
        limit=r["rate_limit_max"], period_ms=_ms(r["rate_limit_period_sec"]),
        partition_concurrency=r["partition_concurrency"],
        partition_worker_concurrency=r["partition_worker_concurrency"],
        partition_limit=r["partition_rate_limit_max"], partition_period_ms=_ms(r["partition_rate_limit_period_sec"]),
        polling_interval_ms=_ms(r["polling_interval_sec"]) or 1000, application_name=r["application_name"])


def _schedule(conv: _Converter, r: dict[str, Any], now_ms: int) -> ScheduleRow:
    name = r["schedule_name"]
    # DBOS stores a schedule's context with its configured serializer and does not say which: pickle by
    # default, else portable JSON; another serializer's text is kept for an application that configures it.
    context = None
    for serialization in (None, "portable_json"):
        try:
            context = conv.take(convert_value(r["context"], serialization))
            break
        except ValueConversionError:
            continue
    fired_ms = None
    if r["last_fired_at"]:
        try:
            fired_ms = int(datetime.fromisoformat(str(r["last_fired_at"]).replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError as exc:
            raise DBOSSourceError(f"schedule {name!r}: last_fired_at {r['last_fired_at']!r}: {exc}") from exc
    queue = INTERNAL_QUEUE if r["queue_name"] == DBOS_INTERNAL_QUEUE else r["queue_name"]
    return ScheduleRow(
        schedule_id=r["schedule_id"], schedule_name=name, workflow_name=r["workflow_name"],
        schedule=r["schedule"], workflow_class_name=r["workflow_class_name"], status=r["status"] or "ACTIVE",
        context=context, last_fired_at=r["last_fired_at"], last_fired_ms=fired_ms,
        automatic_backfill=int(bool(r["automatic_backfill"])), cron_timezone=r["cron_timezone"],
        queue_name=queue, updated_at=now_ms, application_name=r["application_name"])
