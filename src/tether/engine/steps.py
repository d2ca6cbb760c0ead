"""Steps: run a function once per workflow position, record its outcome, replay it on recovery.

The retry loop exists in a sync and an async shell (the only difference is how the user's function is called
and how the pause is taken); what to replay and what to record is decided here once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tether.engine.bridge import run_sync
from tether.engine.context import (
    StepContext,
    WorkflowContext,
    enter_step,
    leave_step,
    workflow_for_operation,
)
from tether.engine.registry import StepPolicy
from tether.errors import MaxStepRetriesExceeded
from tether.serialization import deserialize, deserialize_error, serialize, serialize_error
from tether.storage.base import OperationRow

T = TypeVar("T")


@dataclass
class StepPlan:
    ctx: WorkflowContext
    function_id: int
    started_at: int
    recorded: OperationRow | None


def plan_step() -> StepPlan | None:
    """None: run the function plainly (outside a workflow, or nested in a step)."""
    ctx = workflow_for_operation("step")
    if ctx is None:
        return None
    fid = ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is None:
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
    rt = plan.ctx.runtime
    fmt = plan.ctx.serialization
    row = OperationRow(function_id=plan.function_id, function_name=name, started_at=plan.started_at,
                       completed_at=rt.clock.now_ms())
    if error is None:
        row.output = serialize(result, fmt)
    else:
        row.error = serialize_error(error, fmt)
    prior = await rt.io(rt.store.record_operation, plan.ctx.workflow_id, row)
    if prior is not None:
        return replay(prior)
    if error is not None:
        raise error
    return result


def _final_error(policy: StepPolicy, exc: Exception) -> Exception:
    if policy.retries_allowed:
        return MaxStepRetriesExceeded(policy.name, policy.attempts(), exc)
    return exc


def run_step_sync(policy: StepPolicy, func: Callable[..., T], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> T:
    plan = plan_step()
    if plan is None:
        return func(*args, **kwargs)
    if plan.recorded is not None:
        return replay(plan.recorded)  # type: ignore[no-any-return]
    error: Exception | None = None
    result: Any = None
    for attempt in range(1, policy.attempts() + 1):
        token = enter_step(StepContext(plan.ctx, plan.function_id, attempt, policy.retry_limit()))
        try:
            result, error = func(*args, **kwargs), None
            break
        except Exception as exc:
            error = exc
        finally:
            leave_step(token)
        if attempt < policy.attempts():
            time.sleep(policy.delay(attempt))
    if error is not None:
        error = _final_error(policy, error)
    return run_sync(record_step(plan, policy.name, result, error))  # type: ignore[no-any-return]


async def run_step_async(policy: StepPolicy, func: Callable[..., Awaitable[T]] | Callable[..., T],
                         args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    plan = plan_step()
    if plan is None:
        return await _call(func, args, kwargs)  # type: ignore[no-any-return]
    if plan.recorded is not None:
        return replay(plan.recorded)  # type: ignore[no-any-return]
    error: Exception | None = None
    result: Any = None
    for attempt in range(1, policy.attempts() + 1):
        token = enter_step(StepContext(plan.ctx, plan.function_id, attempt, policy.retry_limit()))
        try:
            result, error = await _call(func, args, kwargs), None
            break
        except Exception as exc:
            error = exc
        finally:
            leave_step(token)
        if attempt < policy.attempts():
            await asyncio.sleep(policy.delay(attempt))
    if error is not None:
        error = _final_error(policy, error)
    return await record_step(plan, policy.name, result, error)  # type: ignore[no-any-return]


async def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value = func(*args, **kwargs)
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        value = await value
    return value


async def durable_sleep(seconds: float) -> None:
    """Sleep whose wake-up time is recorded: after a crash only the remaining time is slept.
    Outside a workflow it is a plain sleep. A cancellation of the workflow ends the sleep early."""
    from tether.errors import WorkflowCancelledError

    ctx = workflow_for_operation("sleep")
    if ctx is None:
        await asyncio.sleep(max(0.0, seconds))
        return
    rt = ctx.runtime
    fid = ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        wake_ms = int(deserialize(rec.output))
    else:
        now = rt.clock.now_ms()
        wake_ms = now + int(max(0.0, seconds) * 1000)
        prior = await rt.io(rt.store.record_operation, ctx.workflow_id, OperationRow(
            function_id=fid, function_name="DBOS.sleep", output=serialize(wake_ms), started_at=now,
            completed_at=now))
        if prior is not None:
            wake_ms = int(deserialize(prior.output))

    def cancelled() -> None:
        if ctx.workflow_id in rt.cancelled:
            raise WorkflowCancelledError(ctx.workflow_id)

    async def never() -> bool | None:
        cancelled()
        return None

    await rt.wait_until([("wf", ctx.workflow_id, "")], never, wake_ms)
