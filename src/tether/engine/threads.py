"""Daemon worker threads: for synchronous workflows started in the background, and for the sync bridge's
helpers (a sync call made inside async code).

Threads are reused, so each keeps its bridge event loop instead of building one per workflow, and they are
daemons, so a workflow blocked in a long ``recv`` never holds up interpreter exit (it is recovered on the
next launch). Idle threads retire after a minute.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
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


class DaemonExecutor(concurrent.futures.Executor):
    """A fixed set of daemon threads for short blocking calls (database I/O from event loops).

    Unlike ``ThreadPoolExecutor`` it is not shut down by the interpreter's exit hooks, which run while daemon
    threads (and the runtime's loop) are still alive, so background work stopping at exit sees no errors.
    """

    def __init__(self, threads: int, name: str = "tether-io") -> None:
        self._calls: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[..., Any],
                                             tuple[Any, ...]] | None] = queue.SimpleQueue()
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
        self._calls.put((future, call, args if not kwargs else ()))
        return future

    def _work(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        for _ in self._threads:
            self._calls.put(None)
        if wait:
            for t in self._threads:
                t.join()
