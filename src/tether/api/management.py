"""Workflow management on ``DBOS`` and ``DBOSClient``: list, inspect, cancel, resume, fork, delay; and, on
``DBOS`` only, ``wait_first``, the durable ``asyncio_wait`` and patching.

The management methods are written once for both: ``DBOS.list_workflows(...)`` works on the class (its
launched runtime) and ``client.list_workflows(...)`` on a client instance (the client's runtime).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tether.api.binding import StrOrList as StrOrList
from tether.api.binding import _as_list as _as_list
from tether.api.binding import _either as _either
from tether.api.binding import _runtime_of as _runtime_of
from tether.api.filters import QueuedWorkflowFilters, WorkflowFilters, workflow_filter
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.history import HistoryOperations, ReservationAPI
from tether.api.status import to_status, to_step_info
from tether.engine import attributes as attributes_engine
from tether.engine import management, patching, waiting
from tether.engine.attributes import encode_attributes
from tether.engine.bridge import run_sync
from tether.engine.context import take_assigned_id, workflow_for_operation
from tether.engine.runtime import Runtime
from tether.engine.steps import as_operation, recorded_under_another_name
from tether.errors import WorkflowNotFoundError
from tether.types import StepInfo, WorkflowStatus

if TYPE_CHECKING:  # annotations only (PEP 692 keyword types): not needed at run time
    from typing_extensions import Unpack


class WorkflowManagement:
    """Management methods shared by ``DBOS`` and ``DBOSClient``. Each has a ``*_async`` twin."""

    @_either
    async def list_workflows_async(self, /, **filters: Unpack[WorkflowFilters]) -> list[WorkflowStatus]:
        """Coroutine form of :meth:`list_workflows`."""
        rt, flt = _runtime_of(self), workflow_filter(**filters)
        name = "DBOS.listQueuedWorkflows" if flt.queues_only else "DBOS.listWorkflows"

        async def run() -> list[WorkflowStatus]:
            return [to_status(r) for r in await management.list_workflows(rt, flt)]
        return await as_operation(name, run)

    @_either
    def list_workflows(self, *, workflow_ids: list[str] | None = None, status: StrOrList = None,
                       start_time: str | None = None, end_time: str | None = None,
                       completed_after: str | None = None, completed_before: str | None = None,
                       dequeued_after: str | None = None, dequeued_before: str | None = None,
                       name: StrOrList = None, app_version: StrOrList = None, forked_from: StrOrList = None,
                       parent_workflow_id: StrOrList = None, user: StrOrList = None,
                       queue_name: StrOrList = None, limit: int | None = None, offset: int | None = None,
                       sort_desc: bool = False, workflow_id_prefix: StrOrList = None, load_input: bool = True,
                       load_output: bool = True, executor_id: StrOrList = None, queues_only: bool = False,
                       was_forked_from: bool | None = None, is_fork: bool | None = None,
                       has_parent: bool | None = None, attributes: dict[str, Any] | None = None,
                       schedule_name: StrOrList = None, application_name: StrOrList = None,
                       shard_key: StrOrList = None, parent_shard_key: StrOrList = None) -> list[WorkflowStatus]:
        """Workflows matching every given filter, by creation time (``sort_desc`` for newest first). Lists
        mean "any of"; ``start_time``/``end_time`` bound the creation time, ``completed_*`` the end and
        ``dequeued_*`` the start from a queue (RFC 3339, inclusive, exact to the microsecond; an upper bound
        on a whole millisecond covers that millisecond, so a workflow's own reported time bounds it);
        ``attributes`` keeps workflows whose attributes contain the given ones (PostgreSQL only, served by an
        index); ``schedule_name`` keeps the runs of those schedules; ``load_input``/``load_output`` False skip
        reading those columns.

        Raises:
            ValueError: an unknown status or a malformed timestamp.
            TetherError: ``attributes`` on SQLite, or attributes that are not a JSON-serializable dict.
            NotLaunchedError: DBOS is not launched.
        """
        return run_sync(self.list_workflows_async(
            workflow_ids=workflow_ids, status=status, start_time=start_time, end_time=end_time,
            completed_after=completed_after, completed_before=completed_before, dequeued_after=dequeued_after,
            dequeued_before=dequeued_before, name=name, app_version=app_version, forked_from=forked_from,
            parent_workflow_id=parent_workflow_id, user=user, queue_name=queue_name, limit=limit, offset=offset,
            sort_desc=sort_desc, workflow_id_prefix=workflow_id_prefix, load_input=load_input,
            load_output=load_output, executor_id=executor_id, queues_only=queues_only,
            was_forked_from=was_forked_from, is_fork=is_fork, has_parent=has_parent, attributes=attributes,
            schedule_name=schedule_name, application_name=application_name))

    @_either
    def list_queued_workflows(self, /, **filters: Unpack[QueuedWorkflowFilters]) -> list[WorkflowStatus]:
        """Workflows waiting in or running from a queue (DELAYED, ENQUEUED or PENDING with a queue; with a
        ``status`` filter, the queued workflows of those statuses, ended ones too, as in DBOS); the filters of
        :meth:`list_workflows` except ``queues_only``.

        Raises:
            ValueError: an unknown status or a malformed timestamp.
            NotLaunchedError: DBOS is not launched.
        """
        return run_sync(self.list_workflows_async(**filters, queues_only=True))

    @_either
    async def list_queued_workflows_async(self, /, **filters: Unpack[QueuedWorkflowFilters]
                                          ) -> list[WorkflowStatus]:
        """Coroutine form of :meth:`list_queued_workflows`."""
        return await self.list_workflows_async(**filters, queues_only=True)

    @_either
    def list_workflow_steps(self, workflow_id: str, *, load_output: bool = True, limit: int | None = None,
                            offset: int | None = None, shard_key: str | None = None) -> list[StepInfo]:
        """The recorded steps (operations) of a workflow, by function_id; ``load_output=False`` leaves
        ``output`` and ``error`` out (None). An unknown workflow has no steps (an empty list, as in DBOS).
        ``shard_key`` is accepted and ignored (the database is not sharded).
        """
        return run_sync(self.list_workflow_steps_async(workflow_id, load_output=load_output, limit=limit,
                                                       offset=offset))

    @_either
    async def list_workflow_steps_async(self, workflow_id: str, *, load_output: bool = True,
                                        limit: int | None = None, offset: int | None = None,
                                        shard_key: str | None = None) -> list[StepInfo]:
        """Coroutine form of :meth:`list_workflow_steps`."""
        rt = _runtime_of(self)

        async def run() -> list[StepInfo]:
            try:
                ops = await management.list_steps(rt, workflow_id, limit, offset)
            except WorkflowNotFoundError:
                return []  # as DBOS: an unknown workflow has no steps
            return [to_step_info(op, load_output) for op in ops]
        return await as_operation("DBOS.listWorkflowSteps", run)

    @_either
    def cancel_workflow(self, workflow_id: str, *, cancel_children: bool = False,
                        shard_key: str | None = None) -> None:
        """Cancel a workflow: CANCELLED at once, off its queue, stopped at the start of its next operation (a
        preemptible step at once); with ``cancel_children``, every workflow it started too."""
        run_sync(self.cancel_workflows_async([workflow_id], cancel_children=cancel_children))

    @_either
    async def cancel_workflow_async(self, workflow_id: str, *, cancel_children: bool = False,
                                    shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`cancel_workflow`."""
        await self.cancel_workflows_async([workflow_id], cancel_children=cancel_children)

    @_either
    def cancel_workflows(self, workflow_ids: list[str], *, cancel_children: bool = False,
                         shard_key: str | None = None) -> None:
        """Cancel several workflows (see :meth:`cancel_workflow`)."""
        run_sync(self.cancel_workflows_async(workflow_ids, cancel_children=cancel_children))

    @_either
    async def cancel_workflows_async(self, workflow_ids: list[str], *, cancel_children: bool = False,
                                     shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`cancel_workflows`."""
        rt = _runtime_of(self)
        await as_operation("DBOS.cancelWorkflow", lambda: management.cancel_workflows(
            rt, workflow_ids, cancel_children=cancel_children))

    @_either
    def delete_workflow(self, workflow_id: str, *, delete_children: bool = False,
                        shard_key: str | None = None) -> None:
        """Delete a workflow and everything recorded for it; with ``delete_children``, its descendants too.
        An unknown ID is ignored."""
        run_sync(self.delete_workflows_async([workflow_id], delete_children=delete_children))

    @_either
    async def delete_workflow_async(self, workflow_id: str, *, delete_children: bool = False,
                                    shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`delete_workflow`."""
        await self.delete_workflows_async([workflow_id], delete_children=delete_children)

    @_either
    def delete_workflows(self, workflow_ids: list[str], *, delete_children: bool = False,
                         shard_key: str | None = None) -> None:
        """Delete several workflows (see :meth:`delete_workflow`)."""
        run_sync(self.delete_workflows_async(workflow_ids, delete_children=delete_children))

    @_either
    async def delete_workflows_async(self, workflow_ids: list[str], *, delete_children: bool = False,
                                     shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`delete_workflows`."""
        rt = _runtime_of(self)
        await as_operation("DBOS.deleteWorkflow", lambda: management.delete_workflows(
            rt, workflow_ids, delete_children=delete_children))

    @_either
    def resume_workflow(self, workflow_id: str, *, queue_name: str | None = None,
                        shard_key: str | None = None) -> WorkflowHandle[Any]:
        """Continue a cancelled (or out of recovery attempts) workflow from its last completed step, now or
        on ``queue_name``; also starts an enqueued or delayed workflow at once. A timeout counts again from
        the resumption.

        Raises:
            WorkflowNotFoundError: no workflow has this ID.
        """
        return self.resume_workflows([workflow_id], queue_name=queue_name)[0]

    @_either
    async def resume_workflow_async(self, workflow_id: str, *, queue_name: str | None = None,
                                    shard_key: str | None = None) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`resume_workflow`."""
        handles = await self.resume_workflows_async([workflow_id], queue_name=queue_name)
        return handles[0]

    @_either
    def resume_workflows(self, workflow_ids: list[str], *, queue_name: str | None = None,
                         shard_key: str | None = None) -> list[WorkflowHandle[Any]]:
        """Resume several workflows (see :meth:`resume_workflow`); one handle per ID, in order.

        Raises:
            WorkflowNotFoundError: an ID names no workflow.
        """
        rt = _runtime_of(self)
        ids = run_sync(self._resume(rt, workflow_ids, queue_name))
        return [WorkflowHandle(rt, wfid) for wfid in ids]

    @_either
    async def resume_workflows_async(self, workflow_ids: list[str], *, queue_name: str | None = None,
                                     shard_key: str | None = None) -> list[WorkflowHandleAsync[Any]]:
        """Coroutine form of :meth:`resume_workflows`."""
        rt = _runtime_of(self)
        ids = await self._resume(rt, workflow_ids, queue_name)
        return [WorkflowHandleAsync(rt, wfid) for wfid in ids]

    @_either
    async def _resume(self, rt: Runtime, workflow_ids: list[str], queue_name: str | None) -> list[str]:
        return await as_operation("DBOS.resumeWorkflow", lambda: management.resume_workflows(
            rt, workflow_ids, queue_name, run_here=_runs_here(self)))

    @_either
    def fork_workflow(self, workflow_id: str, start_step: int, *, application_version: str | None = None,
                      queue_name: str | None = None, queue_partition_key: str | None = None,
                      replacement_children: dict[str, str] | None = None, timeout_seconds: float | None = None,
                      shard_key: str | None = None) -> WorkflowHandle[Any]:
        """A new workflow with the same inputs that reuses the checkpoints before ``start_step`` (and the
        events as they were then) and runs the rest again; its ``forked_from`` is ``workflow_id``. A
        ``SetWorkflowID`` block names it. ``queue_name`` (and ``queue_partition_key``) enqueues it there;
        ``timeout_seconds`` gives it a
        timeout of its own; ``replacement_children`` maps recorded child IDs to the ones the fork uses.

        Raises:
            WorkflowNotFoundError: no workflow has ``workflow_id``.
            ConflictingWorkflowError: the ``SetWorkflowID`` ID belongs to a workflow that is not a fork of
                ``workflow_id`` (nothing is written; the same fork asked again returns it).
            ValueError: ``start_step`` is negative (0, as 1, reruns every step), or a timeout that is not
                positive.
        """
        rt = _runtime_of(self)
        return WorkflowHandle(rt, run_sync(self._fork(rt, workflow_id, start_step, application_version,
                                                      queue_name, replacement_children, timeout_seconds,
                                                      queue_partition_key)))

    @_either
    async def fork_workflow_async(self, workflow_id: str, start_step: int, *,
                                  application_version: str | None = None, queue_name: str | None = None,
                                  queue_partition_key: str | None = None,
                                  replacement_children: dict[str, str] | None = None,
                                  timeout_seconds: float | None = None,
                                  shard_key: str | None = None) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`fork_workflow`."""
        rt = _runtime_of(self)
        return WorkflowHandleAsync(rt, await self._fork(rt, workflow_id, start_step, application_version,
                                                        queue_name, replacement_children, timeout_seconds,
                                                        queue_partition_key))

    @_either
    async def _fork(self, rt: Runtime, workflow_id: str, start_step: int, application_version: str | None,
                    queue_name: str | None, replacement_children: dict[str, str] | None,
                    timeout_seconds: float | None, queue_partition_key: str | None = None) -> str:
        new_id = take_assigned_id()  # a SetWorkflowID block names the fork, not the recorded operation
        forked = await as_operation("DBOS.forkWorkflow", lambda: management.fork_workflow(
            rt, workflow_id, start_step, application_version, run_here=_runs_here(self), new_id=new_id,
            queue_name=queue_name, timeout_seconds=timeout_seconds, replacement_children=replacement_children,
            queue_partition_key=queue_partition_key))
        if _runs_here(self) and workflow_for_operation("DBOS.getStatus") is not None \
                and not recorded_under_another_name("DBOS.getStatus"):
            # As DBOS, which hands the fork back through retrieve_workflow: from a workflow, the recorded
            # operation DBOS.getStatus of the fork follows DBOS.forkWorkflow.
            async def read() -> WorkflowStatus | None:
                row = await rt.io(rt.store.get_workflow, forked)
                return to_status(row) if row is not None else None
            await as_operation("DBOS.getStatus", read)
        return forked

    @_either
    def update_workflow_attributes(self, workflow_id: str, attributes: dict[str, Any] | None, *,
                                   merge: bool = False, shard_key: str | None = None) -> None:
        """Replace a workflow's attributes (None clears them); with ``merge``, set the given top-level keys
        and keep the others. From inside a workflow the update is a recorded operation (done once).

        Raises:
            TetherError: attributes that are not a JSON-serializable dict, or ``merge`` without a dict.
            WorkflowNotFoundError: no workflow has this ID.
            RuntimeError: called from a running event loop (use the ``_async`` form there).
        """
        _no_loop("update_workflow_attributes")
        run_sync(self.update_workflow_attributes_async(workflow_id, attributes, merge=merge))

    @_either
    async def update_workflow_attributes_async(self, workflow_id: str, attributes: dict[str, Any] | None, *,
                                               merge: bool = False, shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`update_workflow_attributes`."""
        rt = _runtime_of(self)
        encode_attributes(attributes)  # refuse bad input before anything is recorded
        await as_operation("DBOS.updateWorkflowAttributes",
                           lambda: attributes_engine.update_attributes(rt, workflow_id, attributes, merge=merge))

    @_either
    def set_workflow_delay(self, workflow_id: str, *, delay_seconds: float | None = None,
                           delay_until_epoch_ms: int | None = None, shard_key: str | None = None) -> None:
        """Move the start of a DELAYED workflow (exactly one of the two arguments); no effect on others.

        Raises:
            ValueError: neither or both given, or a negative value.
            WorkflowNotFoundError: no workflow has this ID.
        """
        run_sync(self.set_workflow_delay_async(workflow_id, delay_seconds=delay_seconds,
                                               delay_until_epoch_ms=delay_until_epoch_ms))

    @_either
    async def set_workflow_delay_async(self, workflow_id: str, *, delay_seconds: float | None = None,
                                       delay_until_epoch_ms: int | None = None,
                                       shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`set_workflow_delay`. From a workflow it is the recorded operation
        ``DBOS.setWorkflowDelay``, as in DBOS."""
        rt = _runtime_of(self)

        async def move() -> bool:
            return await management.set_workflow_delay(rt, workflow_id, delay_seconds=delay_seconds,
                                                       delay_until_epoch_ms=delay_until_epoch_ms)
        if recorded_under_another_name("DBOS.setWorkflowDelay"):
            await move()  # a workflow recorded by earlier Tether, which did not record this call
        else:
            await as_operation("DBOS.setWorkflowDelay", move)


def _no_loop(method: str) -> None:
    """Refuse a blocking call from a running event loop, pointing at its ``_async`` form.

    Raises:
        RuntimeError: an event loop is running in this thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{method} cannot be called from a running event loop; use {method}_async")


def _runs_here(target: Any) -> bool:
    """Whether resumed and forked workflows may run in this process: in the application yes; a client runs
    no workflows, so from there they go to the internal queue that every application process serves."""
    return bool(getattr(target, "_runs_workflows", True))


class ManagementAPI(WorkflowManagement, HistoryOperations, ReservationAPI):
    """What ``DBOS`` adds to the shared management methods: waiting on several workflows or futures, and
    patching."""

    @classmethod
    def wait_first(cls, handles: list[WorkflowHandle[Any]], *, polling_interval_sec: float = 1.0
                   ) -> WorkflowHandle[Any]:
        """The first of ``handles`` whose workflow ends (recorded inside a workflow, so recovery agrees).

        Raises:
            ValueError: ``handles`` is empty.
        """
        return _pick(handles, run_sync(waiting.wait_first(_runtime_of(cls), [h.workflow_id for h in handles],
                                                          polling_interval_sec)))

    @classmethod
    async def wait_first_async(cls, handles: list[WorkflowHandleAsync[Any]], *,
                               polling_interval_sec: float = 1.0) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`wait_first`."""
        return _pick(handles, await waiting.wait_first(_runtime_of(cls), [h.workflow_id for h in handles],
                                                       polling_interval_sec))

    @classmethod
    async def asyncio_wait(cls, fs: Sequence[Awaitable[Any]], *, timeout: float | None = None,
                           return_when: str = asyncio.ALL_COMPLETED
                           ) -> tuple[set[asyncio.Future[Any]], set[asyncio.Future[Any]]]:
        """``asyncio.wait`` whose done/pending split is checkpointed in a workflow (plain outside one).

        Raises:
            ValueError: ``fs`` is empty or ``return_when`` is invalid.
        """
        return await waiting.asyncio_wait(fs, timeout=timeout, return_when=return_when)

    @classmethod
    def patch(cls, patch_name: str) -> bool:
        """True where the patched code should run, False where history recorded by older code continues.

        Raises:
            NotInWorkflowError: called outside a workflow.
        """
        _runtime_of(cls)
        return run_sync(patching.patch(patch_name))

    @classmethod
    async def patch_async(cls, patch_name: str) -> bool:
        """Coroutine form of :meth:`patch`."""
        _runtime_of(cls)
        return await patching.patch(patch_name)

    @classmethod
    def deprecate_patch(cls, patch_name: str) -> bool:
        """Step over the marker of a patch every running workflow now has. Always True.

        Raises:
            NotInWorkflowError: called outside a workflow.
        """
        _runtime_of(cls)
        return run_sync(patching.deprecate_patch(patch_name))

    @classmethod
    async def deprecate_patch_async(cls, patch_name: str) -> bool:
        """Coroutine form of :meth:`deprecate_patch`."""
        _runtime_of(cls)
        return await patching.deprecate_patch(patch_name)


H = TypeVar("H", WorkflowHandle[Any], WorkflowHandleAsync[Any])


def _pick(handles: list[H], workflow_id: str) -> H:
    return next(h for h in handles if h.workflow_id == workflow_id)
