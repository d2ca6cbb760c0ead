"""Group commit, the engine half: checkpoints that arrive while others are being written share the next
transaction (the storage half, one transaction for many checkpoints, is ``storage/checkpoints.py``).

Leader and followers, with no timer. A checkpoint that finds a writer slot free (at most ``writers``
batches are in flight at once) is written at once, alone: with one workflow running nothing is added to
its latency. Checkpoints that arrive while every slot is busy wait in a queue; when a batch has committed,
its writer takes everything queued (up to ``batch_limit``) as the next batch. So the batch size follows the
load: one at a time when checkpoints are sparse, many per commit when hundreds of workflows are in flight.

Each caller is answered only after its batch's transaction has committed (or failed), so a checkpoint is
durable before its workflow continues past it, exactly as when it is written alone. Callers from an event
loop wait without holding a thread (their batch is written on an I/O thread, which goes on writing batches
while any are queued); a synchronous workflow's thread that finds a slot free writes its own checkpoint
inline, as it always did, and otherwise waits for the writer of the next batch.

Faults are not handled here: a batch cut off by one raises it to each of its callers, and
:meth:`tether.engine.runtime.Runtime.checkpoint` rides the outage out for each, alone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tether.engine.bridge import inline_io
from tether.errors import DatabaseUnavailableError, StorageError
from tether.storage.base import Store
from tether.storage.checkpoints import Checkpoint, Outcome, write_alone

R = TypeVar("R")

BATCH_LIMIT = 128
"""Most checkpoints one transaction carries; more queued ones go to the next."""


def commit_writers(io_threads: int) -> int:
    """How many batches may be in flight at once, for an I/O pool (and connection pool) of ``io_threads``:
    one per eight, at least one -- so one with the default pool of 10. On two cores one writer did best
    (docs/benchmarks.md, *Group commit*): its batches are larger, and fewer threads contend for the GIL;
    reads and the other writes keep the remaining threads and connections."""
    return max(1, io_threads // 8)


class _Waiting:
    """A checkpoint waiting to be written, and how to tell its caller: a future on the caller's loop, or an
    event for a synchronous caller's thread."""

    __slots__ = ("error", "event", "future", "item", "loop", "value")

    def __init__(self, item: Checkpoint[Any], loop: asyncio.AbstractEventLoop | None,
                 future: asyncio.Future[Any] | None) -> None:
        self.item = item
        self.loop = loop
        self.future = future
        self.event: threading.Event | None = None
        self.value: Any = None
        self.error: BaseException | None = None


def _settle_all(waiting: list[_Waiting]) -> None:
    """On the callers' loop: resolve their futures (one hop per loop per batch, not one per checkpoint)."""
    for w in waiting:
        future = w.future
        assert future is not None
        if future.cancelled():
            continue
        if w.error is not None:
            future.set_exception(w.error)
        else:
            future.set_result(w.value)


def _own_error(error: BaseException) -> BaseException:
    """An error raised to every caller of a batch: each gets an instance of its own (tracebacks are written
    into the exception object as it propagates), with the shared one as its cause."""
    if isinstance(error, DatabaseUnavailableError):
        own = DatabaseUnavailableError(str(error))
        own.__cause__ = error
        return own
    return error


