"""The interface of a wake-up listener, which every backend implements beside its store: it delivers the
wake-ups of writes other connections (other processes) committed (LISTEN/NOTIFY on PostgreSQL, the wake-up
log on SQLite)."""

from __future__ import annotations

import abc
from collections.abc import Callable

WakeupCallback = Callable[[str, str, str], None]
"""Called by a listener with (kind, workflow_id, key) for each committed write another process made."""


class Listener(abc.ABC):
    """Delivers wake-ups for writes made by other connections (other processes)."""

    @abc.abstractmethod
    def start(self, callback: WakeupCallback, on_reconnect: Callable[[], None]) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...
