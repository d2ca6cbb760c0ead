"""The one wake-up path: waiters keyed by (kind, workflow_id, key), woken by in-process writes and by the
backend's listener for other processes' writes.

A waiter belongs to the event loop that created it and is resolved thread-safely, so a wake-up costs nothing
but a callback on that loop: 10,000 parked async waiters hold no thread, and a notification for one key touches
only the waiters of that key. Kinds: ``msg`` (key = topic), ``event`` (key), ``stream`` (key), ``wf`` (status
changes; the key is ignored).

A waiter registered with *marks* (one per key) also takes part in the safety net against a lost wake-up
(``Runtime.recheck_waiters``): one batched query per kind asks which of the parked waiters' keys hold what they
wait for, and wakes only those. A mark says what that is: for ``msg`` a message queued (and, with a
mark > 0, the recv of that function_id recorded by a hand-off, ``engine/handoff.py``), for
``event`` the version waited for (0: any, the event is set; a watcher's next version), for ``stream`` the
offset waited for (a value at or past it), for ``wf`` :data:`WF_EXISTS` or :data:`WF_ENDED`.
"""

from __future__ import annotations

import _thread
import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence

from tether.engine import bridge

Key = tuple[str, str, str]
Tap = Callable[[str, str, str], None]

# The marks of a ``wf`` key: wake when the workflow exists, or when it has ended (the default).
WF_EXISTS = 0
WF_ENDED = 1


def default_mark(kind: str) -> int:
    """The mark a key of ``kind`` gets unless its waiter says otherwise: a workflow's end, a stream's first
    value, any message or event."""
    return WF_ENDED if kind == "wf" else 0


