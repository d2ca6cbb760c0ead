"""Starting, running and finishing workflows (waiting for their outcome is in ``outcomes.py``).

A start is durable before anything runs: the workflow's row (inputs, status PENDING or ENQUEUED) is inserted
first, and an ID that already exists is never run again by a start (only recovery resumes a PENDING one).

Only the workflow's own code decides its outcome. An execution that ends for any other reason (the database
unavailable past every retry, its outcome impossible to record, its task cancelled while the process lives
on) is *stranded*: its workflow stays PENDING, and this process runs it again from its checkpoints as soon as
the database answers (:func:`strand`), instead of leaving it, and whoever waits for it, until a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from tether.engine import tracing, validation
from tether.engine.bridge import inline_io, loop_free, run_sync
from tether.engine.context import (
    Preempted,
    WorkflowContext,
    current_debounce,
    current_step,
    current_workflow,
    enter_workflow,
    leave_workflow,
    rejects_reuse,
    start_attributes,
    start_timeout,
    take_assigned_id,
    workflow_for_operation,
)
from tether.engine.ids import new_workflow_id
from tether.engine.inputs import encode_inputs
from tether.engine.outcomes import get_outcome, record_result
from tether.engine.registry import RegisteredWorkflow, method_target
from tether.engine.runtime import Runtime, logger
from tether.engine.start_insert import insert_start, insert_start_blocking
from tether.engine.steps import replay
from tether.engine.timeouts import arm, start_deadline
from tether.errors import ConflictingWorkflowError, DatabaseUnavailableError, WorkflowCancelledError
from tether.serialization import format_name, serialize, serialize_error
from tether.storage.base import OperationRow, WorkflowRow
from tether.storage.checkpoints import CompleteWorkflow, RecordOperation
from tether.types import WorkflowStatusString


@dataclass
class StartOptions:
    """How a workflow is started: its ID, queue, delay and so on (all optional)."""

    workflow_id: str | None = None
    queue_name: str | None = None
    deduplication_id: str | None = None
    priority: int = 0
    delay_until_epoch_ms: int | None = None
    timeout_ms: int | None = None
    authenticated_user: str | None = None
    app_version: str | None = None
    debounced: bool = False  # a debounced start: later debounces of its key push it back (engine/debouncer.py)
    debounce_deadline_ms: int | None = None
    queue_partition_key: str | None = None
    # "return-existing": an enqueue whose deduplication ID is held gets a handle on the holder instead of an
    # error ("reject", the default, raises QueueDeduplicatedError).
    duplication_policy: str | None = None
    # "reject": a start whose ID already exists raises DBOSWorkflowIDInUseError instead of returning it.
    reuse_policy: str | None = None
    attributes: str | None = None  # JSON text; None: those of the enclosing SetWorkflowAttributes block
    application_name: str | None = None  # the application it belongs to; None: the starting process's


@dataclass
class Start:
    """The outcome of a durable start: the ID, and whether this call created (and so must run) it."""

    workflow_id: str
    created: bool
    reg: RegisteredWorkflow
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    recorded: dict[int, OperationRow] | None = None
    deadline_ms: int | None = None  # when it is cancelled if still running (see engine/timeouts.py)
    from_storage: bool = False  # the arguments were decoded from the database (recovery, a queue)
    result_fid: int | None = None  # the parent's step number for reading its result (direct calls)
    detached: bool = False  # started in the background: nobody waits for this execution's outcome
    trace_context: str | None = None  # the starter's W3C trace context (engine/tracing.py)
    queue_name: str | None = None  # these two only name the workflow's span
    authenticated_user: str | None = None


_PENDING = WorkflowStatusString.PENDING.value  # read once: an enum member's .value is a property call
_SUCCESS = WorkflowStatusString.SUCCESS.value
_NO_OPTIONS = StartOptions()  # a direct call's, shared: options are never changed once handed to a start


async def prepare_start(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any],
                        opts: StartOptions | None = None, *, read_result: bool = False) -> Start:
    """Record a workflow start durably (or find the one already recorded under its ID). With ``read_result``
    (a direct call from a workflow), the step number of the result read is drawn right after the start's,
    before anything is awaited, so that concurrent operations of the parent cannot take it in between.

    Raises:
        SerializationError: the arguments cannot be stored; nothing is written.
        ConflictingWorkflowError: the ID belongs to a workflow of another name, or is the calling workflow's
            own ID (a workflow cannot be its own child: it would wait for itself forever).
        InvalidArgumentError, ArgumentTypeError: a bad ID, queue name, deduplication ID, workflow name or
            application version (see :mod:`tether.engine.validation`); nothing is written.
    """
    planned = _plan_start(rt, reg, args, kwargs, opts or StartOptions(), read_result)
    if isinstance(planned, Start):
        return planned
    created, holder = await insert_start(rt, planned.row, planned.opts.duplication_policy, planned.reject_reuse)
    if planned.parent is not None:
        await rt.checkpoint(planned.child_operation(holder or planned.row.workflow_uuid))
    return _started(rt, planned, created, holder)


def prepare_start_blocking(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any],
                           *, read_result: bool = False) -> Start:
    """:func:`prepare_start` of a direct call (no options, so no duplication policy) from synchronous code:
    without a coroutine where no event loop runs in this thread.

    Raises:
        The same as :func:`prepare_start`.
    """
    if not loop_free():
        return run_sync(prepare_start(rt, reg, args, kwargs, read_result=read_result))
    planned = _plan_start(rt, reg, args, kwargs, _NO_OPTIONS, read_result)
    if isinstance(planned, Start):
        return planned
    created = insert_start_blocking(rt, planned.row, planned.reject_reuse)
    if planned.parent is not None:
        rt.checkpoint_blocking(planned.child_operation(planned.row.workflow_uuid))
    return _started(rt, planned, created, None)


@dataclass
class _Planned:
    """A start ready to be written: its row, and for a child its parent's step numbers."""

    reg: RegisteredWorkflow
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    opts: StartOptions
    row: WorkflowRow
    reject_reuse: bool
    parent: WorkflowContext | None
    function_id: int
    result_fid: int | None

    def child_operation(self, wfid: str) -> RecordOperation:
        """The parent's checkpoint of this child's start (``wfid``: the child's ID, or the holder's)."""
        assert self.parent is not None
        now = self.row.created_at
        return RecordOperation(self.parent.workflow_id, OperationRow(
            function_id=self.function_id, function_name=self.reg.name, child_workflow_id=wfid, started_at=now,
            completed_at=now))


