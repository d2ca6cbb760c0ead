"""Steps: run a function once per workflow position, record its outcome, replay it on recovery.

The retry loop exists in a sync and an async shell (the only difference is how the user's function is called
and how the pause is taken); what to replay and what to record is decided here once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tether.engine import tracing
from tether.engine.bridge import in_task, loop_free, run_sync
from tether.engine.context import (
    StepContext,
    WorkflowContext,
    enter_step,
    leave_step,
    require_workflow,
    workflow_for_operation,
)
from tether.engine.registry import StepPolicy
from tether.errors import (
    DatabaseUnavailableError,
    DBOSStepTimeoutError,
    DBOSUnexpectedStepError,
    MaxStepRetriesExceeded,
    TetherError,
    WorkflowCancelledError,
)
from tether.serialization import deserialize, deserialize_error, serialize, serialize_error
from tether.storage.base import OperationRow
from tether.storage.checkpoints import RecordOperation

logger = logging.getLogger("tether")

T = TypeVar("T")


@dataclass
class StepPlan:
    ctx: WorkflowContext
    function_id: int
    started_at: int
    recorded: OperationRow | None


def plan_step(name: str, reserved: int | None = None) -> StepPlan | None:
    """None: run the function plainly (outside a workflow, or nested in a step). ``reserved``: run at that
    step number (drawn earlier by ``reserve_step``) instead of the next one.

    Raises:
        DBOSUnexpectedStepError: replay found another operation recorded at this step number.
    """
    ctx = workflow_for_operation("step")
    if ctx is None:
        return None
    fid = ctx.next_function_id() if reserved is None else reserved
    rec = ctx.recorded.get(fid)
    if rec is not None:
        if rec.function_name != name:
            raise DBOSUnexpectedStepError(ctx.workflow_id, fid, name, rec.function_name)
        if rec.completed_at is None:
            rec = None
    return StepPlan(ctx, fid, ctx.runtime.clock.now_ms(), rec)


def replay(rec: OperationRow) -> Any:
    if rec.error is not None:
        err = deserialize_error(rec.error)
        if err is not None:
            raise err
    return deserialize(rec.output)


async def record_step(plan: StepPlan, name: str, result: Any, error: BaseException | None) -> Any:
    """Checkpoint a step's outcome; if an earlier run already recorded one, that one wins."""
    prior = await plan.ctx.runtime.checkpoint(_outcome(plan, name, result, error))
    return _settle(prior, result, error)


def record_step_blocking(plan: StepPlan, name: str, result: Any, error: BaseException | None) -> Any:
    """:func:`record_step` from synchronous code: without a coroutine where no loop runs in this thread."""
    if not loop_free():
        return run_sync(record_step(plan, name, result, error))
    prior = plan.ctx.runtime.checkpoint_blocking(_outcome(plan, name, result, error))
    return _settle(prior, result, error)


def _outcome(plan: StepPlan, name: str, result: Any, error: BaseException | None) -> RecordOperation:
    if isinstance(error, DatabaseUnavailableError):
        raise error  # a database outage is not the step's outcome: the workflow runs it again later
    row = OperationRow(function_id=plan.function_id, function_name=name, started_at=plan.started_at,
                       completed_at=plan.ctx.runtime.clock.now_ms())
    if error is None:
        row.output = serialize(result, plan.ctx.serialization)
    else:
        row.error = serialize_error(error, plan.ctx.serialization)
    return RecordOperation(plan.ctx.workflow_id, row)


def _settle(prior: OperationRow | None, result: Any, error: BaseException | None) -> Any:
    if prior is not None:
        return replay(prior)
    if error is not None:
        raise error
    return result


class _Attempts:
    """The retry decision, shared by the sync and async loops: after a failure, try again or give up with
    which error. A cancellation of the workflow is never retried and never recorded."""

    def __init__(self, policy: StepPolicy) -> None:
        self.policy = policy
        self.errors: list[Exception] = []

    def give_up(self, attempt: int, exc: Exception, retry_wanted: bool) -> Exception | None:
        """None to try again, else the error the step ends with."""
        self.errors.append(exc)
        if not self.policy.retries_allowed:
            return exc
        if not retry_wanted:
            return exc
        if attempt >= self.policy.attempts():
            return MaxStepRetriesExceeded(self.policy.name, self.policy.attempts(), exc, self.errors)
        return None


def run_step_sync(policy: StepPolicy, func: Callable[..., T], args: tuple[Any, ...],
                  kwargs: dict[str, Any], reserved: int | None = None) -> T:
    """Run a synchronous step (callers hand an async ``func`` to :func:`run_step_async` on the bridge).

    Raises:
        StepOptionsError: options that cannot work for ``func``.
        MaxStepRetriesExceeded: every allowed attempt failed.
    """
    if policy.should_retry is not None or policy.supervised:
        policy.check(func)
    plan = plan_step(policy.name, reserved)
    if plan is None:
        return func(*args, **kwargs)
    if plan.recorded is not None:
        return replay(plan.recorded)  # type: ignore[no-any-return]
    span = tracing.step_span(policy.name, plan.ctx.workflow_id, plan.function_id)
    if span is tracing.NO_SPAN:  # tracing off: no with-block around a no-op
        return _attempts_sync(plan, policy, func, args, kwargs)
    with span:
        return _attempts_sync(plan, policy, func, args, kwargs)


