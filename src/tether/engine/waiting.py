"""Waiting on several things at once: the first of many workflows to end, and a durable ``asyncio.wait``.

Inside a workflow both are recorded operations, so a recovered workflow sees the same outcome (the same
first workflow, the same split of done and pending futures) however the timing falls the second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from tether.engine.context import workflow_for_operation
from tether.engine.runtime import Runtime
from tether.serialization import deserialize, serialize
from tether.storage.base import OperationRow, WorkflowFilter
from tether.storage.checkpoints import RecordOperation
from tether.types import TERMINAL_STATUSES


async def wait_first(rt: Runtime, workflow_ids: Sequence[str], polling_interval_sec: float = 1.0, *,
                     record: bool = True) -> str:
    """Wait until one of the workflows has ended and return its ID (the earliest to end when several have).

    Woken by the workflows' status changes; ``polling_interval_sec`` only bounds the wait for a lost wake-up.
    Without ``record`` (a client's wait) nothing is checkpointed even when called inside a workflow.

    Raises:
        ValueError: ``workflow_ids`` is empty.
    """
    ids = list(workflow_ids)
    if not ids:
        raise ValueError("wait_first needs at least one handle")
    ctx = workflow_for_operation("wait_first") if record else None
    fid = None
    if ctx is not None:
        fid = ctx.next_function_id()
        rec = ctx.recorded.get(fid)
        if rec is not None and rec.completed_at is not None:
            return str(deserialize(rec.output))
    started = rt.clock.now_ms()
    flt = WorkflowFilter(workflow_ids=ids, status=sorted(TERMINAL_STATUSES), load_input=False, load_output=False)
    while True:
        waiter = rt.hub.register([("wf", wfid, "") for wfid in ids], parks=True)
        try:
            done = await rt.io(rt.store.list_workflows, flt)
            if done:
                order = {wfid: i for i, wfid in enumerate(ids)}
                first = min(done, key=lambda r: (r.updated_at, order[r.workflow_uuid])).workflow_uuid
                break
            await rt.hub.wait(waiter, max(0.01, polling_interval_sec))
        finally:
            rt.hub.unregister(waiter)
    if ctx is not None and fid is not None:
        prior = await rt.checkpoint(RecordOperation(ctx.workflow_id, OperationRow(
            function_id=fid, function_name="DBOS.waitFirst", output=serialize(first, ctx.serialization),
            started_at=started, completed_at=rt.clock.now_ms())))
        if prior is not None:
            return str(deserialize(prior.output))
    return first


async def asyncio_wait(fs: Sequence[Awaitable[Any]], *, timeout: float | None = None,
                       return_when: str = asyncio.ALL_COMPLETED
                       ) -> tuple[set[asyncio.Future[Any]], set[asyncio.Future[Any]]]:
    """``asyncio.wait`` whose split into done and pending is checkpointed inside a workflow. On replay the
    futures recorded as done are awaited until they are done again, and the others are returned as pending.
    Outside a workflow (or inside a step) it is plain ``asyncio.wait``.

    Raises:
        ValueError: ``fs`` is empty or ``return_when`` is not an asyncio constant.
    """
    if not fs:
        raise ValueError("asyncio_wait needs at least one awaitable")
    if return_when not in (asyncio.ALL_COMPLETED, asyncio.FIRST_COMPLETED, asyncio.FIRST_EXCEPTION):
        raise ValueError(f"Invalid return_when value: {return_when!r}")
    ctx = workflow_for_operation("asyncio_wait")
    fid = ctx.next_function_id() if ctx is not None else None
    tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(f) for f in fs]
    if ctx is None or fid is None:
        done, pending = await asyncio.wait(tasks, timeout=timeout, return_when=return_when)
        return set(done), set(pending)
    rt = ctx.runtime
    # Let the awaitables start (and take their step numbers) before anything else of this workflow can, on
    # the first run as on a replay, where the recorded split returns at once: the numbering then agrees.
    await asyncio.sleep(0)
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        return await _replay_split(tasks, deserialize(rec.output))
    started = rt.clock.now_ms()
    done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=return_when)
    indexes = [i for i, t in enumerate(tasks) if t in done]
    prior = await rt.checkpoint(RecordOperation(ctx.workflow_id, OperationRow(
        function_id=fid, function_name="DBOS.asyncio_wait", output=serialize(indexes, ctx.serialization),
        started_at=started, completed_at=rt.clock.now_ms())))
    if prior is not None:
        indexes = list(deserialize(prior.output))
    return await _replay_split(tasks, indexes)


async def _replay_split(tasks: list[asyncio.Future[Any]], indexes: Sequence[int]
                        ) -> tuple[set[asyncio.Future[Any]], set[asyncio.Future[Any]]]:
    chosen = set(indexes)
    done = {t for i, t in enumerate(tasks) if i in chosen}
    if done:
        await asyncio.wait(done)
    return done, {t for i, t in enumerate(tasks) if i not in chosen}
