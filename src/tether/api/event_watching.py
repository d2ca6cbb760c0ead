"""Versioned events, on ``DBOS`` and ``DBOSClient`` alike: follow every change of an event key, and read an
event's value together with its version (a Tether addition; ``get_event`` itself is unchanged).

Every ``set_event`` of a key gives it the next version, 1, 2, ... per workflow and key, stored durably with the
value. Followers are woken by the key's own notifications (no polling, no query while nothing changes); the
async follower holds no thread while it waits.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

from tether.api.binding import _either, _runtime_of
from tether.engine import event_watch, events
from tether.engine.bridge import run_sync
from tether.types import EventVersion


class EventWatching:
    """Mixin of ``DBOS`` and ``DBOSClient``."""

    @_either
    def watch_event(self, workflow_id: str, key: str, *, from_version: int = 1
                    ) -> Generator[EventVersion, Any, None]:
        """Yield every version of the event ``key`` of ``workflow_id`` from ``from_version`` on, in order, as
        each is set, and return once the workflow has ended and every version it set was yielded::

            for change in DBOS.watch_event(workflow_id, "progress"):
                print(change.version, change.value)

        To resume after a break, pass the last version seen + 1 as ``from_version``.

        Raises:
            NonExistentWorkflowError: no workflow has ``workflow_id``.
            InvalidArgumentError, ArgumentTypeError: a bad ID or key, or a negative ``from_version``.
        """
        yield from event_watch.watch(_runtime_of(self), workflow_id, key, from_version)

    @_either
    async def watch_event_async(self, workflow_id: str, key: str, *, from_version: int = 1
                                ) -> AsyncGenerator[EventVersion, None]:
        """Async form of :meth:`watch_event` (``async for change in DBOS.watch_event_async(...)``); waiting
        holds no thread."""
        async for change in event_watch.watch_async(_runtime_of(self), workflow_id, key, from_version):
            yield change

    @_either
    def get_event_with_version(self, workflow_id: str, key: str, timeout_seconds: float = 60
                               ) -> EventVersion | None:
        """As ``get_event``, with the version: the event's latest :class:`EventVersion` (``.version``,
        ``.value``), waiting up to ``timeout_seconds`` for a first one (None then). Checkpointed inside a
        workflow, like ``get_event``.

        Raises:
            InvalidArgumentError, ArgumentTypeError: a bad ID, key or timeout.
        """
        return run_sync(events.get_event_with_version(_runtime_of(self), workflow_id, key, timeout_seconds))

    @_either
    async def get_event_with_version_async(self, workflow_id: str, key: str, timeout_seconds: float = 60
                                           ) -> EventVersion | None:
        """Coroutine form of :meth:`get_event_with_version`."""
        return await events.get_event_with_version(_runtime_of(self), workflow_id, key, timeout_seconds)

    @_either
    def list_event_versions(self, workflow_id: str, key: str, *, from_version: int = 1) -> list[EventVersion]:
        """The versions of the event set so far, from ``from_version`` on, in order, without waiting (at most
        1,000 per call: ask again from the last version + 1 for more).

        Raises:
            NonExistentWorkflowError: no workflow has ``workflow_id``.
            InvalidArgumentError, ArgumentTypeError: a bad ID or key, or a negative ``from_version``.
        """
        return run_sync(event_watch.list_versions(_runtime_of(self), workflow_id, key, from_version))

    @_either
    async def list_event_versions_async(self, workflow_id: str, key: str, *, from_version: int = 1
                                        ) -> list[EventVersion]:
        """Coroutine form of :meth:`list_event_versions`."""
        return await event_watch.list_versions(_runtime_of(self), workflow_id, key, from_version)
