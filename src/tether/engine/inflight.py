"""Statements a cancel does not leave unseen.

A ``recv`` or a ``select`` takes its message in one statement that also records it as the operation's output.
An ``asyncio`` cancel of the waiting coroutine (``asyncio.wait_for``, ``asyncio.timeout``, ``task.cancel()``)
does not stop such a statement once its pool thread runs it: without care the message would be taken and
recorded, and never seen by the run that asked for it (a replay would then return what the live run never
got). A :class:`CancelShield` runs the statements of one such operation so that a cancel arriving mid-statement
waits for it to end: if it recorded an outcome, the operation returns that outcome (the cancel came too late,
and is withdrawn); otherwise the cancel takes effect at the operation's next wait. A call still queued when
the cancel arrives is skipped, as before. A process shutting down keeps its cancels (recovery replays the
operation from what was recorded).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from tether.engine.runtime import Runtime

T = TypeVar("T")


class _Flight(Generic[T]):
    """One statement: whether it ran, and what it returned. The statement's thread and the cancelled
    coroutine decide under one lock, so a statement starting as the cancel arrives is either skipped or
    waited for, never missed."""

    __slots__ = ("_abandoned", "_call", "_done", "_got", "_lock", "_loop", "_started", "_waiting")

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()
        self._started = self._done = self._abandoned = False
        self._got: T | None = None
        self._waiting: asyncio.Future[None] | None = None

    def run(self) -> T:
        """The statement (on its pool thread, or inline).

        Raises:
            CancelledError: abandoned before it started (it does not run; nobody waits for it any more).
            Exception: what the statement raises.
        """
        with self._lock:
            if self._abandoned:
                raise asyncio.CancelledError
            self._started = True
        done, got = False, None
        try:
            got = self._call()
            done = True
            return got
        finally:
            with self._lock:  # a failure records nothing known (a retry after an outage starts afresh)
                self._got, self._done, self._started = got, done, done
                wake = self._waiting
            if wake is not None:
                self._loop.call_soon_threadsafe(_resolve, wake)

    async def abandon(self) -> tuple[bool, T | None]:
        """(ran to its end, what it returned): waits for a statement still running; (False, None) when it
        never runs or failed.

        Raises:
            CancelledError: another cancel while waiting for the statement.
        """
        with self._lock:
            self._abandoned = True
            if self._done or not self._started:
                return self._done, self._got
            self._waiting = waiting = self._loop.create_future()
        await asyncio.shield(waiting)
        with self._lock:
            return self._done, self._got


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class CancelShield:
    """The statements of one waiting operation (see the module doc)."""

    __slots__ = ("_rt", "cancelled")

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.cancelled = False  # a cancel arrived mid-statement and was deferred

    async def io(self, call: Callable[[], T]) -> T:
        """``call()`` through ``rt.io``; a cancel arriving while it runs waits for its end and returns it.

        Raises:
            CancelledError: the cancel arrived before the statement started (it never runs), the statement
                failed, or the process is shutting down.
            Exception: whatever the statement raises.
        """
        flight: _Flight[T] = _Flight(call)
        try:
            return await self._rt.io(flight.run)
        except asyncio.CancelledError:
            if self._rt.destroyed:
                raise
            ran, got = await flight.abandon()
            if not ran:
                raise
            self.cancelled = True
            return got  # type: ignore[return-value]

    def check(self) -> None:
        """Before the operation waits: a deferred cancel takes effect now.

        Raises:
            CancelledError: a cancel arrived during a statement that recorded nothing.
        """
        if self.cancelled:
            raise asyncio.CancelledError

    def withdraw(self) -> None:
        """The operation returns what a statement recorded: a deferred cancel came too late (on Python 3.11+
        the task's cancel request is withdrawn, as asyncio asks of code that does not let a cancel out)."""
        if self.cancelled:
            self.cancelled = False
            task = asyncio.current_task()
            if task is not None and hasattr(task, "uncancel"):
                task.uncancel()