class GroupCommit:
    """Batches checkpoints (see the module docstring). ``post`` runs a call on an I/O thread, fire and forget."""

    def __init__(self, store: Store, post: Callable[[Callable[[], None]], None], writers: int,
                 batch_limit: int = BATCH_LIMIT) -> None:
        self._store = store
        self._post = post
        self._writers = max(1, writers)
        self._batch_limit = batch_limit
        self._lock = threading.Lock()
        self._busy = 0  # writer slots in use
        self._queue: list[_Waiting] = []  # non-empty only while every slot is busy
        # What was written: transactions, checkpoints in them, and the most in one (for bench/ and tests).
        self.batches = 0
        self.checkpoints = 0
        self.largest = 0

    async def write(self, item: Checkpoint[R]) -> R:
        """Write one checkpoint, possibly in a transaction shared with others; returns what its store method
        returns once the transaction has committed.

        Raises:
            DatabaseUnavailableError: a fault cut the batch off (whether it committed is unknown).
            StorageError and the errors of the checkpoint's store method: its own failure, raised to it alone.
        """
        if inline_io():  # a synchronous workflow's own thread
            return self.write_blocking(item)
        loop = asyncio.get_running_loop()
        waiting = _Waiting(item, loop, loop.create_future())
        if self._join(waiting):
            self._start(waiting)
        assert waiting.future is not None
        try:
            return await waiting.future  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            self._withdraw(waiting)
            raise

    def _withdraw(self, waiting: _Waiting) -> None:
        """A cancelled caller's checkpoint still queued is never written, as a storage call not yet started is
        never run; one already in a batch is in flight, committed or not. (A start written after its caller
        gave up would be a PENDING workflow of this process that nothing runs until the next launch.)"""
        with self._lock:
            if waiting in self._queue:
                self._queue.remove(waiting)

    def _join(self, waiting: _Waiting) -> bool:
        """True: a slot was free and the caller leads (writes it now); False: queued for the next batch."""
        with self._lock:
            if self._busy < self._writers:
                self._busy += 1
                return True
            if waiting.loop is None:
                waiting.event = threading.Event()
            self._queue.append(waiting)
            return False

    def _start(self, waiting: _Waiting) -> None:
        try:
            self._post(lambda: self._drain([waiting]))
        except RuntimeError as exc:  # the I/O threads are shut down: the runtime is closing
            self._release()
            self._answer([waiting], None, StorageError(f"The store is closing: {exc}"))

    def write_blocking(self, item: Checkpoint[R]) -> R:
        """:meth:`write` from a thread that may block (a synchronous workflow's own): a free slot is taken
        and the checkpoint written here, alone, or the thread waits for the writer of the next batch.

        Raises:
            The same as :meth:`write`.
        """
        with self._lock:
            if self._busy < self._writers:
                self._busy += 1
                self.batches += 1  # _counted(1) written out: as _write counts a batch, as its write begins
                self.checkpoints += 1
                if self.largest < 1:
                    self.largest = 1
                waiting = None
            else:
                waiting = _Waiting(item, None, None)
                waiting.event = event = threading.Event()
                self._queue.append(waiting)
        if waiting is not None:
            event.wait()
            if waiting.error is not None:
                raise waiting.error
            return waiting.value  # type: ignore[no-any-return]
        try:
            value, error = write_alone(self._store, item)  # what write_checkpoints does with one
        finally:
            self._hand_on()
        if error is not None:
            raise error
        return value  # type: ignore[no-any-return]

    def _hand_on(self) -> None:
        """After a workflow's thread wrote its own checkpoint: the slot goes on with the queue, so that thread
        never writes other workflows' checkpoints (an I/O thread takes them), or is freed."""
        with self._lock:
            if not self._queue:  # the common case, without a call to _next_batch
                self._busy -= 1
                return
        nxt = self._next_batch()
        if nxt is not None:
            try:
                self._post(lambda: self._drain(nxt))
            except RuntimeError as exc:
                self._release()
                self._answer(nxt, None, StorageError(f"The store is closing: {exc}"))

    def _drain(self, batch: list[_Waiting]) -> None:
        """On an I/O thread: write ``batch``, then every batch queued meanwhile, until the queue is empty."""
        while True:
            self._write(batch)
            nxt = self._next_batch()
            if nxt is None:
                return
            batch = nxt

    def _next_batch(self) -> list[_Waiting] | None:
        """The queued checkpoints for the slot just freed (which stays taken), or None (the slot is freed)."""
        with self._lock:
            if not self._queue:
                self._busy -= 1
                return None
            batch = self._queue[:self._batch_limit]
            del self._queue[:self._batch_limit]
            return batch

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1

    def _counted(self, size: int) -> None:
        """Count a batch of ``size`` whose write begins (under the lock)."""
        self.batches += 1
        self.checkpoints += size
        if size > self.largest:
            self.largest = size

    def _write(self, batch: list[_Waiting]) -> None:
        with self._lock:
            self._counted(len(batch))
        try:
            outcomes: list[Outcome] = self._store.write_checkpoints([w.item for w in batch])
            for w, (value, error) in zip(batch, outcomes, strict=True):
                w.value, w.error = value, error
        except BaseException as exc:  # whatever fails, every caller is answered: nothing may raise out of here,
            self._answer(batch, None, exc)  # or the writer slot would stay taken and every later checkpoint
            return                          # would wait for good
        self._notify(batch)

    def _answer(self, batch: list[_Waiting], value: Any, error: BaseException | None) -> None:
        for w in batch:
            w.value, w.error = value, (None if error is None else _own_error(error))
        self._notify(batch)

    @staticmethod
    def _notify(batch: list[_Waiting]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}
        for w in batch:
            if w.loop is None:
                if w.event is not None:
                    w.event.set()
                continue  # the leader on its own thread: it reads its answer when _write returns
            by_loop.setdefault(w.loop, []).append(w)
        for loop, waiting in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, waiting)
            except RuntimeError:  # the loop was closed meanwhile: nobody is waiting any more
                pass
