"""Writing a workflow's start row, and what the answer means: created here, an existing row of the same
workflow (a start of an ID that exists returns it), or the deduplication ID held by another workflow.

A start whose connection was lost may have committed before the loss: a row found afterwards that is exactly
the one this start wrote counts as created here (but only for the first start of this process to claim it).
"""

from __future__ import annotations

from tether.engine.runtime import Runtime
from tether.errors import ConflictingWorkflowError, DBOSWorkflowIDInUseError, QueueDeduplicatedError
from tether.storage.base import WorkflowRow
from tether.storage.checkpoints import InsertWorkflow
from tether.types import WorkflowStatusString

_PENDING = WorkflowStatusString.PENDING.value

DEDUP_ATTEMPTS = 20
"""How often a ``return-existing`` enqueue retries when the holder ends between its insert and its look-up."""


async def insert_start(rt: Runtime, row: WorkflowRow, duplication_policy: str | None, reject_reuse: bool = False
                       ) -> tuple[bool, str | None]:
    """Insert a new workflow's row. Returns (created, None), or under ``return-existing`` (False, holder) when
    an active workflow holds the deduplication ID.

    Raises:
        QueueDeduplicatedError: the deduplication ID is held (under the default policy, ``reject``).
        ConflictingWorkflowError: the ID exists and runs another function.
        DBOSWorkflowIDInUseError: the ID exists and ``reject_reuse`` is set.
    """
    for _ in range(DEDUP_ATTEMPTS):
        try:
            (created, existing), faulted = await rt.checkpoint_noting_faults(InsertWorkflow(row))
        except QueueDeduplicatedError:
            if duplication_policy != "return-existing" or row.queue_name is None or row.deduplication_id is None:
                raise
            holder = await rt.io(rt.store.deduplicated_workflow, row.queue_name, row.deduplication_id)
            if holder is not None:
                return False, holder
            continue  # the holder ended in between: try to take the ID again
        return _created(rt, row, created, existing, faulted, reject_reuse), None
    raise QueueDeduplicatedError(row.workflow_uuid, row.queue_name or "", row.deduplication_id or "")


def insert_start_blocking(rt: Runtime, row: WorkflowRow, reject_reuse: bool = False) -> bool:
    """:func:`insert_start` under the default duplication policy, from a thread where no event loop runs
    (see :meth:`Runtime.checkpoint_blocking`). Returns whether the row was created.

    Raises:
        The same as :func:`insert_start`.
    """
    (created, existing), faulted = rt.checkpoint_noting_faults_blocking(InsertWorkflow(row))
    return _created(rt, row, created, existing, faulted, reject_reuse)


def _created(rt: Runtime, row: WorkflowRow, created: bool, existing: WorkflowRow, faulted: bool,
             reject_reuse: bool) -> bool:
    if not created and faulted and _is_row_we_wrote(existing, row):
        created = True  # our first try committed, but the connection was lost before it could say so
    if created and row.status == _PENDING and not rt.own_start(row.workflow_uuid, row.created_at):
        created = False  # another start of this ID here took this row for its own (both met a fault)
    if not created and reject_reuse:
        raise DBOSWorkflowIDInUseError(row.workflow_uuid, existing.status, existing.name)
    if not created:
        _check_same_workflow(existing, row)
    return created


def _check_same_workflow(existing: WorkflowRow, row: WorkflowRow) -> None:
    for what, old, new in (("function", existing.name, row.name), ("class", existing.class_name, row.class_name),
                           ("config", existing.config_name, row.config_name)):
        if old != new:
            raise ConflictingWorkflowError(row.workflow_uuid, f"Workflow already exists with a different {what} "
                                                              f"name: {old}, but the provided {what} name is: {new}")


def _is_row_we_wrote(existing: WorkflowRow, row: WorkflowRow) -> bool:
    return (existing.created_at, existing.executor_id, existing.name, existing.status) == (
        row.created_at, row.executor_id, row.name, row.status)
