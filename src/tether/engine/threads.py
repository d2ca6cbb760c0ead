"""Daemon worker threads: for synchronous workflows started in the background, and for the sync bridge's
helpers (a sync call made inside async code).

Threads are reused, so each keeps its bridge event loop instead of building one per workflow, and they are
daemons, so a workflow blocked in a long ``recv`` never holds up interpreter exit (it is recovered on the
next launch). Idle threads retire after a minute.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

_IDLE_SECONDS = 60.0
T = TypeVar("T")


class WorkerThreads:
    def __init__(self, max_threads: int, name: str = "tether-worker",
                 on_retire: Callable[[], None] | None = None) -> None:
        """``on_retire`` runs on a thread about to end (idle too long), to release what it kept."""
        self._max = max_threads
        self._name = name
        self._on_retire = on_retire
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on an idle thread, a new one, or (at ``max_threads``) the next one to free up."""
        with self._lock:
            spawn = self._idle == 0 and self._threads < self._max
            if spawn:
                self._threads += 1
        self._tasks.put(task)
        if spawn:
            threading.Thread(target=self._work, name=f"{self._name}-{self._threads}", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                task = self._tasks.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    if not self._tasks.empty():
                        continue
                    self._threads -= 1
                if self._on_retire is not None:
                    self._on_retire()
                return
            with self._lock:
                self._idle -= 1
            try:
                contextvars.Context().run(task)  # a fresh context, as a new thread would have
            except BaseException:  # a task records its own outcome; nothing may kill the worker
                pass

    @property
    def size(self) -> int:
        with self._lock:
            return self._threads


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DaemonExecutor(concurrent.futures.Executor):
    """A fixed set of daemon threads for short blocking calls (database I/O from event loops).

    Unlike ``ThreadPoolExecutor`` it is not shut down by the interpreter's exit hooks, which run while daemon
    threads (and the runtime's loop) are still alive, so background work stopping at exit sees no errors.
    """

    def __init__(self, threads: int, name: str = "tether-io") -> None:
        self._calls: queue.SimpleQueue[tuple[Any, Callable[..., Any], tuple[Any, ...],
                                             asyncio.AbstractEventLoop | None] | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        if self._closed:
            raise RuntimeError("executor is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        call = functools.partial(fn, *args, **kwargs) if kwargs else fn
        self._calls.put((future, call, args if not kwargs else (), None))
        return future

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on a pool thread, as a future of the running loop: what ``loop.run_in_executor`` does,
        without its ``concurrent.futures.Future`` (and the ``threading.Condition`` in it) and the chaining of
        the two futures -- about half the CPU of every storage call made from an event loop. A call still
        waiting when its future is cancelled is skipped, as with ``run_in_executor``.

        Raises:
            RuntimeError: the executor is shut down, or no event loop is running.
        """
        if self._closed:
            raise RuntimeError("executor is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((future, fn, args, loop))
        return future

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on a pool thread, with nobody waiting for it: ``fn`` reports its own outcome (an
        exception it lets out is logged on the ``tether`` logger, and the thread goes on).

        Raises:
            RuntimeError: the executor is shut down.
        """
        if self._closed:
            raise RuntimeError("executor is closed")
        self._calls.put((None, fn, (), None))

    def _work(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            future, fn, args, loop = item
            if future is None:  # posted
                try:
                    fn()
                except BaseException:  # see post(): nobody waits for it, so it is only logged
                    logging.getLogger("tether").exception("A call posted to %s raised", threading.current_thread().name)
                continue
            if loop is not None:
                self._run_for_loop(future, fn, args, loop)
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

    @staticmethod
    def _run_for_loop(future: asyncio.Future[Any], fn: Callable[..., Any], args: tuple[Any, ...],
                      loop: asyncio.AbstractEventLoop) -> None:
        if future.cancelled():  # a read of a flag: the loop's thread owns the future, we only look
            return
        try:
            result, error = fn(*args), None
        except BaseException as exc:
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(_settle, future, result, error)
        except RuntimeError:  # the loop was closed meanwhile: nobody is waiting any more
            pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        for _ in self._threads:
            self._calls.put(None)
        if wait:
            for t in self._threads:
                t.join()
