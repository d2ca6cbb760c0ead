"""The one bridge from synchronous code into the engine's coroutines.

Every engine operation is written once, as a coroutine. Sync callers run it with :func:`run_sync`, on an event
loop private to the calling thread; because that loop serves only this thread, storage calls made from it run
inline instead of hopping to the I/O pool (see :func:`inline_io`). A sync call made from a thread whose loop is
already running (sync API used inside async code) runs the coroutine on a helper thread instead. Helpers are
daemon threads, like every thread of the engine: a helper works only while its caller waits on it, so a
caller that is not a daemon still holds up exit, and one that is (the engine's own threads) is not held up by
its helper. A write cut off at exit is one database transaction, which the database rolls back whole.
"""

from __future__ import annotations

import asyncio
import asyncio.events as asyncio_events
import atexit
import concurrent.futures
import contextvars
import inspect
import signal
import sys
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, ParamSpec, TypeVar

from tether.engine.threads import WorkerThreads

T = TypeVar("T")
P = ParamSpec("P")

_local = threading.local()


class _OwnedLoop:
    """A thread's private loop, closed when the thread's locals are dropped (the thread ended), so no loop is
    left for the garbage collector to find unclosed (``ResourceWarning``, or worse at interpreter exit).

    It keeps the tasks made on it, so :func:`may_park` can tell when the calling coroutine is its only work."""

    __slots__ = ("loop", "tasks")

    def __init__(self) -> None:
        self.tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()  # as weak as asyncio's own
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_report)
        self.loop.set_task_factory(_kept_in(self.tasks))  # not a bound method: no cycle back to self

    def __del__(self) -> None:
        if hasattr(self, "loop"):  # not when Ctrl-C cut ``__init__`` short
            self.close()

    def close(self) -> None:
        """Close the loop unless a call was interrupted on it (Ctrl-C): closing would drop its unfinished task
        with a warning; such a loop is left as it is, the process is about to end."""
        if not self.loop.is_closed() and not self.loop.is_running() and not asyncio.all_tasks(self.loop):
            self.loop.close()


