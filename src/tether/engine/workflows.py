"""Running and finishing workflows (starting them is ``starts.py``; waiting for their outcome ``outcomes.py``).

Only the workflow's own code decides its outcome. An execution that ends for any other reason (the database
unavailable past every retry, its outcome impossible to record, its task cancelled while the process lives
on) is *stranded*: its workflow stays PENDING, and this process runs it again from its checkpoints as soon as
the database answers (:func:`strand`), instead of leaving it, and whoever waits for it, until a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from tether.engine import auth, tracing
from tether.engine.bridge import inline_io, loop_free, run_sync
from tether.engine.context import (
    Preempted,
    WorkflowContext,
    enter_workflow,
    leave_workflow,
    workflow_for_operation,
)
from tether.engine.outcomes import get_outcome, record_result
from tether.engine.registry import RegisteredWorkflow, method_target
from tether.engine.runtime import Runtime, logger
from tether.engine.starts import Start, prepare_start, prepare_start_blocking
from tether.engine.steps import replay
from tether.engine.timeouts import arm
from tether.errors import DatabaseUnavailableError, DBOSNotAuthorizedError, WorkflowCancelledError
from tether.serialization import serialize, serialize_error
from tether.storage.checkpoints import CompleteWorkflow
from tether.types import WorkflowStatusString

_SUCCESS = WorkflowStatusString.SUCCESS.value


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
                           authenticated_user=start.authenticated_user,
                           authenticated_roles=start.authenticated_roles, assumed_role=start.assumed_role,
                           deadline_ms=start.deadline_ms)


def _authorize(start: Start) -> DBOSNotAuthorizedError | None:
    """Check the roles the workflow requires against the identity recorded with it, before every run: the
    refusal it runs into (then recorded as its outcome), else None with the granted role assumed."""
    try:
        start.assumed_role = auth.granted_role(start.reg.guard, start.reg.name, start.authenticated_roles)
    except DBOSNotAuthorizedError as exc:
        return exc
    return None


async def finish(rt: Runtime, start: Start, result: Any, error: BaseException | None) -> Any:
    """Record the outcome of an execution and wake whoever waits for it. Returns the result or raises."""
    wfid = start.workflow_id
    if isinstance(error, WorkflowCancelledError):
        rt.active.pop(wfid, None)
        rt.cancelled.discard(wfid)
        if isinstance(error, Preempted) or wfid in rt.preempted:
            rt.preempted.discard(wfid)
        else:
            rt.hub.notify("wf", wfid, WorkflowStatusString.CANCELLED.value)  # get_result waits for the stop
        if not start.detached:  # a direct call gets the recorded outcome, as from its handle (as DBOS's does):
            return await get_outcome(rt, wfid, own_run=True)  # a cancellation's is AwaitedWorkflowCancelledError
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
    # Active here until its outcome is recorded: a recovery looking meanwhile finds it PENDING, and must not run it.
    rt.active.pop(wfid, None)
    if not recorded and not start.detached:
        _settle(rt, start, item, recorded, error)
        return await _recorded_outcome(rt, start, result, error)
    return _finished(rt, start, item, recorded, result, error)


def finish_blocking(rt: Runtime, start: Start, result: Any, error: BaseException | None) -> Any:
    """:func:`finish` from a synchronous workflow's thread: without a coroutine in the common case."""
    if isinstance(error, (WorkflowCancelledError, DatabaseUnavailableError)) or not loop_free():
        return run_sync(finish(rt, start, result, error))
    item, error = _completion(rt, start, result, error)
    try:
        recorded = rt.checkpoint_blocking(item)
    except BaseException as exc:
        strand(rt, start, exc)
        raise
    rt.active.pop(start.workflow_id, None)  # only now: see finish
    if not recorded and not start.detached:
        _settle(rt, start, item, recorded, error)
        return run_sync(_recorded_outcome(rt, start, result, error))
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
    _settle(rt, start, item, recorded, error)
    if error is not None:
        raise error
    return result


def _settle(rt: Runtime, start: Start, item: CompleteWorkflow, recorded: bool, error: BaseException | None) -> None:
    wfid = start.workflow_id
    if recorded:
        rt.remember_outcome(wfid, item.status, start.reg.name, item.output, item.error, live_error=error)
    rt.cancelled.discard(wfid)
    rt.notify("wf", wfid, item.status)