def _plan_start(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any],
                opts: StartOptions, read_result: bool) -> _Planned | Start:
    """The row a start writes (its checks made, nothing written), or the Start of a child already recorded."""
    debounce = current_debounce()
    if debounce is not None:
        opts = dataclasses.replace(opts, deduplication_id=debounce.deduplication_id, debounced=True,
                                   delay_until_epoch_ms=debounce.delay_until_ms,
                                   debounce_deadline_ms=debounce.deadline_ms,
                                   application_name=debounce.application_name or opts.application_name)
    parent = current_workflow() if current_step() is None else None
    function_id = 0
    assigned = opts.workflow_id or take_assigned_id()
    result_fid = None
    if assigned is not None:
        validation.workflow_id(assigned)
    validation.text(reg.name, "workflow_name")
    for argument in ("queue_name", "deduplication_id", "app_version", "authenticated_user", "queue_partition_key"):
        if (value := getattr(opts, argument)) is not None:  # a direct call's are all None
            validation.optional_text(value, argument)
    if parent is not None:
        function_id = parent.next_function_id()
        if read_result:
            result_fid = parent.next_function_id()
        recorded = parent.recorded.get(function_id)
        if recorded is not None and recorded.child_workflow_id:
            return Start(recorded.child_workflow_id, False, reg, args, kwargs, result_fid=result_fid)
    wfid = assigned or (f"{parent.workflow_id}-{function_id}" if parent is not None else new_workflow_id())
    if parent is not None and wfid == parent.workflow_id:
        raise ConflictingWorkflowError(wfid, "a workflow cannot start itself as its own child")
    # A method's instance (or class) is not stored: it is found again by its registered names.
    class_name, config_name = method_target(reg, args)
    inputs = encode_inputs(args[1:] if class_name is not None else args, kwargs, reg.serialization)
    now_us = rt.clock.now_us()
    now = now_us // 1000
    if opts.delay_until_epoch_ms is not None:
        status = WorkflowStatusString.DELAYED.value
    elif opts.queue_name is not None:
        status = WorkflowStatusString.ENQUEUED.value
    else:
        status = _PENDING
    own_block, block_timeout = start_timeout()
    timeout_ms = opts.timeout_ms if opts.timeout_ms is not None else block_timeout
    deadline = start_deadline(now, timeout_ms, status != _PENDING,
                              parent.deadline_ms if parent is not None else None,
                              own_block or opts.timeout_ms is not None)
    row = WorkflowRow(
        workflow_uuid=wfid, status=status, name=reg.name, inputs=inputs, class_name=class_name,
        config_name=config_name,
        executor_id=rt.settings.executor_id, application_version=opts.app_version or rt.application_version,
        created_at=now, created_at_us=now_us, updated_at=now, queue_name=opts.queue_name,
        deduplication_id=opts.deduplication_id,
        priority=opts.priority, delay_until_epoch_ms=opts.delay_until_epoch_ms,
        workflow_timeout_ms=timeout_ms, workflow_deadline_epoch_ms=deadline,
        authenticated_user=opts.authenticated_user or (parent.authenticated_user if parent else None),
        parent_workflow_id=parent.workflow_id if parent is not None else None,
        serialization=format_name(reg.serialization),
        started_at_epoch_ms=now if status == _PENDING else None,
        started_at_us=now_us if status == _PENDING else None,
        # attempts count executions, this first one included (as DBOS counts them)
        recovery_attempts=1 if status == _PENDING else 0,
        is_debounced=int(opts.debounced), debounce_deadline_epoch_ms=opts.debounce_deadline_ms,
        queue_partition_key=opts.queue_partition_key,
        attributes=opts.attributes if opts.attributes is not None else start_attributes(),
        application_name=opts.application_name or rt.settings.name, trace_context=tracing.capture(),
    )
    return _Planned(reg, args, kwargs, opts, row, opts.reuse_policy == "reject" or rejects_reuse(wfid), parent,
                    function_id, result_fid)


