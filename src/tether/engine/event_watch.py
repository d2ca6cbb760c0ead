"""Following an event: every version of one (workflow, key) from some version on, until the workflow ends.

Each ``set_event`` stores the key's next version (1, 2, ...) with its value, in the transaction that updates the
event (see ``Store.set_event``), so a watcher reads the versions it has not seen yet, in order, and never misses
one however fast they are set. A watcher registers on the one wake-up hub for that key's event notifications
and its workflow's status changes only: a write to another key, or to another workflow, costs it nothing, and
each notification it gets costs one read (the new versions and the workflow's status, in one statement and one
snapshot). It waits without a timer, so it does no query while nothing happens; a lost notification is
recovered by the listener's reconnect, which wakes every waiter once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator

from tether.engine import validation
from tether.engine.context import current_workflow
from tether.engine.events import event_key
from tether.engine.runtime import Runtime
from tether.engine.waiters import WF_ENDED, Waiter
from tether.errors import NonExistentWorkflowError, WorkflowCancelledError
from tether.serialization import deserialize
from tether.types import ACTIVE_STATUSES, EventVersion

_BATCH = 1000  # versions per read


class EventWatcher:
    """Follows one event key of one workflow from ``from_version`` on. ``poll`` never waits;
    ``next_batch`` waits for at least one new version (or the workflow's end)."""

    def __init__(self, rt: Runtime, workflow_id: str, key: str, from_version: int = 1) -> None:
        """Raises:
            InvalidArgumentError, ArgumentTypeError: a bad ID or key, or a ``from_version`` that is not an int
                from 0 to 2**63 - 1 (0 and 1 both mean every version).
        """
        self.rt = rt
        self.workflow_id = validation.workflow_id(workflow_id)
        self.key = event_key(key)
        self.next_version = max(1, validation.count(from_version, "from_version"))
        self.ended = False  # the workflow has ended and every version it set was returned
        self.reads = 0      # database reads made so far (one per poll)
        reader = current_workflow()
        # A workflow following an event stops waiting when it is itself cancelled.
        self.reader_id = reader.workflow_id if reader is not None and reader.runtime is rt else None
        self._keys = [("event", self.workflow_id, self.key), ("wf", self.workflow_id, "")]
        if self.reader_id is not None:
            self._keys.append(("wf", self.reader_id, ""))
        self._waiter: Waiter | None = None

    async def poll(self) -> list[EventVersion]:
        """The versions set since the last one returned (at most 1,000), without waiting.

        Raises:
            NonExistentWorkflowError: no workflow has this ID.
        """
        chunk = await self.rt.io(self.rt.store.read_event_versions, self.workflow_id, self.key,
                                 self.next_version, _BATCH)
        self.reads += 1
        if chunk.workflow_status is None:
            raise NonExistentWorkflowError(self.workflow_id, "target")
        got = [EventVersion(self.key, row.version, deserialize(row.value), row.created_at) for row in chunk.entries]
        if got:
            self.next_version = got[-1].version + 1
        if len(chunk.entries) < _BATCH and chunk.workflow_status not in ACTIVE_STATUSES:
            # Read in the same snapshot as the status: an ended workflow has no versions to come.
            self.ended = True
        return got

    async def next_batch(self) -> list[EventVersion] | None:
        """The next versions (waiting for at least one), or None once the workflow has ended and every
        version was returned.

        The waiter registered before a read stays registered while the caller handles what it returned, so
        the next call reads again only if a notification came meanwhile.

        Raises:
            NonExistentWorkflowError: no workflow has this ID.
            WorkflowCancelledError: called from a workflow, which was cancelled while waiting.
        """
        hub = self.rt.hub
        try:
            while not self.ended:
                waiter = self._waiter
                if waiter is None or waiter.future.done() or waiter.loop is not asyncio.get_running_loop():
                    self.close()
                    # Registered before reading, so no notification falls between the read and the wait.
                    # The marks let the batched re-check (engine/recheck.py) wake it if a notification is
                    # lost: a version at or past the next one, or the workflow's (or the reader's) end.
                    marks = [self.next_version] + [WF_ENDED] * (len(self._keys) - 1)
                    waiter = self._waiter = hub.register(self._keys, marks)
                    if self.reader_id is not None and self.reader_id in self.rt.cancelled:
                        raise WorkflowCancelledError(self.reader_id)
                    got = await self.poll()
                    if got:
                        # It stays registered while the caller handles these: from now on it waits for
                        # the version after them.
                        waiter.marks = (self.next_version, *marks[1:])
                        return got
                    if self.ended:
                        break
                await hub.wait(waiter, None)
        except BaseException:
            self.close()
            raise
        self.close()
        return None

    def close(self) -> None:
        """Stop listening (the watcher may be used again: it then reads before waiting)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self.rt.hub.unregister(waiter)


def watch(rt: Runtime, workflow_id: str, key: str, from_version: int = 1) -> Generator[EventVersion, None, None]:
    """Yield every version of an event from ``from_version`` on, as each is set, until the workflow has ended
    (see :class:`EventWatcher` for what it raises)."""
    from tether.engine.bridge import run_sync

    watcher = EventWatcher(rt, workflow_id, key, from_version)
    try:
        while True:
            batch = run_sync(watcher.next_batch())
            if batch is None:
                return
            yield from batch
    finally:
        watcher.close()


async def watch_async(rt: Runtime, workflow_id: str, key: str,
                      from_version: int = 1) -> AsyncGenerator[EventVersion, None]:
    """Async form of :func:`watch`; waiting holds no thread."""
    watcher = EventWatcher(rt, workflow_id, key, from_version)
    try:
        while True:
            batch = await watcher.next_batch()
            if batch is None:
                return
            for version in batch:
                yield version
    finally:
        watcher.close()


async def list_versions(rt: Runtime, workflow_id: str, key: str, from_version: int = 1) -> list[EventVersion]:
    """The versions of an event set so far from ``from_version`` on (at most 1,000; ask again from the last
    one + 1 for more), without waiting (see :meth:`EventWatcher.poll` for what it raises)."""
    return await EventWatcher(rt, workflow_id, key, from_version).poll()
