"""The store logic both SQL backends share; each backend supplies connections and its own named SQL."""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from tether.errors import (
    NonExistentWorkflowError,
    QueueDeduplicatedError,
    TetherError,
)
from tether.storage.base import (
    WORKFLOW_COLUMNS,
    Delivery,
    EventVersionChunk,
    EventVersionRow,
    OperationRow,
    OutgoingMessage,
    QueuedMessage,
    Store,
    WorkflowFilter,
    WorkflowRow,
)
from tether.storage.checkpoints import CheckpointStore, workflow_params
from tether.storage.external import CallerSession, caller_session, write_messages
from tether.storage.importstore import ImportStore
from tether.storage.liststore import ListStore
from tether.storage.liststore import workflow_row as _workflow_row
from tether.storage.processstore import ProcessStore
from tether.storage.queuestore import QueueStore
from tether.storage.recheckstore import RecheckStore
from tether.storage.renamestore import RenameStore
from tether.storage.schedulestore import ScheduleStore
from tether.storage.selectstore import SelectStore
from tether.storage.session import (
    Session,
    UniqueViolation,
    op_params,
    op_row,
)
from tether.storage.streamstore import StreamStore
from tether.storage.versionstore import VersionStore

_LIGHT_COLUMNS = tuple(c for c in WORKFLOW_COLUMNS if c not in ("inputs", "output", "error"))