def _attempts_sync(plan: StepPlan, policy: StepPolicy, func: Callable[..., T], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> T:
    tries: _Attempts | None = None  # made at the first failure: the common path allocates nothing
    error: Exception | None = None
    result: Any = None
    for attempt in range(1, policy.attempts() + 1):
        token = enter_step(StepContext(plan.ctx, plan.function_id, attempt, policy.retry_limit(), policy.name))
        try:
            result, error = func(*args, **kwargs), None
            break
        except WorkflowCancelledError:
            raise
        except Exception as exc:
            wanted = policy.should_retry is None or bool(policy.should_retry(exc))
            tries = tries or _Attempts(policy)
            error = tries.give_up(attempt, exc, wanted)
            if error is None:
                _retrying(policy, attempt, exc)
        finally:
            leave_step(token)
        if error is not None:
            break
        time.sleep(policy.delay(attempt))
    return record_step_blocking(plan, policy.name, result, error)  # type: ignore[no-any-return]


async def run_step_async(policy: StepPolicy, func: Callable[..., Awaitable[T]] | Callable[..., T],
                         args: tuple[Any, ...], kwargs: dict[str, Any], reserved: int | None = None) -> T:
    """Run a step from async code; ``func`` may be sync or async.

    Raises:
        StepOptionsError: options that cannot work for ``func``.
        MaxStepRetriesExceeded: every allowed attempt failed.
        DBOSStepTimeoutError: an attempt ran past ``timeout_seconds`` (and retries, if any, are spent).
    """
    if policy.should_retry is not None or policy.supervised:
        policy.check(func)
    plan = plan_step(policy.name, reserved)
    if plan is None:
        return await _call(func, args, kwargs)  # type: ignore[no-any-return]
    if plan.recorded is not None:
        return replay(plan.recorded)  # type: ignore[no-any-return]
    with tracing.step_span(policy.name, plan.ctx.workflow_id, plan.function_id):
        return await _attempts_async(plan, policy, func, args, kwargs)


async def _attempts_async(plan: StepPlan, policy: StepPolicy, func: Callable[..., Awaitable[T]] | Callable[..., T],
                          args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    tries: _Attempts | None = None  # made at the first failure: the common path allocates nothing
    error: Exception | None = None
    result: Any = None
    supervised, limit = policy.supervised, policy.retry_limit()
    for attempt in range(1, policy.attempts() + 1):
        token = enter_step(StepContext(plan.ctx, plan.function_id, attempt, limit, policy.name))
        try:
            if supervised:
                result = await _supervised(plan.ctx, policy, func, args, kwargs)
            else:  # _call written out: one coroutine less per step
                result = func(*args, **kwargs)
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    result = await in_task(result)
            error = None
            break
        except WorkflowCancelledError:
            raise
        except Exception as exc:
            wanted = True
            if policy.should_retry is not None:
                wanted = bool(await _call(policy.should_retry, (exc,), {}))
            tries = tries or _Attempts(policy)
            error = tries.give_up(attempt, exc, wanted)
            if error is None:
                _retrying(policy, attempt, exc)
        finally:
            leave_step(token)
        if error is not None:
            break
        await asyncio.sleep(policy.delay(attempt))
    return await record_step(plan, policy.name, result, error)  # type: ignore[no-any-return]


def _retrying(policy: StepPolicy, attempt: int, exc: Exception) -> None:
    """Tell the log and the step's span that ``attempt`` failed and the step is tried again (as DBOS does)."""
    logger.warning("Step being automatically retried (attempt %d of %d): %r", attempt, policy.attempts(), exc)
    tracing.attempt_failed(attempt, exc, policy.delay(attempt))


async def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value = func(*args, **kwargs)
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        value = await in_task(value)
    return value


async def _supervised(ctx: WorkflowContext, policy: StepPolicy, func: Callable[..., Any],
                      args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One attempt of an async step run as a task, cancelled when its timeout passes or (``preemptible``)
    when its workflow is cancelled; the cancelled body's cleanup runs before the reason is raised. A body
    that finished keeps its outcome, whatever else happened; a cancellation outranks a simultaneous
    timeout (not recording the step of a cancelled workflow is the safer error)."""
    rt = ctx.runtime
    wfid = ctx.workflow_id
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(func(*args, **kwargs))
    deadline = None if policy.timeout_seconds is None else loop.time() + policy.timeout_seconds
    waiter = rt.hub.register([("wf", wfid, "")]) if policy.preemptible else None
    try:
        abort: BaseException | None = None
        if waiter is not None and wfid in rt.cancelled:
            abort = WorkflowCancelledError(wfid)
        while abort is None:
            watched: set[asyncio.Future[Any]] = {task}
            if waiter is not None:
                watched.add(waiter.future)
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(watched, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            if waiter is not None and waiter.future.done():
                rt.hub.unregister(waiter)
                waiter = rt.hub.register([("wf", wfid, "")])  # a status change; only a cancel stops the step
                if wfid in rt.cancelled:
                    abort = WorkflowCancelledError(wfid)
                continue
            if deadline is not None and loop.time() >= deadline:
                assert policy.timeout_seconds is not None
                abort = DBOSStepTimeoutError(policy.name, policy.timeout_seconds)
        task.cancel()
        await asyncio.wait({task})
        outcome = None if task.cancelled() else task.exception()
        if outcome is not None and not isinstance(outcome, Exception):
            raise outcome
        raise abort from outcome
    finally:
        if waiter is not None:
            rt.hub.unregister(waiter)
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:  # the step's own outcome no longer matters: it was abandoned
                pass
        elif not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved


async def durable_sleep(seconds: float) -> None:
    """Sleep whose wake-up time is recorded: after a crash only the remaining time is slept.
    Outside a workflow it is a plain sleep. A cancellation of the workflow ends the sleep early.

    A zero or negative ``seconds`` is no sleep and, as in DBOS, records nothing (it takes no step number).

    Raises:
        InvalidArgumentError, ArgumentTypeError: ``seconds`` is not a number up to
            :data:`~tether.engine.validation.MAX_TIMEOUT_SECONDS`.
    """
    from tether.engine.validation import wait_seconds
    from tether.errors import WorkflowCancelledError

    seconds = wait_seconds(seconds, "seconds")
    ctx = workflow_for_operation("sleep")
    if seconds <= 0:
        if ctx is not None:
            _replay_recorded_empty_sleep(ctx)
        return
    if ctx is None:
        await asyncio.sleep(seconds)
        return
    rt = ctx.runtime
    fid = ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        wake_ms = int(deserialize(rec.output))
    else:
        now = rt.clock.now_ms()
        wake_ms = now + max(1, int(seconds * 1000))  # after its start: not a sleep of no time
        prior = await rt.checkpoint(RecordOperation(ctx.workflow_id, OperationRow(
            function_id=fid, function_name="DBOS.sleep", output=serialize(wake_ms), started_at=now,
            completed_at=wake_ms)))  # as DBOS shows it: the sleep's span is the time slept
        if prior is not None:
            wake_ms = int(deserialize(prior.output))

    def cancelled() -> None:
        if ctx.workflow_id in rt.cancelled:
            raise WorkflowCancelledError(ctx.workflow_id)

    async def never() -> bool | None:
        cancelled()
        return None

    await rt.wait_until([("wf", ctx.workflow_id, "")], never, wake_ms)


def _replay_recorded_empty_sleep(ctx: WorkflowContext) -> None:
    """Earlier Tether versions recorded a sleep of no time as a ``DBOS.sleep`` whose wake-up is its start: a
    workflow recorded then and recovered now takes that row as this call, so its later operations keep the
    numbers they were recorded under. Nothing is taken otherwise (a later sleep's row has a wake-up after its
    start)."""
    rec = ctx.recorded.get(ctx.last_function_id + 1)
    if rec is not None and rec.function_name == "DBOS.sleep" and rec.started_at is not None \
            and rec.completed_at is not None and rec.completed_at <= rec.started_at:
        ctx.next_function_id()


def recorded_under_another_name(name: str) -> bool:
    """Whether the calling workflow's next operation was recorded under another name than ``name``. For an
    operation earlier Tether versions did not record (``DBOS.getStatus`` of ``retrieve_workflow``): a workflow
    recorded then and recovered now makes the call unrecorded, so its later operations keep their numbers."""
    ctx = workflow_for_operation(name)
    if ctx is None:
        return False
    rec = ctx.recorded.get(ctx.last_function_id + 1)
    return rec is not None and rec.function_name != name


async def as_operation(name: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` as the recorded operation ``name`` when called from a workflow (the way DBOS records
    management calls made inside workflows: ``DBOS.listWorkflows``, ``DBOS.cancelWorkflow``, ...): recovery
    replays the recorded outcome instead of calling again. Elsewhere (or inside a step) a plain call."""
    if workflow_for_operation(name) is None:
        return await fn()
    return await run_step_async(StepPolicy(name), fn, (), {})


@dataclass
class Reservation:
    """A step number drawn now and run later, exactly once, in the same workflow (``DBOS.reserve_step``)."""

    ctx: WorkflowContext
    step_id: int
    used: bool = False

    def claim(self) -> int:
        """The reserved number, once.

        Raises:
            TetherError: already run, or not called from the reserving workflow outside any step.
        """
        if self.used:
            raise TetherError("A step reservation can only be run once")
        here = workflow_for_operation("reserved step")
        if here is None or here.workflow_id != self.ctx.workflow_id:
            raise TetherError(f"Step {self.step_id} was reserved in workflow {self.ctx.workflow_id} "
                              "and must be run from that workflow, outside any step")
        self.used = True
        return self.step_id


def reserve_step() -> Reservation:
    """Draw the next step number of the calling workflow, to run a step at it later.

    Raises:
        NotInWorkflowError: not called from a workflow (or from inside a step).
    """
    ctx = require_workflow("DBOS.reserve_step")
    return Reservation(ctx, ctx.next_function_id())