def _kept_in(tasks: weakref.WeakSet[asyncio.Task[Any]]) -> Callable[..., asyncio.Task[Any]]:
    def make(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task
    return make


def _report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A bridge loop's exception handler: asyncio's default, except for the one report that is no error here.

    A bridge task is abandoned pending only when its call was interrupted (Ctrl-C): the workflow is left to be
    recovered rather than cancelled into an outcome, so "Task was destroyed but it is pending!" is not printed
    for it at exit. The interruption can fall anywhere, even inside asyncio's ``Task()`` before the task is
    returned to us (seen under load: the task is then destroyed at once), so the report is dropped here, where
    every such task ends, rather than by marking the task after it is made.
    """
    task = context.get("task")
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    if getattr(coro, "cr_code", None) is _finish.__code__ and context.get("message", "").startswith(
            "Task was destroyed but it is pending"):
        return
    loop.default_exception_handler(context)


_owned: list[_OwnedLoop] = []  # the main thread's, closed at exit (its locals outlive atexit)


def _thread_loop() -> asyncio.AbstractEventLoop:
    owned: _OwnedLoop | None = getattr(_local, "owned", None)
    if owned is None or owned.loop.is_closed():
        owned = _OwnedLoop()
        _local.owned = owned
        if threading.current_thread() is threading.main_thread():
            _owned.append(owned)
    return owned.loop


@atexit.register
def _close_main_loops() -> None:
    for owned in _owned:
        owned.close()
    _owned.clear()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code and return its result.

    Raises:
        Whatever ``coro`` raises; ``KeyboardInterrupt`` on Ctrl-C (a coroutine not started yet is then closed,
        without Python's "coroutine ... was never awaited" warning).
    """
    try:
        if asyncio_events._get_running_loop() is None:  # no RuntimeError raised here to chain a Ctrl-C to
            return _drive(_thread_loop(), coro)
        ctx = contextvars.copy_context()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def on_helper() -> None:
            try:
                done.set_result(ctx.run(_drive, _thread_loop(), coro))
            except BaseException as exc:
                done.set_exception(exc)

        _helpers.submit(on_helper)
    except BaseException:
        _close_unstarted(coro)
        raise
    try:
        return done.result()
    finally:
        if done.done():  # the helper ran in a copy: what the coroutine changed there is the caller's too
            adopt(ctx)


def run_sync_call(func: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``run_sync(func(*args, **kwargs))``, for the calls a Ctrl-C is likely to interrupt (long waits), with no
    gap where a Ctrl-C leaves the coroutine unawaited: Python checks for signals right after a call returns,
    before its result is stored, so on the main thread a Ctrl-C is held back (a flag, then re-raised) while
    the coroutine is made.

    Raises:
        Whatever the coroutine raises; ``KeyboardInterrupt`` on Ctrl-C.
    """
    coro: Coroutine[Any, Any, T] | None = None
    held: list[bool] = []
    try:
        hold = threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if hold:
            signal.signal(signal.SIGINT, lambda _signum, _frame: held.append(True))
        try:
            coro = func(*args, **kwargs)
        finally:
            if hold:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        if held:
            raise KeyboardInterrupt
        return run_sync(coro)
    except BaseException:
        if coro is not None:
            _close_unstarted(coro)
        raise


def _close_unstarted(coro: Coroutine[Any, Any, Any]) -> None:
    """Close a coroutine that was never started (one that was is left alone: it may be pending on purpose)."""
    if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        coro.close()


def _drive(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on this thread's private loop.

    Most engine coroutines never wait on anything here (their storage calls run inline), so they are first
    stepped by hand, with the loop marked as running so that anything asking for it gets it; only a
    coroutine that really suspends (on a wake-up or a timer) is handed to the loop to finish. This saves a
    Task and two loop iterations per checkpoint, which the benchmark profile showed as ~30% of CPU.
    """
    asyncio_events._set_running_loop(loop)
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except BaseException:
        coro.close()
        raise
    finally:
        asyncio_events._set_running_loop(None)
    # Interrupted mid-call (Ctrl-C), the task stays pending on purpose: see _report for its warning.
    left: list[contextvars.Context] = []
    finish = _finish(coro, yielded, left)
    try:
        task = loop.create_task(finish)
    except BaseException:  # Ctrl-C inside Task(): no task drives ``finish``
        _close_unstarted(finish)
        raise
    try:
        return loop.run_until_complete(task)
    except BaseException:
        if task.done() and not task.cancelled():
            task.exception()  # a Ctrl-C raised inside the task is re-raised here: not "never retrieved"
        raise
    finally:
        if left:
            adopt(left[0])


async def _finish(coro: Coroutine[Any, Any, T], yielded: Any, left: list[contextvars.Context]) -> T:
    """Drive ``coro`` from its first suspension to its end, in the task's copy of the caller's context; what
    that context holds at the end goes to ``left``, for the caller to :func:`adopt`."""
    try:
        return await _forward(coro, yielded)
    finally:
        left.append(contextvars.copy_context())


def adopt(ended: contextvars.Context) -> None:
    """Give the current context every value that ``ended`` holds differently: a coroutine that ran on in a
    task (which runs in a copy of the context it was made in) leaves its context as one awaited in place
    would. Without this, a step entered before the first suspension and left after it stayed entered for the
    synchronous caller, whose next sends and events were then taken for a step's and went unrecorded."""
    here = contextvars.copy_context()
    for var, value in ended.items():
        if here.get(var, _UNSET) is not value:
            var.set(value)


_UNSET = object()


async def in_task(body: Awaitable[T]) -> T:
    """Await an async body (a step's) so that it runs in a task from its first line. A synchronous caller's
    coroutine is stepped by hand, outside any task, until it first suspends (:func:`_drive`), and a body may
    need one at once: ``asyncio.timeout`` and ``asyncio.current_task`` do. There it runs as a task of this
    loop, and its context is adopted when it ends, as if it had been awaited in place; anywhere else (inside
    a task already, or not a coroutine) it is simply awaited.

    Raises:
        Whatever ``body`` raises.
    """
    if not asyncio.iscoroutine(body) or asyncio_events._get_running_loop() is None \
            or asyncio.current_task() is not None:
        return await body
    left: list[contextvars.Context] = []

    async def run(awaited: Awaitable[T]) -> T:
        try:
            return await awaited
        finally:
            left.append(contextvars.copy_context())

    try:
        return await asyncio.ensure_future(run(body))
    finally:
        if left:
            adopt(left[0])


@types.coroutine
def _forward(coro: Coroutine[Any, Any, T], yielded: Any) -> Generator[Any, Any, T]:
    """Continue a coroutine that was started by hand: pass what it waits on to the Task driving us, and
    what the Task sends back (or throws in) on to the coroutine."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            # Closed (at exit, a pending task's coroutine is): close the inner one too, which does nothing if
            # it was closed first -- finalizers run in no set order, and throwing into it would then raise.
            coro.close()
            raise
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


def close_thread_loop() -> None:
    """Close this thread's bridge loop; called when a thread the engine started is about to end."""
    owned: _OwnedLoop | None = getattr(_local, "owned", None)
    if owned is not None and not owned.loop.is_running():
        owned.loop.close()
    _local.owned = None


def loop_free() -> bool:
    """True when no event loop runs in this thread: synchronous code here may block on storage itself, as
    :func:`run_sync` would have it do (on this thread's private loop, storage calls run inline)."""
    return asyncio_events._get_running_loop() is None


# On Windows, Ctrl-C interrupts a lock acquire only from Python 3.14 on (gh-125541; on POSIX since 3.2).
_LOCK_WAITS_IGNORE_CTRL_C = sys.platform == "win32" and sys.version_info < (3, 14)


def may_park() -> bool:
    """True when the running coroutine may block its thread to wait: it runs on this thread's private bridge
    loop and is that loop's only work (no other task is pending there, no callback is ready to run and no
    timer is set, such as an ``asyncio.timeout`` around the wait), so nothing else would be held up.
    A wake-up then costs one thread wake-up instead of a self-pipe write and two loop iterations
    (engine/waiters.py). Work the loop will only be handed later (a future settled from another thread,
    whose callback then wakes the waiter) cannot be seen here: a coroutine that waits on such a thing
    through a parking waiter must keep a task of its own pending."""
    owned: _OwnedLoop | None = getattr(_local, "owned", None)
    if owned is None or asyncio_events._get_running_loop() is not owned.loop:
        return False
    if _LOCK_WAITS_IGNORE_CTRL_C and threading.current_thread() is threading.main_thread():
        return False  # Ctrl-C must still reach a wait there: the loop's wait hears it, a lock's would not
    loop = owned.loop
    if not isinstance(loop, asyncio.BaseEventLoop):  # another loop (uvloop's): its callbacks cannot be seen
        return False
    if loop._ready or len(loop._scheduled) > loop._timer_cancelled_count:  # type: ignore[attr-defined]
        return False  # a live timer: cancelled ones stay in ``_scheduled`` until the loop pops them
    if not owned.tasks:
        return True
    current = asyncio.current_task(owned.loop)
    return all(task is current or task.done() for task in owned.tasks)


def inline_io() -> bool:
    """True when the running loop is a thread-private bridge loop, where blocking calls are fine."""
    owned: _OwnedLoop | None = getattr(_local, "owned", None)
    if owned is None:
        return False
    return asyncio_events._get_running_loop() is owned.loop


_helpers = WorkerThreads(32, "tether-bridge", on_retire=close_thread_loop)