class SqlStore(ListStore, QueueStore, ProcessStore, ScheduleStore, SelectStore, StreamStore, ImportStore, RecheckStore,
               CheckpointStore, VersionStore, RenameStore, Store):
    """Shared transaction logic. Subclasses provide ``_tx`` (a write transaction), ``_auto`` (one
    autocommit statement or read), ``placeholder`` for dynamic SQL, and their ``queries``."""

    queries: dict[str, str]
    placeholder: str = "?"

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def _run_count(self, name: str, params: Mapping[str, Any]) -> int:
        """One named autocommit statement; the rows it changed. (A backend may do it with less around it: a
        checkpoint is one of these.)"""
        with self._auto() as s:
            return s.run(name, params).rowcount

    # -- workflows -------------------------------------------------------------------------------------
    def insert_workflow(self, row: WorkflowRow) -> tuple[bool, WorkflowRow]:
        params = self._insert_params(row)
        try:
            created = self._run_count("insert_workflow", params) == 1
        except UniqueViolation as exc:
            raise QueueDeduplicatedError(
                row.workflow_uuid, row.queue_name or "", row.deduplication_id or ""
            ) from exc
        if created:
            return True, row
        existing = self.get_workflow(row.workflow_uuid, load_input=False, load_output=False)
        if existing is None:  # deleted between the two statements; treat as a fresh conflict-free insert
            return self.insert_workflow(row)
        return False, existing

    def _insert_params(self, row: WorkflowRow) -> dict[str, Any]:
        return workflow_params(row, self.owner_process)

    def get_workflow(self, workflow_id: str, *, load_input: bool = True, load_output: bool = True
                     ) -> WorkflowRow | None:
        rows = self.list_workflows(WorkflowFilter(workflow_ids=[workflow_id], load_input=load_input,
                                                  load_output=load_output))
        return rows[0] if rows else None

    def complete_workflow(self, workflow_id: str, status: str, output: bytes | None,
                          error: bytes | None, now_ms: int, now_us: int | None = None) -> bool:
        return self._run_count("complete_workflow", {"workflow_uuid": workflow_id, "status": status,
                                                     "output": output, "error": error, "now": now_ms,
                                                     "now_us": now_us}) == 1

    _CHUNK = 500  # ids per statement, keeping IN lists (and SQLite's variable limit) small

    def begin_recovery_many(self, workflow_ids: Sequence[str], now_ms: int, *,
                            previous_owner: str | None = None) -> list[WorkflowRow]:
        ph = self.placeholder
        rows: list[WorkflowRow] = []
        ids = list(workflow_ids)
        for start in range(0, len(ids), self._CHUNK):
            chunk = ids[start:start + self._CHUNK]
            sql = (f"UPDATE workflow_status SET recovery_attempts = recovery_attempts + 1, updated_at = {ph}, "
                   f"owner_process = {ph} "
                   f"WHERE workflow_uuid IN ({', '.join([ph] * len(chunk))}) AND status = 'PENDING' "
                   f"AND (owner_process IS NULL OR owner_process = {ph} OR owner_process = {ph}) "
                   f"RETURNING {', '.join(WORKFLOW_COLUMNS)}")
            with self._auto() as s:
                got = s.run_sql(sql, [now_ms, self.owner_process, *chunk, self.owner_process,
                                      previous_owner]).fetchall()
            rows.extend(_workflow_row(WORKFLOW_COLUMNS, r) for r in got)
        return rows

    def load_operations_many(self, workflow_ids: Sequence[str]) -> dict[str, list[OperationRow]]:
        ph = self.placeholder
        out: dict[str, list[OperationRow]] = {wfid: [] for wfid in workflow_ids}
        ids = list(workflow_ids)
        for start in range(0, len(ids), self._CHUNK):
            chunk = ids[start:start + self._CHUNK]
            sql = ("SELECT function_id, function_name, output, error, child_workflow_id, started_at, completed_at, "
                   "wait_deadline, workflow_uuid FROM operation_outputs "
                   f"WHERE workflow_uuid IN ({', '.join([ph] * len(chunk))}) ORDER BY workflow_uuid, function_id")
            with self._auto() as s:
                for r in s.run_sql(sql, chunk).fetchall():
                    out[r[8]].append(op_row(r[:8]))
        return out

    def delete_workflows(self, workflow_ids: Sequence[str]) -> None:
        ids = list(workflow_ids)
        for i in range(0, len(ids), self._CHUNK):
            chunk = ids[i:i + self._CHUNK]
            with self._tx() as s:  # checkpoints, messages, events and streams go with them (ON DELETE CASCADE)
                s.run_sql(f"DELETE FROM workflow_status WHERE workflow_uuid IN "
                          f"({', '.join([self.placeholder] * len(chunk))})", chunk)

    def update_attributes(self, workflow_id: str, attributes: str | None, merge: bool) -> bool:
        with self._tx() as s:
            row = s.run("attributes_for_update", {"workflow_uuid": workflow_id}).fetchone()
            if row is None:
                return False
            if merge and attributes is not None:
                merged = json.loads(row[0]) if row[0] is not None else {}
                merged.update(json.loads(attributes))
                attributes = json.dumps(merged)
            s.run("set_attributes", {"workflow_uuid": workflow_id, "attributes": attributes})
            return True

    def set_status(self, workflow_ids: Sequence[str], status: str, now_ms: int, *,
                   only_from: Sequence[str] | None = None, queue_name: Any = ...,
                   reset_recovery: bool = False, executor_id: str | None = None,
                   started_at: Any = ..., app_version: str | None = None,
                   restart_deadline_at: Any = ..., now_us: int | None = None,
                   clear_deduplication_id: bool = False) -> list[str]:
        if not workflow_ids:
            return []
        ph = self.placeholder
        sets = [f"status = {ph}", f"updated_at = {ph}"]
        params: list[Any] = [status, now_ms]
        if status in ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"):
            sets.append(f"completed_at = {ph}, completed_at_us = {ph}")
            params.extend([now_ms, now_us])
            sets.append("unread_messages_at_end = (SELECT count(*) FROM messages "
                        "WHERE messages.destination_uuid = workflow_status.workflow_uuid)")
        else:  # resumed or re-enqueued: it has not ended any more
            sets.append("completed_at = NULL, completed_at_us = NULL")
            sets.append("unread_messages_at_end = NULL")
        if queue_name is not ...:
            sets.append(f"queue_name = {ph}")
            params.append(queue_name)
        if clear_deduplication_id:
            sets.append("deduplication_id = NULL")
        if started_at is not ...:
            sets.append(f"started_at_epoch_ms = {ph}, started_at_us = {ph}")  # to the us if it starts now
            params.extend([started_at, now_us if now_us is not None and started_at == now_us // 1000 else None])
        starts = status == "PENDING" and started_at is not ...  # an execution begins: it counts as an attempt
        if reset_recovery:
            sets.append(f"recovery_attempts = {1 if starts else 0}")
        elif starts:
            sets.append("recovery_attempts = recovery_attempts + 1")
        if restart_deadline_at is None:
            sets.append("workflow_deadline_epoch_ms = NULL")
        elif restart_deadline_at is not ...:
            sets.append(f"workflow_deadline_epoch_ms = CASE WHEN workflow_timeout_ms IS NOT NULL "
                        f"THEN {ph} + workflow_timeout_ms END")
            params.append(int(restart_deadline_at))
        if executor_id is not None:
            sets.append(f"executor_id = {ph}")
            params.append(executor_id)
            if status == "PENDING":  # it runs here now: this process owns it
                sets.append(f"owner_process = {ph}")
                params.append(self.owner_process)
        if app_version:
            sets.append(f"application_version = CASE WHEN application_version IS NULL OR application_version = "
                        f"'' THEN {ph} ELSE application_version END")
            params.append(app_version)
        which = self._one_of("workflow_uuid", workflow_ids, params)
        sql = f"UPDATE workflow_status SET {', '.join(sets)} WHERE {which}"
        if only_from is not None:
            sql += " AND " + (self._one_of("status", only_from, params) if only_from else "1 = 0")
        sql += " RETURNING workflow_uuid"
        try:
            with self._tx() as s:
                return [r[0] for r in s.run_sql(sql, params).fetchall()]
        except UniqueViolation as exc:
            raise QueueDeduplicatedError(workflow_ids[0], str(queue_name), "(in use)") from exc

    # -- queues and delays -------------------------------------------------------------------------------
    def due_delayed(self, now_ms: int, limit: int = 100) -> list[WorkflowRow]:
        with self._auto() as s:
            ids = [r[0] for r in s.run("due_delayed", {"now": now_ms, "limit": limit}).fetchall()]
        if not ids:
            return []
        return self.list_workflows(WorkflowFilter(workflow_ids=ids, load_input=False, load_output=False))

    def next_delay_ms(self, after_ms: int = -1) -> int | None:
        with self._auto() as s:
            row = s.run("next_delay", {"after": after_ms}).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else None

    def set_delay(self, workflow_id: str, delay_until_ms: int, now_ms: int) -> bool:
        with self._auto() as s:
            return s.run("set_delay", {"workflow_uuid": workflow_id, "delay_until": delay_until_ms,
                                       "now": now_ms}).rowcount == 1

    def promote_delayed(self, workflow_id: str, now_ms: int, *, start_executor: str | None = None,
                        app_version: str = "", now_us: int | None = None) -> bool:
        q: dict[str, Any] = {"workflow_uuid": workflow_id, "now": now_ms}
        if start_executor is not None:
            q.update(executor_id=start_executor, app_version=app_version, now_us=now_us)
        with self._auto() as s:
            name = "promote_delayed_enqueue" if start_executor is None else "promote_delayed_start"
            return s.run(name, q).rowcount == 1

    def fork_workflow(self, row: WorkflowRow, source_id: str, before_function_id: int,
                      replacement_children: dict[str, str] | None = None) -> bool:
        copy = {"source_id": source_id, "target_id": row.workflow_uuid, "before_function_id": before_function_id}
        with self._tx() as s:
            if s.run("insert_workflow", self._insert_params(row)).rowcount != 1:
                return False  # the ID is taken: copying into it would mix two workflows' checkpoints
            s.run("copy_operations", copy)
            for old, new in (replacement_children or {}).items():
                s.run("replace_child", {"workflow_uuid": row.workflow_uuid, "old": old, "new": new})
            s.run("copy_event_history", copy)
            s.run("restore_events", {**copy, "now": row.created_at})
            s.run("mark_forked", {"workflow_uuid": source_id})
        return True

    # -- operations ------------------------------------------------------------------------------------
    def record_operation(self, workflow_id: str, op: OperationRow) -> OperationRow | None:
        if self._run_count("insert_operation", op_params(workflow_id, op)) == 1:
            return None
        with self._auto() as s:  # recorded already: the row that wins
            got = s.run("get_operation", {"workflow_uuid": workflow_id, "function_id": op.function_id})
            row = got.fetchone()
        return op_row(row) if row is not None else None

    def load_operations(self, workflow_id: str, *, limit: int | None = None,
                        offset: int | None = None) -> list[OperationRow]:
        with self._auto() as s:
            rows = s.run("load_operations", {"workflow_uuid": workflow_id, "limit": self._limit(limit),
                                             "offset": offset or 0}).fetchall()
        return [op_row(r) for r in rows]

    def _limit(self, limit: int | None) -> int | None:
        return limit

    def copy_operations(self, source_id: str, target_id: str, before_function_id: int) -> None:
        with self._auto() as s:
            s.run("copy_operations", {"source_id": source_id, "target_id": target_id,
                                      "before_function_id": before_function_id})

    # -- messages --------------------------------------------------------------------------------------
    def send_message(self, destination_id: str, topic: str, message: bytes, now_ms: int, *,
                     idempotency_key: str | None = None,
                     sender: tuple[str, OperationRow] | None = None) -> bool:
        with self._tx() as s:
            if s.run("workflow_exists", {"workflow_uuid": destination_id}).fetchone() is None:
                raise NonExistentWorkflowError(destination_id)
            if sender is not None:
                wfid, op = sender
                if s.run("insert_operation", op_params(wfid, op)).rowcount != 1:
                    return False
            if idempotency_key is not None:
                claimed = s.run("claim_message_key", {"destination_uuid": destination_id,
                                                      "idempotency_key": idempotency_key})
                if claimed.rowcount != 1:
                    return False
            s.run("insert_message", {"destination_uuid": destination_id, "topic": topic, "message": message,
                                     "idempotency_key": idempotency_key, "now": now_ms})
            return True

    def hand_message(self, destination_id: str, topic: str, message: bytes, now_ms: int, receiver: OperationRow,
                     *, idempotency_key: str | None = None,
                     sender: tuple[str, OperationRow] | None = None) -> Delivery:
        with self._tx() as s:
            if s.run("workflow_exists", {"workflow_uuid": destination_id}).fetchone() is None:
                raise NonExistentWorkflowError(destination_id)
            if sender is not None and s.run("insert_operation", op_params(*sender)).rowcount != 1:
                return Delivery.SENT_BEFORE
            if idempotency_key is not None and s.run("claim_message_key", {
                    "destination_uuid": destination_id, "idempotency_key": idempotency_key}).rowcount != 1:
                return Delivery.SENT_BEFORE
            if s.run("oldest_message", {"workflow_uuid": destination_id, "topic": topic}).fetchone() is None:
                op = replace(receiver, output=message, completed_at=now_ms)
                if s.run("insert_operation", op_params(destination_id, op)).rowcount == 1:
                    return Delivery.HANDED
            s.run("insert_message", {"destination_uuid": destination_id, "topic": topic, "message": message,
                                     "idempotency_key": idempotency_key, "now": now_ms})
            return Delivery.QUEUED

    def send_messages(self, messages: Sequence[OutgoingMessage], now_ms: int, *,
                      sender: tuple[str, OperationRow] | None = None,
                      send_to_forks: bool = False) -> list[tuple[str, str]]:
        with self._tx() as s:
            if sender is not None and s.run("insert_operation", op_params(*sender)).rowcount != 1:
                return []
            return write_messages(s, messages, now_ms, send_to_forks)

    _named_sql: Mapping[str, str]  # the backend's statements as written (:name parameters)
    _caller_schema: str | None = None  # where the tables live, for a caller's connection (PostgreSQL)

    def caller_session(self, conn: Any) -> AbstractContextManager[CallerSession]:
        return caller_session(conn, self._named_sql, self._caller_schema)

    def rewind_workflow(self, workflow_id: str, start_step: int, now_ms: int, *,
                        application_version: str | None, queue_name: str) -> None:
        p = {"workflow_uuid": workflow_id, "cut": start_step, "now": now_ms}
        with self._tx() as s:
            row = s.run("workflow_status_only", {"workflow_uuid": workflow_id}).fetchone()
            if row is None:
                raise NonExistentWorkflowError(workflow_id)
            status = row[0]
            if status in ("PENDING", "ENQUEUED", "DELAYED"):
                raise TetherError(f"Cannot rewind {workflow_id} ({status}): only a workflow in a terminal state "
                                  "can be rewound, so cancel it first")
            s.run("rewind_events", p)          # events set from the cut on go back to their earlier values
            s.run("rewind_restore_events", p)
            for statement in ("rewind_stream_closes", "rewind_stream_steps", "rewind_operations",
                              "rewind_event_history", "rewind_messages"):
                s.run(statement, p)
            done = s.run("rewind_requeue", {**p, "status": status, "queue_name": queue_name,
                                            "application_version": application_version})
            if done.rowcount != 1:
                raise TetherError(f"Workflow {workflow_id} changed status while being rewound; retry the rewind")

    def consume_message(self, workflow_id: str, topic: str, op: OperationRow, *,
                        also: OperationRow | None = None) -> bytes | None:
        try:
            return self._consume(workflow_id, topic, op, also)
        except _AlreadyRecorded:
            with self._auto() as s:
                row = s.run("get_operation", {"workflow_uuid": workflow_id, "function_id": op.function_id})
                got = row.fetchone()
            return bytes(got[2]) if got is not None and got[2] is not None else None

    def _consume(self, workflow_id: str, topic: str, op: OperationRow, also: OperationRow | None) -> bytes | None:
        with self._tx() as s:
            row = s.run("oldest_message", {"workflow_uuid": workflow_id, "topic": topic}).fetchone()
            if row is None:
                if also is not None:  # the deadline is recorded before the wait, in the same transaction
                    s.run("insert_operation", op_params(workflow_id, also))
                    return None
                # Nothing queued: the recv may have been recorded meanwhile (a sender's hand-off, or this
                # take's own earlier try), and then that is what it returns.
                done = s.run("get_operation", {"workflow_uuid": workflow_id, "function_id": op.function_id})
                got = done.fetchone()
                return bytes(got[2]) if got is not None and got[6] is not None and got[2] is not None else None
            message = bytes(row[1])
            s.run("delete_message", {"message_id": row[0]})
            op.output = message
            if s.run("insert_operation", op_params(workflow_id, op)).rowcount != 1:
                # Recorded by an earlier run: raise so the transaction rolls back and the message stays.
                raise _AlreadyRecorded()
            if also is not None:
                s.run("insert_operation", op_params(workflow_id, also))
            return message

    def pending_messages(self, workflow_id: str, topic: str | None, *, load_values: bool,
                         limit: int | None = None, offset: int | None = None) -> list[QueuedMessage] | None:
        params = {"workflow_uuid": workflow_id, "topic": topic, "load_values": 1 if load_values else 0,
                  "limit": self._limit(limit), "offset": offset or 0}
        with self._auto() as s:
            rows = s.run("pending_messages" if topic is None else "pending_messages_topic", params).fetchall()
            if not rows and s.run("workflow_exists", {"workflow_uuid": workflow_id}).fetchone() is None:
                return None
        return [QueuedMessage(message_id=int(r[0]), topic=r[1], created_at=int(r[2]), size=int(r[3]),
                              idempotency_key=r[4], message=bytes(r[5]) if r[5] is not None else None)
                for r in rows]

    def pending_message_counts(self, workflow_id: str) -> dict[str, int] | None:
        with self._auto() as s:
            rows = s.run("pending_message_counts", {"workflow_uuid": workflow_id}).fetchall()
            if not rows and s.run("workflow_exists", {"workflow_uuid": workflow_id}).fetchone() is None:
                return None
        return {r[0]: int(r[1]) for r in rows}

    # -- events ----------------------------------------------------------------------------------------
    def set_event(self, workflow_id: str, key: str, value: bytes, now_ms: int,
                  op: OperationRow | None = None, history_fid: int | None = None) -> bool:
        with self._tx() as s:
            if op is not None and s.run("insert_operation", op_params(workflow_id, op)).rowcount != 1:
                return False
            # One statement: a trigger keeps the new version (PostgreSQL does it all in one statement too).
            s.run("upsert_event", {"workflow_uuid": workflow_id, "key": key, "value": value, "now": now_ms,
                                   "function_id": history_fid})
            return True

    def get_event(self, workflow_id: str, key: str) -> bytes | None:
        with self._auto() as s:
            row = s.run("get_event", {"workflow_uuid": workflow_id, "key": key}).fetchone()
        return bytes(row[0]) if row is not None else None

    def get_event_version(self, workflow_id: str, key: str) -> EventVersionRow | None:
        with self._auto() as s:
            row = s.run("get_event_version", {"workflow_uuid": workflow_id, "key": key}).fetchone()
        return EventVersionRow(int(row[1]), bytes(row[0]), int(row[2])) if row is not None else None

    def read_event_versions(self, workflow_id: str, key: str, from_version: int,
                            limit: int = 1000) -> EventVersionChunk:
        with self._auto() as s:
            rows = s.run("read_event_versions", {"workflow_uuid": workflow_id, "key": key,
                                                 "from_version": from_version, "limit": limit}).fetchall()
        if not rows:
            return EventVersionChunk()
        return EventVersionChunk(
            entries=[EventVersionRow(int(r[1]), bytes(r[2]), int(r[3])) for r in rows if r[1] is not None],
            workflow_status=rows[0][0])

    def get_all_events(self, workflow_id: str) -> dict[str, bytes]:
        with self._auto() as s:
            rows = s.run("get_all_events", {"workflow_uuid": workflow_id}).fetchall()
        return {r[0]: bytes(r[1]) for r in rows}


class _AlreadyRecorded(Exception):
    """Internal: roll back a consume whose operation an earlier run already recorded."""

