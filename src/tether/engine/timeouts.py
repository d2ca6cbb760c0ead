"""Workflow deadlines: a workflow started with a timeout (``SetWorkflowTimeout``, ``EnqueueOptions
["workflow_timeout"]``, ``fork_workflow(timeout_seconds=)``) is cancelled, with its children, once its deadline
passes. The deadline is stored with the workflow, so it survives recovery; a queued workflow's is counted from
the moment it is dequeued. Children started without a timeout of their own inherit their parent's deadline.

Each execution with a deadline arms one timer on the runtime's loop (no polling); when it fires, the
workflow and its descendants are cancelled the usual way (status CANCELLED, the execution stops at its next
operation, a preemptible step at once).
"""

from __future__ import annotations

import asyncio

from tether.engine.runtime import Runtime, logger


def start_deadline(now_ms: int, timeout_ms: int | None, queued: bool, inherited_ms: int | None,
                   own_block: bool) -> int | None:
    """The deadline a new workflow gets (a pure rule). An explicit timeout counts from now, or for a queued
    (or delayed) workflow from its dequeue (None here); a ``SetWorkflowTimeout`` block opened around the start
    (``own_block``) overrides an inherited deadline even with no timeout; otherwise the parent's deadline
    carries over."""
    if timeout_ms is not None:
        return None if queued else now_ms + timeout_ms
    if own_block:
        return None
    return inherited_ms


def arm(rt: Runtime, workflow_id: str, deadline_ms: int) -> None:
    """Cancel ``workflow_id`` (and its children) at ``deadline_ms`` unless it has ended by then."""
    delay = max(0.0, (deadline_ms - rt.clock.now_ms()) / 1000)

    def fire() -> None:
        rt.spawn(expire(rt, workflow_id))

    try:
        rt.loop.call_soon_threadsafe(rt.loop.call_later, delay, fire)
    except RuntimeError:  # the runtime is shutting down; recovery re-arms it
        pass


async def expire(rt: Runtime, workflow_id: str) -> None:
    """The deadline of ``workflow_id`` has passed: cancel it and its descendants if it is still active."""
    from tether.engine.management import cancel_workflows
    from tether.types import TERMINAL_STATUSES

    try:
        row = await rt.io(rt.store.get_workflow, workflow_id, load_input=False, load_output=False)
        if row is None or row.status in TERMINAL_STATUSES:
            return  # it ended in time: its children keep their own deadlines (or none)
        cancelled = await cancel_workflows(rt, [workflow_id], cancel_children=True)
    except asyncio.CancelledError:
        raise
    except Exception:  # a deadline must not take the process down; the next recovery re-arms it
        logger.exception("Could not cancel workflow %s at its deadline", workflow_id)
        return
    if cancelled:
        logger.info("Workflow %s passed its deadline and was cancelled", workflow_id)
