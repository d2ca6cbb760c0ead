"""Turning stored rows into the public ``WorkflowStatus`` and ``StepInfo``."""

from __future__ import annotations

import json
from typing import Any

from tether.engine.auth import decode_roles
from tether.engine.inputs import decode_inputs
from tether.serialization import UndecodableValue, decode_error_or_mark, decode_or_mark
from tether.storage.base import OperationRow, WorkflowRow
from tether.types import StepInfo, WorkflowStatus


def to_status(row: WorkflowRow) -> WorkflowStatus:
    """The public status of a stored row. A stored value this process cannot decode is shown as an
    :class:`UndecodableValue` (an error as a ``PortableWorkflowError`` named ``UndecodableError``) rather than
    failing the call: one bad row must not hide the others from ``list_workflows``."""
    inputs: Any = None
    if row.inputs is not None:
        decoded = decode_or_mark(row.inputs, "input", row.workflow_uuid)
        if isinstance(decoded, UndecodableValue):
            inputs = decoded
        else:
            args, kwargs = decode_inputs(row.inputs)
            inputs = {"args": args, "kwargs": kwargs}
    return WorkflowStatus(
        workflow_id=row.workflow_uuid, status=row.status, name=row.name, class_name=row.class_name,
        config_name=row.config_name, authenticated_user=row.authenticated_user, input=inputs,
        output=decode_or_mark(row.output, "output", row.workflow_uuid) if row.output is not None else None,
        error=decode_error_or_mark(row.error, row.workflow_uuid) if row.error is not None else None,
        created_at=row.created_at, updated_at=row.updated_at, queue_name=row.queue_name,
        executor_id=row.executor_id, app_version=row.application_version,
        recovery_attempts=row.recovery_attempts, parent_workflow_id=row.parent_workflow_id,
        forked_from=row.forked_from, deduplication_id=row.deduplication_id, priority=row.priority,
        delay_until_epoch_ms=row.delay_until_epoch_ms, app_id=row.application_id,
        workflow_timeout_ms=row.workflow_timeout_ms, workflow_deadline_epoch_ms=row.workflow_deadline_epoch_ms,
        schedule_name=row.schedule_name, is_debounced=bool(row.is_debounced),
        debounce_deadline_epoch_ms=row.debounce_deadline_epoch_ms,
        attributes=json.loads(row.attributes) if row.attributes is not None else None,
        completed_at=row.completed_at, queue_partition_key=row.queue_partition_key,
        dequeued_at=row.started_at_epoch_ms if row.queue_name is not None else None,
        was_forked_from=bool(row.was_forked_from), application_name=row.application_name,
        unread_messages_at_end=row.unread_messages_at_end, assumed_role=row.assumed_role,
        authenticated_roles=decode_roles(row.authenticated_roles),
    )


def to_step_info(op: OperationRow, load_output: bool = True) -> StepInfo:
    return StepInfo(
        function_id=op.function_id, function_name=op.function_name,
        output=decode_or_mark(op.output, f"step {op.function_id} output", "(listed)")
        if op.output is not None and load_output else None,
        error=decode_error_or_mark(op.error, "(listed)") if op.error is not None and load_output else None,
        child_workflow_id=op.child_workflow_id, started_at_epoch_ms=op.started_at,
        completed_at_epoch_ms=op.completed_at, child_shard_key=None,
    )
