"""Queues and delayed starts: the per-process runner that moves workflows from ENQUEUED (or due DELAYED) to
PENDING and runs them.

Admission is decided inside one claiming transaction per queue (:meth:`Store.claim_queued`): on PostgreSQL a
per-queue advisory lock serializes the claimers of a queue with a global ``concurrency`` or rate ``limiter``,
so the counts they read stay true across every process; ``FOR UPDATE SKIP LOCKED`` lets unlimited queues claim
in parallel without taking a workflow twice. On SQLite ``BEGIN IMMEDIATE`` serializes all claims.

The runner wakes on status changes of any workflow (an enqueue, a completion, a moved delay), through the one
wake-up path, and otherwise re-checks every :data:`QUEUE_POLL_SECONDS` (a fallback for lost wake-ups; rate
limited queues re-check at least four times per period, delayed workflows exactly when they are due). A pass
first reads, without locks, which queues hold ENQUEUED work, and opens a claiming transaction only for those;
passes start at most every :data:`MIN_PASS_SECONDS`, so a burst of completions costs one pass.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass

from tether.engine import tracing
from tether.engine.auth import decode_roles
from tether.engine.bridge import inline_io
from tether.engine.inputs import execution_args
from tether.engine.queue_settings import CHANGED_KEY, directory
from tether.engine.registry import RegisteredWorkflow, lookup_workflow
from tether.engine.runtime import ANY_STATUS_KIND, Runtime, logger
from tether.engine.starts import Start
from tether.engine.workflows import launch_in_background
from tether.errors import TetherError
from tether.storage.base import QueuePolicy, WorkflowFilter, WorkflowRow
from tether.types import TERMINAL_STATUSES, WorkflowStatusString

QUEUE_POLL_SECONDS = 1.0
"""Fallback interval at which a queue runner looks for work without having been woken."""

STOP_WAIT_SECONDS = 300.0
"""How long a restart (resume, or a claim of a resumed workflow) waits for a cancelled execution in this
process to reach its next operation and stop."""

MIN_PASS_SECONDS = 0.005
"""Shortest time between two passes of a runner (wake-ups arriving meanwhile are served by the next pass)."""

LOCK_POLL_SECONDS = 0.002
"""How often a start waiting for a recovery to release the start lock looks again."""

INTERNAL_QUEUE = "_tether_internal"
"""Served by every process: where resumed and forked workflows go when this process cannot run them."""

_queues: dict[str, QueuePolicy] = {INTERNAL_QUEUE: QueuePolicy(INTERNAL_QUEUE)}


def register_queue(policy: QueuePolicy) -> None:
    """Make this process serve a queue (the last definition of a name wins)."""
    _queues[policy.name] = policy


def registered_queue(name: str) -> QueuePolicy | None:
    return _queues.get(name)


def declared_queues() -> dict[str, QueuePolicy]:
    """The queues declared in this process's code (``Queue(...)``), by name (a copy)."""
    return dict(_queues)


_WORK_KEYS = [(ANY_STATUS_KIND, "*", s) for s in (WorkflowStatusString.ENQUEUED.value,
                                                  WorkflowStatusString.DELAYED.value)]
_DONE_KEYS = [(ANY_STATUS_KIND, "*", s) for s in sorted(TERMINAL_STATUSES)]


@dataclass
class _Pass:
    """What one pass of the runner found: when it should look again at the latest (epoch ms), and whether
    any served queue held work (only then can a workflow's end free a slot worth a new pass)."""

    next_due_ms: int | None = None
    had_work: bool = False
    poll_s: float = QUEUE_POLL_SECONDS

    def due(self, at_ms: int | None) -> None:
        if at_ms is not None and (self.next_due_ms is None or at_ms < self.next_due_ms):
            self.next_due_ms = at_ms


async def run_queues(rt: Runtime) -> None:
    """The runner loop; runs until cancelled (at ``Runtime.close``)."""
    loop = asyncio.get_running_loop()
    while not rt.destroyed:
        pass_started = loop.time()
        # Registered before the pass, so no enqueue or end can fall between the pass's reads and the wait.
        work = rt.hub.register(_WORK_KEYS)
        changed = rt.hub.register([CHANGED_KEY])  # a queue's settings changed (here or in another process)
        done = rt.hub.register(_DONE_KEYS)
        done_registered = True
        try:
            found = _Pass()
            try:
                await run_once(rt, found)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: log it and try again at the next wake-up or poll
                if rt.destroyed:
                    return
                logger.exception("Queue runner pass failed")
                found.had_work = True
            deadline = loop.time() + found.poll_s
            if found.next_due_ms is not None:
                deadline = min(deadline, loop.time() + (found.next_due_ms - rt.clock.now_ms()) / 1000)
            # A workflow's end can only free a slot worth a new pass while some queue holds work; otherwise
            # only an enqueue (or a due delay, or the poll) starts the next pass.
            waiting_on = {work.future, changed.future}
            if found.had_work:
                waiting_on.add(done.future)
            else:
                rt.hub.unregister(done)  # so workflow ends do not even wake this loop
                done_registered = False
            await asyncio.wait(waiting_on, timeout=max(0.0, deadline - loop.time()),
                               return_when=asyncio.FIRST_COMPLETED)
            if changed.future.done():
                directory(rt).loaded_at = None  # re-read the registry on the next pass
        finally:
            rt.hub.unregister(work)
            rt.hub.unregister(changed)
            if done_registered:
                rt.hub.unregister(done)
        # Many status changes in a burst make one pass, not one each: passes start at most this often.
        await asyncio.sleep(max(0.0, MIN_PASS_SECONDS - (loop.time() - pass_started)))


