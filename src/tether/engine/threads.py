"""Daemon worker threads for synchronous workflows started in the background.

Threads are reused, so each keeps its bridge event loop instead of building one per workflow, and they are
daemons, so a workflow blocked in a long ``recv`` never holds up interpreter exit (it is recovered on the
next launch). Idle threads retire after a minute.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable

from tether.engine.bridge import close_thread_loop

_IDLE_SECONDS = 60.0


class WorkerThreads:
    def __init__(self, max_threads: int, name: str = "tether-worker") -> None:
        self._max = max_threads
        self._name = name
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
                close_thread_loop()
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
