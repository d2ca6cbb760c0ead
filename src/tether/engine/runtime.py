"""The runtime: one object per launched application that owns the store, the wake-up hub, the listener,
the I/O pool, the background event loop and the set of workflows running in this process."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import logging
import math
import random
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from tether.config import Settings
from tether.engine.bridge import close_thread_loop, inline_io, run_sync
from tether.engine.clock import Clock, SystemClock
from tether.engine.context import current_workflow
from tether.engine.groupcommit import GroupCommit, commit_writers
from tether.engine.handoff import EventBoard, Handoffs
from tether.engine.outage import OutageLog, gives_up, retry_delay
from tether.engine.recheck import recheck_forever, recheck_waiters
from tether.engine.threads import DaemonExecutor, WorkerThreads
from tether.engine.waiters import Key, WakeupHub, default_mark
from tether.errors import DatabaseUnavailableError, NotLaunchedError, TetherError
from tether.storage import Listener, Store, open_store
from tether.storage.base import WorkflowRow
from tether.storage.checkpoints import Checkpoint
from tether.storage.provision import create_database as create_database  # run by launch() first

T = TypeVar("T")
logger = logging.getLogger("tether")

# How many outcomes of workflows that ended in this process are kept for get_result.
_RECENT_OUTCOMES = 4096
# How many starts made here are remembered (see Runtime.own_start): enough for the starts of the longest ride-out
# of a fault, since few starts succeed during one.
_RECENT_STARTS = 65536
# Wake-up kind for "any workflow changed to status <key>" (registered with workflow id "*").
ANY_STATUS_KIND = "wf-any"
# After the listener reconnects, waiters outside the batched re-check (engine/recheck.py) re-check in batches
# of this many, this far apart, so that they do not all query the database at the same instant.
RECHECK_BATCH = 200
RECHECK_PAUSE_SECONDS = 0.02


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.hub = WakeupHub()
        self.handoffs = Handoffs()  # recvs parked here, to which a send hands its message directly
        self.event_board = EventBoard()  # get_event readers parked here, handed the values set here
        self.cancelled: set[str] = set()
        self.active: dict[str, Any] = {}  # IDs of the workflows running (or about to run) here -> True
        # Held by whatever starts a workflow here while it checks that nothing runs it here yet and marks it
        # active: a recovery (launch's, and the heartbeat thread's adoptions, may look at the same workflow at
        # once) from its pick to its mark, a stranded workflow's re-run, and a dispatch (a queue claim, a
        # resume, a fork: engine/queues.py ``_mark_running``).
        self.start_lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        # workflow id -> (status, name, output, error): made into a WorkflowRow only when read
        self._outcomes: collections.OrderedDict[str, tuple[str, str, bytes | None, bytes | None]] = \
            collections.OrderedDict()
        self._live_errors: dict[str, BaseException] = {}  # the exception objects of kept ERROR outcomes
        self._outcomes_lock = threading.Lock()
        self._starts: collections.OrderedDict[tuple[str, int], None] = collections.OrderedDict()
        self.stranded: set[str] = set()  # executions that ended without an outcome, to be run again here
        self.outage = OutageLog()
        self.store: Store = open_store(settings.database, pool_size=settings.db_pool_size,
                                       poll_interval=settings.sqlite_poll_interval_sec,
                                       busy_timeout=settings.sqlite_busy_timeout_sec)
        self._io_pool = DaemonExecutor(settings.db_pool_size)
        self.commits = GroupCommit(self.store, self._io_pool.post, writers=commit_writers(settings.db_pool_size))
        self._workers = WorkerThreads(settings.max_executor_threads, on_retire=close_thread_loop)
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._run_loop, name="tether-loop", daemon=True)
        self._loop_thread.start()
        self._listener: Listener = self.store.listener()
        self._listener.start(self._on_remote_wakeup, self._on_listener_reconnect)
        self.application_version = settings.application_version
        self.destroyed = False
        # Ownership (engine/heartbeat.py): this process's registered ID, its membership (None until launched),
        # the monotonic time until which it may start operations, and executions stopped because their
        # workflow may belong to another process now.
        self.process_id: str | None = None
        self.membership: Any = None
        self.lease_valid_until = math.inf
        self.preempted: set[str] = set()
        self.submit_to_loop(recheck_forever(self))  # the safety net against a lost wake-up

    # -- plumbing ----------------------------------------------------------------------------------------
    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking storage call: inline on a bridge loop, on the I/O pool from a shared loop. A call
        that meets a database outage is tried again until the database is back (see ``engine/outage.py``).

        Raises:
            NotLaunchedError: the runtime was destroyed.
        """
        if self.destroyed:
            raise NotLaunchedError("DBOS has been destroyed")
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        try:
            if inline_io():
                return fn(*args)
            return await self._io_pool.run(fn, *args)
        except DatabaseUnavailableError as exc:
            return (await self._ride_out(exc, fn, args, None))[0]

    async def io_until(self, deadline_ms: int | None, fn: Callable[..., T], *args: Any) -> T:
        """Like :meth:`io`, for a caller outside workflows with a timeout of its own: in an outage it gives up
        at ``deadline_ms`` (epoch ms of the runtime's clock) rather than waiting for the database for good.
        Inside a workflow the deadline is ignored: workflow code never sees an outage.

        Raises:
            NotLaunchedError: the runtime was destroyed.
            DatabaseUnavailableError: the database was still unavailable at ``deadline_ms``.
        """
        if self.destroyed:
            raise NotLaunchedError("DBOS has been destroyed")
        try:
            return await self._call(fn, args)
        except DatabaseUnavailableError as exc:
            bound = deadline_ms if current_workflow() is None else None
            return (await self._ride_out(exc, fn, args, bound))[0]

    async def io_noting_faults(self, fn: Callable[..., T], *args: Any) -> tuple[T, bool]:
        """Like :meth:`io`, and also tell whether a try failed on the way. A write whose connection was lost
        may have committed before the loss; the few callers for which that matters check what they find."""
        if self.destroyed:
            raise NotLaunchedError("DBOS has been destroyed")
        try:
            return await self._call(fn, args), False
        except DatabaseUnavailableError as exc:
            return await self._ride_out(exc, fn, args, None)

    async def checkpoint(self, item: Checkpoint[T]) -> T:
        """Write a workflow's checkpoint (its start, a step's outcome, its end) through group commit: it may
        share a transaction with other workflows' checkpoints, and returns once that has committed. In an
        outage the checkpoint is tried again alone, as :meth:`io` does.

        Raises:
            NotLaunchedError: the runtime was destroyed.
            The errors of the checkpoint's store method (its own failure, never another checkpoint's).
        """
        if self.destroyed:  # checkpoint_noting_faults written out: one coroutine less per step on the way
            raise NotLaunchedError("DBOS has been destroyed")
        try:
            return await self.commits.write(item)
        except DatabaseUnavailableError as exc:
            return (await self._ride_out(exc, item.alone, (self.store,), None))[0]

    def checkpoint_blocking(self, item: Checkpoint[T]) -> T:
        """:meth:`checkpoint` from synchronous code on a thread where no event loop runs (see
        :func:`~tether.engine.bridge.loop_free`), without a coroutine: what ``run_sync(self.checkpoint(item))``
        does there, a sync step's checkpoint being the commonest write of all.

        Raises:
            NotLaunchedError: the runtime was destroyed.
            The errors of the checkpoint's store method (its own failure, never another checkpoint's).
        """
        if self.destroyed:
            raise NotLaunchedError("DBOS has been destroyed")
        try:
            return self.commits.write_blocking(item)
        except DatabaseUnavailableError as exc:
            return run_sync(self._ride_out(exc, item.alone, (self.store,), None))[0]

    def checkpoint_noting_faults_blocking(self, item: Checkpoint[T]) -> tuple[T, bool]:
        """:meth:`checkpoint_noting_faults` as :meth:`checkpoint_blocking` does :meth:`checkpoint`."""
        if self.destroyed:
            raise NotLaunchedError("DBOS has been destroyed")
        try:
            return self.commits.write_blocking(item), False
        except DatabaseUnavailableError as exc:
            return run_sync(self._ride_out(exc, item.alone, (self.store,), None))

    async def checkpoint_noting_faults(self, item: Checkpoint[T]) -> tuple[T, bool]:
        """:meth:`checkpoint`, also telling whether a try failed on the way (see :meth:`io_noting_faults`)."""
        if self.destroyed:
            raise NotLaunchedError("DBOS has been destroyed")
        try:
            return await self.commits.write(item), False
        except DatabaseUnavailableError as exc:
            return await self._ride_out(exc, item.alone, (self.store,), None)

    async def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if inline_io():
            return fn(*args)
        return await self._io_pool.run(fn, *args)

    async def _ride_out(self, exc: DatabaseUnavailableError, fn: Callable[..., T], args: tuple[Any, ...],
                        deadline: int | None) -> tuple[T, bool]:
        attempt = 0
        while True:
            delay = retry_delay(attempt, random.random())
            if self.destroyed or gives_up(self.clock.now_ms(), delay, deadline):
                raise exc
            self.outage.failed(exc)
            await asyncio.sleep(delay)
            attempt += 1
            try:
                result = await self._call(fn, args)
            except DatabaseUnavailableError as again:
                exc = again
                continue
            self.outage.recovered()
            return result, True

    def _on_remote_wakeup(self, kind: str, workflow_id: str, key: str) -> None:
        """A wake-up from the listener: another process's write, or a late echo of one of ours."""
        if kind == "proc":  # a process stopped: adopt its workflows now rather than at the next heartbeat
            if self.membership is not None and workflow_id != self.process_id:
                self.membership.poke()
            return
        if kind == "wf" and key == "CANCELLED" and workflow_id in self.active:
            # Trust only the status stored now: a late echo of a cancel must not stop a run resumed since
            # (PENDING, owned here). But when the workflow was resumed after the cancel and is queued again,
            # or is another process's, or has ended, the run here is the one the cancel stopped: it stops, as
            # a preemption, leaving the status to whoever runs the workflow now.
            try:
                state = self.store.run_state(workflow_id)
            except TetherError:
                state = None
            if state is None or state[0] != "CANCELLED":
                mine = self.store.owner_process is None or state is None or state[1] == self.store.owner_process
                if state is not None and not (state[0] == "PENDING" and mine):
                    self.preempt(workflow_id)
                    return
                self._wake(kind, workflow_id, key)
                return
        self._on_wakeup(kind, workflow_id, key)

    def _on_wakeup(self, kind: str, workflow_id: str, key: str) -> None:
        if kind == "wf" and key == "CANCELLED" and workflow_id in self.active:
            self.cancelled.add(workflow_id)
        self._wake(kind, workflow_id, key)

    def _wake(self, kind: str, workflow_id: str, key: str) -> None:
        self.hub.notify(kind, workflow_id, key)
        if kind == "wf":  # queue runners and wait_first listen to status changes of any workflow, by status
            self.hub.notify(ANY_STATUS_KIND, "*", key)

    def _on_listener_reconnect(self) -> None:
        """The listener is back after losing its connection: notifications sent meanwhile are lost, so every
        waiter re-checks the database once: those with marks (``wait_until``, event watchers) in one batched
        pass, the others (which read for themselves) a batch at a time rather than all in the same instant;
        if the batched pass fails, every waiter is woken that way."""
        if not self.destroyed:
            asyncio.run_coroutine_threadsafe(self._recheck_all_waiters(), self.loop)

    async def _recheck_all_waiters(self) -> None:
        rechecked = set(self.hub.rechecked())
        waiters = [w for w in self.hub.snapshot() if w not in rechecked]
        try:
            await recheck_waiters(self)
        except TetherError:  # then every waiter reads for itself, a batch at a time
            logger.exception("Re-checking waiters after the listener reconnected failed: every waiter "
                             "re-checks itself")
            waiters = self.hub.snapshot()
        for start in range(0, len(waiters), RECHECK_BATCH):
            for waiter in waiters[start:start + RECHECK_BATCH]:
                waiter.wake()
            await asyncio.sleep(RECHECK_PAUSE_SECONDS)

    def preempt(self, workflow_id: str) -> None:
        """Stop this process's execution of a workflow at its next operation (and wake it if it waits): the
        workflow may be another process's now. Unlike a cancellation, its status is left alone."""
        self.preempted.add(workflow_id)
        self.cancelled.add(workflow_id)
        self._wake("wf", workflow_id, "PREEMPTED")

    def fence(self, workflow_id: str) -> None:
        """An operation found this process's lease expired: stop the execution; it runs again here once a
        renewal shows nobody adopted this process."""
        self.preempt(workflow_id)
        if self.membership is not None:
            self.membership.fence_expired()

    def own_start(self, workflow_id: str, created_at: int) -> bool:
        """Take the execution of a workflow this process just created (the row stamped ``created_at``): True
        for the first start here to take it, False for any other. Two concurrent starts of one ID (one
        millisecond, one executor ID) whose inserts both met a fault each find the row and may each take it
        for their own lost write; only one of them may run it. Bounded: the oldest are forgotten."""
        with self._outcomes_lock:
            if (workflow_id, created_at) in self._starts:
                return False
            self._starts[(workflow_id, created_at)] = None
            if len(self._starts) > _RECENT_STARTS:
                self._starts.popitem(last=False)
            return True

    def remember_outcome(self, workflow_id: str, status: str, name: str, output: bytes | None,
                         error: bytes | None, live_error: BaseException | None = None) -> None:
        """Keep the outcome of a workflow that just ended here, so a local ``get_result`` needs no query
        (and, for an error, the exception object itself: see :meth:`live_error`). Bounded: the oldest are
        forgotten (and then read from the database as usual)."""
        with self._outcomes_lock:
            self._outcomes[workflow_id] = (status, name, output, error)
            if live_error is not None:
                self._live_errors[workflow_id] = live_error
            if len(self._outcomes) > _RECENT_OUTCOMES:
                old, _ = self._outcomes.popitem(last=False)
                self._live_errors.pop(old, None)

    def live_error(self, workflow_id: str) -> BaseException | None:
        """The exception a workflow that ended here raised, as raised (its stored form may have lost its class)."""
        with self._outcomes_lock:
            return self._live_errors.get(workflow_id)

    def forget_outcome(self, workflow_id: str) -> None:
        """Drop a kept outcome (the workflow was sent back to run again)."""
        with self._outcomes_lock:
            self._outcomes.pop(workflow_id, None)
            self._live_errors.pop(workflow_id, None)

    def recent_outcome(self, workflow_id: str) -> WorkflowRow | None:
        with self._outcomes_lock:
            kept = self._outcomes.get(workflow_id)
        if kept is None:
            return None
        status, name, output, error = kept
        return WorkflowRow(workflow_uuid=workflow_id, status=status, name=name, output=output, error=error)

    def notify(self, kind: str, workflow_id: str, key: str) -> None:
        """Wake this process's waiters after a write it made itself (no need to wait for the listener)."""
        self._on_wakeup(kind, workflow_id, key)

    async def wait_until(self, keys: list[Key], check: Callable[[], Awaitable[T | None]],
                         deadline_ms: int | None, on_wake: Callable[[], None] | None = None, *,
                         marks: Mapping[Key, int] | None = None) -> T | None:
        """Re-run ``check`` whenever a key is notified, until it returns non-None or the deadline passes.

        The wait has no timer but its deadline: a lost wake-up is repaired by the batched re-check
        (engine/recheck.py), which wakes the waiter when one of its keys holds what ``marks`` says it waits
        for (by default: a message, an event, a stream's first value, the workflow's end; see
        ``engine/waiters.py``).
        """
        key_marks = [default_mark(k[0]) if marks is None else marks.get(k, default_mark(k[0])) for k in keys]
        while True:
            waiter = self.hub.register(keys, key_marks, parks=True)
            try:
                got = await check()
                if got is not None:
                    return got
                if on_wake is not None:
                    on_wake()
                timeout = None
                if deadline_ms is not None:
                    timeout = (deadline_ms - self.clock.now_ms()) / 1000
                    if timeout <= 0:
                        return None
                await self.hub.wait(waiter, timeout)
            finally:
                self.hub.unregister(waiter)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run a coroutine as a task on the current loop, keeping a reference until it finishes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def submit_to_loop(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the runtime's own background loop (for async work started from sync code)."""
        async def wrapped() -> T:
            task = self.spawn(coro)
            return await task
        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop)

    def start_thread(self, target: Callable[[], None], name: str) -> None:
        """Run a synchronous workflow on a worker thread (at most ``max_executor_threads`` of them)."""
        self._workers.submit(target)

    def close(self) -> None:
        closing, self.destroyed = not self.destroyed, True  # first: executions here write nothing from now on
        if self.membership is not None and closing:
            self.membership.stop()  # the process statements go to the store directly
        self._listener.stop()

        async def cancel_all() -> None:
            for task in list(self._tasks):
                task.cancel()

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=5)
        except Exception:  # the loop may already be gone
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(timeout=5)
        if not self._loop_thread.is_alive():
            self.loop.close()
        self._io_pool.shutdown(wait=False)
        self.store.close()