def start_queue_runner(rt: Runtime) -> None:
    """Start this process's queue runner on the runtime's background loop."""
    rt.submit_to_loop(run_queues(rt))


async def run_once(rt: Runtime, found: _Pass | None = None) -> int:
    """One pass: promote due delayed workflows, then claim and launch what each queue with work admits.
    Returns how many workflows were launched."""
    found = found or _Pass()
    launched = 0
    next_due = await rt.io(rt.store.next_delay_ms)
    now_us = rt.clock.now_us()
    now = now_us // 1000
    if next_due is not None and next_due <= now:
        launched += await _promote_delayed(rt, now_us)
        # What is still due here was skipped (its function lives in another process): it is looked at again
        # on the next wake-up or poll, and the timer waits for the next workflow to come due.
        next_due = await rt.io(rt.store.next_delay_ms, now)
    found.due(next_due)
    d = directory(rt)
    if d.stale(time.monotonic()):
        d.stored = {p.name: p for p in await rt.io(rt.store.list_queues)}
        d.loaded_at = time.monotonic()
    policies = d.served(rt.settings.name, _queues.values(), [INTERNAL_QUEUE])
    busy = await rt.io(rt.store.queues_with_work, [p.name for p in policies])
    found.had_work = bool(busy)
    now_us = rt.clock.now_us()
    now = now_us // 1000
    claim = functools.partial(rt.store.claim_queued, now_us=now_us)
    for policy in policies:
        found.poll_s = min(found.poll_s, policy.polling_interval_ms / 1000)
        if policy.name not in busy:
            continue
        (rows, d.cursors[policy.name]), faulted = await rt.io_noting_faults(
            claim, policy, rt.settings.executor_id, rt.application_version, now, d.cursors.get(policy.name))
        if faulted:
            rows = rows + await _claimed_before_the_fault(rt, policy.name, now, rows)
        for row in rows:
            rt.notify("wf", row.workflow_uuid, row.status)  # ENQUEUED -> PENDING, for this process's waiters
            launched += await dispatch(rt, row)
        for limit, period_ms in ((policy.limit, policy.period_ms),
                                 (policy.partition_limit, policy.partition_period_ms)):
            if limit is not None and period_ms is not None:
                found.due(now + max(1, period_ms // 4))
    return launched


async def _claimed_before_the_fault(rt: Runtime, queue_name: str, now: int, rows: list[WorkflowRow]
                                    ) -> list[WorkflowRow]:
    """A claim retried after its connection was lost may have committed the first time without this process
    hearing of it: those workflows are PENDING under this executor, stamped with this pass's time, and run by
    nobody. Find them, so that they are run now rather than at the next launch."""
    seen = {r.workflow_uuid for r in rows}
    mine = await rt.io(rt.store.list_workflows, WorkflowFilter(
        status=[WorkflowStatusString.PENDING.value], queue_name=[queue_name], executor_id=[rt.settings.executor_id]))
    return [r for r in mine if r.started_at_epoch_ms == now and r.workflow_uuid not in seen
            and r.workflow_uuid not in rt.active]


async def _promote_delayed(rt: Runtime, now_us: int) -> int:
    now, launched = now_us // 1000, 0
    # Each promotion re-checks the delay, so one moved back since this read keeps the workflow waiting.
    for row in await rt.io(rt.store.due_delayed, now):
        if row.queue_name is not None:
            if await rt.io(rt.store.promote_delayed, row.workflow_uuid, now):
                rt.notify("wf", row.workflow_uuid, WorkflowStatusString.ENQUEUED.value)
            continue
        if lookup_workflow(row.name) is None:
            continue  # a process that has this function registered will start it
        if await rt.io(rt.store.promote_delayed, row.workflow_uuid, now, start_executor=rt.settings.executor_id,
                       app_version=rt.application_version, now_us=now_us):
            full = await rt.io(rt.store.get_workflow, row.workflow_uuid)
            if full is not None:
                rt.notify("wf", row.workflow_uuid, full.status)
                launched += await dispatch(rt, full)
    return launched


async def dispatch(rt: Runtime, row: WorkflowRow) -> int:
    """Run a workflow this process has just claimed (PENDING, owned here), from its checkpoints if any."""
    reg = lookup_workflow(row.name)
    if reg is None:
        # Putting it back would let every runner claim it again at once; it stays PENDING here, and this
        # executor's recovery runs it once a process with the function registered launches under its ID.
        logger.error("Claimed workflow %s runs %r, which is not registered in this process",
                     row.workflow_uuid, row.name)
        return 0
    if not await _mark_running(rt, row.workflow_uuid):
        # An earlier execution here (cancelled, say) has not reached its next operation yet, or a recovery has
        # just started one: start this one once it has stopped (it finds the workflow ended if it ran to the
        # end), without holding up the caller.
        rt.submit_to_loop(_start_when_stopped(rt, row, reg))
        return 1
    return await _start(rt, row, reg)


async def _mark_running(rt: Runtime, wfid: str) -> bool:
    """Count ``wfid`` as running here, unless something already runs it here (then False). Checked and marked
    under the start lock, which a recovery holds from its claim of a workflow to its mark
    (engine/recovery.py): otherwise a workflow claimed here could be started both by this process's queue
    runner (or a resume, a fork) and by a recovery that found it PENDING and not yet running here. The lock
    is taken without blocking the loop: a recovery holds it through its database reads."""
    while not rt.start_lock.acquire(blocking=False):
        await asyncio.sleep(LOCK_POLL_SECONDS)
    try:
        if wfid in rt.active:
            return False
        rt.active[wfid] = True
        return True
    finally:
        rt.start_lock.release()


async def _start_when_stopped(rt: Runtime, row: WorkflowRow, reg: RegisteredWorkflow) -> None:
    while await wait_stopped(rt, row.workflow_uuid):
        if await _mark_running(rt, row.workflow_uuid):
            await _start(rt, row, reg)
            return
    logger.error("Workflow %s is still running here; not starting it a second time", row.workflow_uuid)


async def _start(rt: Runtime, row: WorkflowRow, reg: RegisteredWorkflow) -> int:
    """Start a workflow marked as running here (:func:`_mark_running`) if it is still PENDING."""
    wfid = row.workflow_uuid
    # Counted as running here before the last look at its status: a cancellation from now on is caught by
    # Runtime._on_wakeup (it only marks workflows active here), one before it by the look.
    rt.cancelled.discard(wfid)  # left by an earlier, cancelled execution (the look below sees a newer cancel)
    try:
        now = await rt.io(rt.store.get_workflow, wfid, load_input=False, load_output=False)
        if now is None or now.status != WorkflowStatusString.PENDING.value:
            rt.active.pop(wfid, None)
            return 0
        recorded = {op.function_id: op for op in await rt.io(rt.store.load_operations, wfid)}
    except BaseException:
        rt.active.pop(wfid, None)
        raise
    try:
        args, kwargs = execution_args(row)
    except TetherError as exc:
        rt.active.pop(wfid, None)
        logger.error("Cannot start workflow %s: %s", wfid, exc)
        return 0
    start = Start(wfid, True, reg, args, kwargs, recorded, row.workflow_deadline_epoch_ms,
                  from_storage=True, trace_context=tracing.stored_context(row.trace_context, row.attributes),
                  queue_name=row.queue_name, authenticated_user=row.authenticated_user,
                  authenticated_roles=decode_roles(row.authenticated_roles), assumed_role=row.assumed_role)
    main = directory(rt).main_loop
    if reg.is_async and main is not None and main.is_running() and not main.is_closed():
        # DBOS was launched from a running event loop: dequeued async workflows run on that loop, as the
        # application's own async code does.
        main.call_soon_threadsafe(launch_in_background, rt, start)
    elif inline_io():
        # Called through the sync bridge, whose loop stops with the call: run it from the runtime's loop.
        rt.loop.call_soon_threadsafe(launch_in_background, rt, start)
    else:
        launch_in_background(rt, start)
    return 1


async def wait_stopped(rt: Runtime, wfid: str, timeout_s: float = STOP_WAIT_SECONDS) -> bool:
    """Wait until no execution of ``wfid`` runs in this process; False if one still does after the timeout.

    A cancelled execution stops at its next operation, which may be a while if it is inside a long step. Its
    end is in-memory state with no wake-up of its own, so this polls it (every 10 ms).
    """
    deadline = rt.clock.now() + timeout_s
    while wfid in rt.active:
        if rt.clock.now() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True