def _started(rt: Runtime, planned: _Planned, created: bool, holder: str | None) -> Start:
    row = planned.row
    if holder is not None:  # return-existing: the caller (and a parent's checkpoint) gets the holder
        return Start(holder, False, planned.reg, planned.args, planned.kwargs, result_fid=planned.result_fid)
    if created:
        rt.notify("wf", row.workflow_uuid, row.status)
    return Start(row.workflow_uuid, created and row.status == _PENDING, planned.reg, planned.args, planned.kwargs,
                 {}, row.workflow_deadline_epoch_ms, result_fid=planned.result_fid, trace_context=row.trace_context,
                 authenticated_user=row.authenticated_user)


def _validated(start: Start) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments to call the function with: decoded ones pass the workflow's ``validate_args`` first
    (a method's instance or class is not passed to it)."""
    check = start.reg.validate_args
    if check is None or not start.from_storage:
        return start.args, start.kwargs
    bound = start.args[:1] if method_target(start.reg, start.args)[0] is not None else ()
    args, kwargs = check(start.args[len(bound):], start.kwargs)
    return (*bound, *args), kwargs


def _context(rt: Runtime, start: Start) -> WorkflowContext:
    if start.deadline_ms is not None:
        arm(rt, start.workflow_id, start.deadline_ms)
    return WorkflowContext(runtime=rt, workflow_id=start.workflow_id, name=start.reg.name,
                           serialization=start.reg.serialization, recorded=start.recorded or {},
                           deadline_ms=start.deadline_ms)


async def finish(rt: Runtime, start: Start, result: Any, error: BaseException | None) -> Any:
    """Record the outcome of an execution and wake whoever waits for it. Returns the result or raises."""
    wfid = start.workflow_id
    rt.active.pop(wfid, None)
    if isinstance(error, WorkflowCancelledError):
        rt.cancelled.discard(wfid)
        if isinstance(error, Preempted) or wfid in rt.preempted:
            rt.preempted.discard(wfid)
            if not start.detached:  # the caller gets the outcome from whichever process runs it now
                return await get_outcome(rt, wfid)
            raise error
        rt.hub.notify("wf", wfid, WorkflowStatusString.CANCELLED.value)  # get_result waits for the stop
        raise error
    if isinstance(error, DatabaseUnavailableError):  # not the workflow's doing: it is not its outcome
        strand(rt, start, error)
        raise error
    item, error = _completion(rt, start, result, error)
    try:
        recorded = await rt.checkpoint(item)
    except BaseException as exc:
        strand(rt, start, exc)
        raise
    return _finished(rt, start, item, recorded, result, error)


def finish_blocking(rt: Runtime, start: Start, result: Any, error: BaseException | None) -> Any:
    """:func:`finish` from a synchronous workflow's thread: without a coroutine in the common case."""
    if isinstance(error, (WorkflowCancelledError, DatabaseUnavailableError)) or not loop_free():
        return run_sync(finish(rt, start, result, error))
    rt.active.pop(start.workflow_id, None)
    item, error = _completion(rt, start, result, error)
    try:
        recorded = rt.checkpoint_blocking(item)
    except BaseException as exc:
        strand(rt, start, exc)
        raise
    return _finished(rt, start, item, recorded, result, error)


def _completion(rt: Runtime, start: Start, result: Any, error: BaseException | None
                ) -> tuple[CompleteWorkflow, BaseException | None]:
    """The end to record, and the error the execution ends with (a result that cannot be stored is one)."""
    if error is None:
        try:
            output = serialize(result, start.reg.serialization)
        except Exception as exc:
            error = exc
    ended_us = rt.clock.now_us()
    if error is not None:
        return CompleteWorkflow(start.workflow_id, WorkflowStatusString.ERROR.value, None,
                                serialize_error(error, start.reg.serialization), ended_us // 1000, ended_us), error
    return CompleteWorkflow(start.workflow_id, _SUCCESS, output, None, ended_us // 1000, ended_us), None


def _finished(rt: Runtime, start: Start, item: CompleteWorkflow, recorded: bool, result: Any,
              error: BaseException | None) -> Any:
    wfid = start.workflow_id
    if recorded:
        rt.remember_outcome(wfid, item.status, start.reg.name, item.output, item.error, live_error=error)
    rt.cancelled.discard(wfid)
    rt.notify("wf", wfid, item.status)
    if error is not None:
        raise error
    return result


def execute_sync(rt: Runtime, start: Start) -> Any:
    """Run a synchronous workflow function in the calling thread."""
    span = tracing.workflow_span(start.reg.name, start.workflow_id, start.trace_context, start.queue_name,
                                 start.authenticated_user)
    if span is tracing.NO_SPAN:  # tracing off: no with-block around a no-op
        return _execute_sync(rt, start)
    with span:
        return _execute_sync(rt, start)


def _execute_sync(rt: Runtime, start: Start) -> Any:
    ctx = _context(rt, start)
    tokens = enter_workflow(ctx)
    rt.active[start.workflow_id] = True
    try:
        args, kwargs = _validated(start)
        result = start.reg.func(*args, **kwargs)
    except (Exception, WorkflowCancelledError) as exc:
        return finish_blocking(rt, start, None, exc)
    except BaseException as exc:
        strand(rt, start, exc)
        raise
    finally:
        leave_workflow(tokens)
    return finish_blocking(rt, start, result, None)


async def execute_async(rt: Runtime, start: Start) -> Any:
    """Run an async workflow function in the current task."""
    with tracing.workflow_span(start.reg.name, start.workflow_id, start.trace_context, start.queue_name,
                               start.authenticated_user):
        return await _execute_async(rt, start)


async def _execute_async(rt: Runtime, start: Start) -> Any:
    ctx = _context(rt, start)
    tokens = enter_workflow(ctx)
    rt.active[start.workflow_id] = True
    try:
        args, kwargs = _validated(start)
        result = await start.reg.func(*args, **kwargs)
    except (Exception, WorkflowCancelledError) as exc:
        return await finish(rt, start, None, exc)
    except BaseException as exc:  # the task was cancelled (or worse): the workflow has not ended
        strand(rt, start, exc)
        raise
    finally:
        leave_workflow(tokens)
    return await finish(rt, start, result, None)


def strand(rt: Runtime, start: Start, cause: BaseException) -> None:
    """An execution of ``start`` ended without its outcome recorded, for a reason that is not the workflow's
    own doing. Its workflow stays PENDING; unless the runtime is closing (then the next launch recovers it),
    run it again here from its checkpoints once the database answers, so that nobody waits for it in vain."""
    wfid = start.workflow_id
    rt.active.pop(wfid, None)
    if rt.destroyed or wfid in rt.stranded:
        return
    rt.stranded.add(wfid)
    logger.warning("Workflow %s stopped without an outcome (%r); running it again", wfid, cause)
    asyncio.run_coroutine_threadsafe(_run_again(rt, start), rt.loop)


async def _run_again(rt: Runtime, start: Start) -> None:
    wfid = start.workflow_id
    try:
        await asyncio.sleep(0.05)  # let whatever stopped it settle; the store calls below wait for the database
        if wfid in rt.active:
            return  # something (a resume, a queue claim) already runs it again here
        rows = await rt.io(rt.store.begin_recovery_many, [wfid], rt.clock.now_ms())
        if not rows:
            return  # it ended after all (its outcome was recorded before the connection dropped), or cancelled
        if rows[0].recovery_attempts > start.reg.max_recovery_attempts + 1:  # as recovery counts (start = 1)
            status = WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value
            now_us = rt.clock.now_us()
            if await rt.io(rt.store.set_status, [wfid], status, now_us // 1000, now_us=now_us,
                           only_from=[WorkflowStatusString.PENDING.value]):
                logger.error("Workflow %s exceeded its maximum recovery attempts", wfid)
                rt.notify("wf", wfid, status)
            return
        recorded = {op.function_id: op for op in await rt.io(rt.store.load_operations, wfid)}
    except Exception:
        if not rt.destroyed:
            logger.exception("Could not run stranded workflow %s again; the next launch recovers it", wfid)
        return
    finally:
        rt.stranded.discard(wfid)
    if wfid not in rt.active:
        launch_in_background(rt, dataclasses.replace(start, created=True, recorded=recorded))


def launch_in_background(rt: Runtime, start: Start, *, on_this_loop: bool = True) -> None:
    """Run a started workflow without waiting for it: sync ones on a thread of their own, async ones as tasks
    on the caller's loop if there is one and ``on_this_loop`` (False for the sync ``DBOS.start_workflow``,
    whose caller may block that loop next), else on the runtime's."""
    start.detached = True
    # Running here from now on, not only once its task or thread has begun (as recovery and dequeueing mark
    # theirs): a get_result right after the start then waits for the end this process announces instead of
    # reading a row that cannot have ended yet, and a cancel in between is caught (Runtime._on_wakeup).
    rt.active[start.workflow_id] = True
    try:
        _launch(rt, start, on_this_loop)
    except BaseException:
        rt.active.pop(start.workflow_id, None)
        raise


def _launch(rt: Runtime, start: Start, on_this_loop: bool) -> None:
    if start.reg.is_async:
        if on_this_loop and not loop_free() and not inline_io():  # not a bridge loop: it stops with its call
            rt.spawn(_quiet(execute_async(rt, start)))
        else:
            rt.submit_to_loop(_quiet(execute_async(rt, start)))
        return

    def run() -> None:
        try:
            execute_sync(rt, start)
        except BaseException:  # the outcome is recorded; a background start has nobody to raise to
            pass

    rt.start_thread(run, f"tether-wf-{start.workflow_id[:24]}")


async def _quiet(coro: Any) -> None:
    try:
        await coro
    except BaseException:  # recorded in the database; see launch_in_background
        pass


def call_sync(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call a synchronous workflow function directly: start it durably and run it in this thread (or wait
    for the existing one). Called from a workflow, the child's start and the read of its result are two
    operations of the parent, as in DBOS."""
    start = prepare_start_blocking(rt, reg, args, kwargs, read_result=True)
    ctx = workflow_for_operation("getResult")
    if ctx is None:
        if not start.created:
            return run_sync(get_outcome(rt, start.workflow_id))
        return execute_sync(rt, start)
    fid = start.result_fid if start.result_fid is not None else ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        return replay(rec)
    started = rt.clock.now_ms()
    try:
        value = execute_sync(rt, start) if start.created else run_sync(get_outcome(rt, start.workflow_id))
        error = None
    except Exception as exc:
        value, error = None, exc
    return run_sync(record_result(ctx, fid, start.workflow_id, started, value, error))


async def call_async(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The async form of :func:`call_sync`."""
    start = await prepare_start(rt, reg, args, kwargs, read_result=True)
    ctx = workflow_for_operation("getResult")
    if ctx is None:
        if not start.created:
            return await get_outcome(rt, start.workflow_id)
        return await execute_async(rt, start)
    fid = start.result_fid if start.result_fid is not None else ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        return replay(rec)
    started = rt.clock.now_ms()
    try:
        value = await (execute_async(rt, start) if start.created else get_outcome(rt, start.workflow_id))
        error = None
    except Exception as exc:
        value, error = None, exc
    return await record_result(ctx, fid, start.workflow_id, started, value, error)