class Waiter:
    __slots__ = ("_gate", "_on_loop", "_rung", "future", "keys", "loop", "marks", "parked")

    def __init__(self, loop: asyncio.AbstractEventLoop, keys: tuple[Key, ...],
                 marks: tuple[int, ...] | None, parks: bool = False) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.keys = keys
        self.marks = marks  # None: not re-checked by the safety net (the waiter has a timer of its own)
        self.parked = False  # its check is done and it waits (WakeupHub.wait), rather than still checking
        # A waiter that may park its thread (see WakeupHub.register) is woken through a lock its thread blocks
        # on; through its future too once its wait turned out to need the loop after all (_on_loop).
        self._gate: _thread.LockType | None = None
        self._on_loop = True
        self._rung = False
        if parks:
            self._gate = _thread.allocate_lock()
            self._gate.acquire()
            self._on_loop = False

    @property
    def woken(self) -> bool:
        """Woken (or timed out) already: a further :meth:`wake` changes nothing."""
        return self._rung or self.future.done()

    def wake(self) -> None:
        gate = self._gate
        if gate is not None:
            if not self._rung:
                self._rung = True
                try:
                    gate.release()
                except RuntimeError:  # two wakers raced past the flag: the first one's release counts
                    pass
            if not self._on_loop:
                return
        if self.future.done():
            return
        if asyncio._get_running_loop() is self.loop:  # on the waiter's own loop: no self-pipe write (a
            self.loop.call_soon(_resolve, self.future)  # syscall that gives the GIL away) is needed
            return
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # its loop was closed with the wait pending: nobody can be woken there, and
            pass              # the notifier (a writer, the listener, the re-check) must go on to the others

    def park(self, timeout: float | None) -> bool | None:
        """Block this thread until woken (True) or ``timeout`` seconds pass (False); None, doing nothing, when
        the waiter cannot park (it was not made to, or its coroutine is no longer its loop's only work): it
        is then woken through its future from now on."""
        gate = self._gate
        if gate is None:
            return None
        if not bridge.may_park():
            self._on_loop = True  # before looking at the flag: a wake-up after this resolves the future too
            if self._rung:
                _resolve(self.future)
            return None
        if self._rung:
            return True
        if timeout is not None and timeout <= 0:
            return False
        self.parked = True
        return gate.acquire(timeout=-1 if timeout is None else timeout) or self._rung


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class WakeupHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (kind, workflow_id) -> key -> waiters; the two levels let a wildcard wake every key of a workflow.
        self._waiters: dict[tuple[str, str], dict[str, set[Waiter]]] = {}
        self._registered = 0
        self._rechecked: dict[Waiter, None] = {}  # waiters with marks, in registration order
        self._taps: tuple[Tap, ...] = ()

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap(kind, workflow_id, key)`` for every notification from now on, on the notifying thread
        (it must be quick and must not raise): one observer of every change, such as the dashboard's watcher,
        instead of a waiter per workflow."""
        with self._lock:
            self._taps = (*self._taps, tap)

    def remove_tap(self, tap: Tap) -> None:
        """Stop calling a tap given to :meth:`add_tap`."""
        with self._lock:
            self._taps = tuple(t for t in self._taps if t != tap)  # == : bound methods are made anew

    def register(self, keys: Iterable[Key], marks: Sequence[int] | None = None, *,
                 parks: bool = False) -> Waiter:
        """Register interest before checking the database, so no wake-up falls between check and wait.

        With ``marks`` (one per key, see the module's docstring) the waiter is also re-checked by the batched
        safety net; without, it must bound its own wait. With ``parks`` (for a waiter only ever awaited through
        :meth:`wait`, never through its future) a synchronous caller's thread blocks on the waiter itself
        instead of running its bridge loop (``bridge.may_park``): a wake-up is then one thread wake-up,
        without the self-pipe write and the loop's two iterations (~0.2 ms on this project's machines).

        Raises:
            ValueError: ``marks`` does not give one mark per key.
        """
        norm = tuple((k, w, "" if k == "wf" else key) for k, w, key in keys)
        if marks is not None and len(marks) != len(norm):
            raise ValueError(f"{len(marks)} marks for {len(norm)} keys")
        waiter = Waiter(asyncio.get_running_loop(), norm, None if marks is None else tuple(marks),
                        parks and bridge.may_park())
        with self._lock:
            self._registered += 1
            if marks is not None:
                self._rechecked[waiter] = None
            for kind, wfid, key in norm:
                self._waiters.setdefault((kind, wfid), {}).setdefault(key, set()).add(waiter)
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        """Forget a waiter; call exactly once per :meth:`register`."""
        with self._lock:
            self._registered -= 1
            self._rechecked.pop(waiter, None)
            for kind, wfid, key in waiter.keys:
                by_key = self._waiters.get((kind, wfid))
                if by_key is None:
                    continue
                group = by_key.get(key)
                if group is not None:
                    group.discard(waiter)
                    if not group:
                        del by_key[key]
                if not by_key:
                    del self._waiters[(kind, wfid)]

    def notify(self, kind: str, workflow_id: str, key: str) -> None:
        """Wake the waiters of one key (``*`` wakes every key of that kind and workflow)."""
        for tap in self._taps:
            tap(kind, workflow_id, key)
        with self._lock:
            by_key = self._waiters.get((kind, workflow_id))
            if not by_key:
                return
            if kind == "wf":
                key = ""
            if key == "*":
                targets = [w for group in by_key.values() for w in group]
            else:
                targets = list(by_key.get(key, ()))
        for waiter in targets:
            waiter.wake()

    def snapshot(self) -> list[Waiter]:
        """Every waiter parked right now (each once)."""
        with self._lock:
            found = {id(w): w for by_key in self._waiters.values() for group in by_key.values() for w in group}
        return list(found.values())

    def rechecked(self) -> list[Waiter]:
        """Every waiter parked right now that the batched safety net re-checks (registered with marks)."""
        with self._lock:
            return list(self._rechecked)

    def notify_all(self) -> None:
        """Wake everyone to re-check (notifications may have been lost)."""
        for waiter in self.snapshot():
            waiter.wake()

    def count(self, kind: str | None = None, *, parked: bool = False) -> int:
        """How many waiters are registered right now (only those waiting on ``kind``, if given; with
        ``parked``, only those past their check, waiting for a wake-up)."""
        with self._lock:
            if kind is None and not parked:
                return self._registered
            return len({id(w) for (k, _), by_key in self._waiters.items() if kind is None or k == kind
                        for group in by_key.values() for w in group if w.parked or not parked})

    @staticmethod
    async def wait(waiter: Waiter, timeout: float | None) -> bool:
        """Wait until woken (True) or until ``timeout`` seconds pass (False).

        The waiter's future is awaited directly, with one timer to end the wait: ``asyncio.wait`` cost about
        twice the CPU per wake-up (its own future, callbacks and timer). After a timeout the future is done
        too (with a marker), so callers read the return value, not ``future.done()``. A waiter registered to
        park blocks its thread instead, when it still can (:meth:`Waiter.park`).
        """
        woke = waiter.park(timeout)
        if woke is not None:
            return woke
        fut = waiter.future
        if fut.done() or (timeout is not None and timeout <= 0):
            return fut.done() and (fut.cancelled() or fut.result() is not _TIMED_OUT)
        timer = None if timeout is None else waiter.loop.call_later(timeout, _time_out, fut)
        waiter.parked = True
        try:
            await fut
        finally:
            if timer is not None:
                timer.cancel()
        return fut.result() is not _TIMED_OUT


_TIMED_OUT = object()


def _time_out(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(_TIMED_OUT)  # type: ignore[arg-type]