async def _recorded_outcome(rt: Runtime, start: Start, result: Any, error: BaseException | None) -> Any:
    """A direct call whose end was not recorded, because its workflow was no longer PENDING (cancelled after
    its last operation, or ended by another execution), returns the outcome that was recorded, as DBOS's does
    (for a cancellation AwaitedWorkflowCancelledError); if the workflow was deleted meanwhile, its own."""
    row = await rt.io(rt.store.get_workflow, start.workflow_id, load_input=False, load_output=False)
    if row is not None:
        return await get_outcome(rt, start.workflow_id, own_run=True)
    if error is not None:
        raise error
    return result


def execute_sync(rt: Runtime, start: Start) -> Any:
    """Run a synchronous workflow function in the calling thread."""
    refused = _authorize(start) if start.reg.guard.active else None
    span = tracing.workflow_span(start.reg.name, start.workflow_id, start.trace_context, start.queue_name,
                                 start.authenticated_user, start.authenticated_roles, start.assumed_role)
    if span is tracing.NO_SPAN:  # tracing off: no with-block around a no-op
        return _execute_sync(rt, start, refused)
    with span:
        return _execute_sync(rt, start, refused)


def _execute_sync(rt: Runtime, start: Start, refused: DBOSNotAuthorizedError | None) -> Any:
    ctx = _context(rt, start)
    tokens = enter_workflow(ctx)
    rt.active[start.workflow_id] = True
    try:
        if refused is not None:
            raise refused
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
    refused = _authorize(start) if start.reg.guard.active else None
    with tracing.workflow_span(start.reg.name, start.workflow_id, start.trace_context, start.queue_name,
                               start.authenticated_user, start.authenticated_roles, start.assumed_role):
        return await _execute_async(rt, start, refused)


async def _execute_async(rt: Runtime, start: Start, refused: DBOSNotAuthorizedError | None) -> Any:
    ctx = _context(rt, start)
    tokens = enter_workflow(ctx)
    rt.active[start.workflow_id] = True
    try:
        if refused is not None:
            raise refused
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
    launched = False
    try:
        await asyncio.sleep(0.05)  # let whatever stopped it settle
        launched = await rt.io(_claim_and_launch, rt, start)  # waits for the database, as every store call does
    except Exception:
        if not rt.destroyed:
            logger.exception("Could not run stranded workflow %s again; the next launch recovers it", wfid)
    finally:
        if not launched:  # once launched, the mark is the new execution's (it may have stranded already)
            rt.stranded.discard(wfid)


def _claim_and_launch(rt: Runtime, start: Start) -> bool:
    """Run a stranded workflow again from its checkpoints, if it is still PENDING and not running here; True
    when this started it. The look, the claim and the start happen under the start lock, as a recovery's
    do (engine/recovery.py): a recovery on another thread (launch's, an adoption's) may be choosing the same
    workflow, and only one of the two may start it -- nor may either start it after the other's execution
    has ended it."""
    wfid = start.workflow_id
    with rt.start_lock:
        if wfid in rt.active:
            return False  # something (a resume, a queue claim, a recovery) already runs it again here
        rows = rt.store.begin_recovery_many([wfid], rt.clock.now_ms())
        if not rows:
            return False  # it ended after all (its outcome recorded before the connection dropped), or cancelled
        if rows[0].recovery_attempts > start.reg.max_recovery_attempts + 1:  # as recovery counts (start = 1)
            status = WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value
            now_us = rt.clock.now_us()
            if rt.store.set_status([wfid], status, now_us // 1000, now_us=now_us,
                                   only_from=[WorkflowStatusString.PENDING.value]):
                logger.error("Workflow %s exceeded its maximum recovery attempts", wfid)
                rt.notify("wf", wfid, status)
            return False
        recorded = {op.function_id: op for op in rt.store.load_operations(wfid)}
        if rt.destroyed:
            return False  # the next launch recovers it
        rt.stranded.discard(wfid)  # from here a new stop of this execution strands it again
        launch_in_background(rt, dataclasses.replace(start, created=True, recorded=recorded), on_this_loop=False)
        return True


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
    operations of the parent, as in DBOS.

    Raises:
        DBOSNotAuthorizedError: the workflow requires roles the caller does not hold; nothing is written.
    """
    if reg.guard.active:  # checked before the start: the workflow starts with the granted role assumed
        with auth.assume(auth.check_call(reg.guard, reg.name)):
            return _call_sync(rt, reg, args, kwargs)
    return _call_sync(rt, reg, args, kwargs)


def _call_sync(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
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
    """The async form of :func:`call_sync`.

    Raises:
        DBOSNotAuthorizedError: the workflow requires roles the caller does not hold; nothing is written.
    """
    if reg.guard.active:
        with auth.assume(auth.check_call(reg.guard, reg.name)):
            return await _call_async(rt, reg, args, kwargs)
    return await _call_async(rt, reg, args, kwargs)


async def _call_async(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
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
