"""Queue settings: validation, the queues stored in the database (``DBOS.register_queue``), and the directory
each process keeps of the queues it serves.

A queue registered in the database is served by every process of its application that shares the database
(unless ``DBOS.listen_queues`` narrows what a process serves). Its settings can be changed at run time: each
change wakes every runner (a trigger notifies through the one wake-up path), which re-reads the registry on
its next pass; a runner also re-reads it every :data:`REFRESH_SECONDS` in case a wake-up was lost. Reading
the registry is one small query per change, never one per claim.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tether.engine.runtime import Runtime
from tether.errors import QueueConfigurationError
from tether.storage.base import QueuePolicy

QueueConflictResolution = Literal["update_if_latest_version", "always_update", "never_update"]

RESERVED_PREFIX = "_tether_"
"""Names of Tether's own queues start with this; applications cannot register one."""

DBOS_RESERVED_PREFIX = "_dbos_"
"""Names of DBOS's internal queues (the Kafka consumers') start with this; as in DBOS, applications cannot
register one."""

REFRESH_SECONDS = 5.0
"""How often a runner re-reads the registry without having been told of a change."""

CHANGED_KEY = ("queue", "*", "changed")
"""The wake-up every change to the registry sends (the triggers of migration 003 send it too)."""


def validate(policy: QueuePolicy) -> QueuePolicy:
    """Check a queue's settings against each other; returns the policy unchanged.

    Raises:
        QueueConfigurationError: a limit below its minimum, a per-process limit above the matching global
            one, a per-partition limit above the queue's, a non-positive period or polling interval.
    """
    def bad(message: str) -> QueueConfigurationError:
        return QueueConfigurationError(f"Queue {policy.name!r}: {message}")

    if not isinstance(policy.name, str) or not policy.name:
        raise QueueConfigurationError("A queue needs a non-empty name")
    for what, value, least in (("global_concurrency", policy.concurrency, 0),
                               ("worker_concurrency", policy.worker_concurrency, 0),
                               ("partition_concurrency", policy.partition_concurrency, 1),
                               ("partition_worker_concurrency", policy.partition_worker_concurrency, 1)):
        if value is not None and (not isinstance(value, int) or value < least):
            raise bad(f"{what} must be an integer of at least {least}")
    g, w = policy.concurrency, policy.worker_concurrency
    pc, pw = policy.partition_concurrency, policy.partition_worker_concurrency
    if g is not None and w is not None and w > g:
        raise bad("worker_concurrency must be less than or equal to global_concurrency")
    if g is not None and pc is not None and pc > g:
        raise bad("partition_concurrency must be less than or equal to global_concurrency")
    if pw is not None and pc is not None and pw > pc:
        raise bad("partition_worker_concurrency must be less than or equal to partition_concurrency")
    if pw is not None and w is not None and pw > w:
        raise bad("partition_worker_concurrency must be less than or equal to worker_concurrency")
    if pw is not None and g is not None and pw > g:
        raise bad("partition_worker_concurrency must be less than or equal to global_concurrency")
    for what, limit, period in (("limiter", policy.limit, policy.period_ms),
                                ("partition_limiter", policy.partition_limit, policy.partition_period_ms)):
        if (limit is None) != (period is None):
            raise bad(f"{what} must specify both 'limit' and 'period'")
        if limit is not None and period is not None and (limit < 1 or period < 1):
            raise bad(f"{what} needs a positive limit and period")
    if policy.polling_interval_ms < 1:
        raise bad("polling_interval_sec must be positive")
    return policy


def rate(limiter: Any, what: str) -> tuple[int | None, int | None]:
    """A ``{"limit": n, "period": seconds}`` mapping as (limit, period in ms); (None, None) for None.

    Raises:
        QueueConfigurationError: the mapping lacks either key or holds a non-number.
    """
    if limiter is None:
        return None, None
    try:
        limit, period = limiter["limit"], limiter["period"]
        if limit is None or period is None:
            raise KeyError
        return int(limit), round(float(period) * 1000)
    except (KeyError, TypeError, ValueError) as exc:
        raise QueueConfigurationError(f"{what} must specify both 'limit' and 'period' as numbers") from exc


def build(name: str, *, concurrency: int | None = None, global_concurrency: int | None = None,
          worker_concurrency: int | None = None, limiter: Any = None, partition_concurrency: int | None = None,
          partition_worker_concurrency: int | None = None, partition_limiter: Any = None,
          polling_interval_sec: float = 1.0, priority_enabled: bool = True,
          application_name: str | None = None, application_version: str | None = None) -> QueuePolicy:
    """A validated policy from the keyword arguments ``register_queue`` and ``Queue`` take.

    Raises:
        QueueConfigurationError: see :func:`validate`; also ``concurrency`` and ``global_concurrency``
            both given.
    """
    if concurrency is not None and global_concurrency is not None:
        raise QueueConfigurationError(
            "concurrency is the older name of global_concurrency; set only one of them")
    if not isinstance(polling_interval_sec, (int, float)) or polling_interval_sec <= 0:
        raise QueueConfigurationError("polling_interval_sec must be positive")
    limit, period = rate(limiter, "limiter")
    plimit, pperiod = rate(partition_limiter, "partition_limiter")
    return validate(QueuePolicy(
        name, concurrency if global_concurrency is None else global_concurrency, worker_concurrency, limit, period,
        priority_enabled, partition_concurrency=partition_concurrency,
        partition_worker_concurrency=partition_worker_concurrency, partition_limit=plimit,
        partition_period_ms=pperiod, polling_interval_ms=max(1, round(polling_interval_sec * 1000)),
        application_name=application_name, application_version=application_version))


def check_name(name: str) -> None:
    """Raises:
        QueueConfigurationError: ``name`` is reserved for Tether's own queues or DBOS's internal ones."""
    if name.startswith(RESERVED_PREFIX):
        raise QueueConfigurationError(f"Queue name {name!r} is reserved: names starting with "
                                      f"{RESERVED_PREFIX!r} belong to Tether's own queues")
    if name.startswith(DBOS_RESERVED_PREFIX):
        raise QueueConfigurationError(f"Queue name {name!r} is reserved: names starting with "
                                      f"{DBOS_RESERVED_PREFIX!r} belong to DBOS's internal queues")


@dataclass
class QueueDirectory:
    """What one process knows of the queues stored in the database, and which queues it serves."""

    listen: frozenset[str] | None = None   # None: every queue of the application
    stored: dict[str, QueuePolicy] = field(default_factory=dict)
    loaded_at: float | None = None         # loop time of the last read; None: read before the next pass
    cursors: dict[str, str | None] = field(default_factory=dict)  # last partition served, per queue
    main_loop: asyncio.AbstractEventLoop | None = None  # the loop DBOS was launched from, if any

    def stale(self, now: float) -> bool:
        return self.loaded_at is None or now - self.loaded_at >= REFRESH_SECONDS

    def served(self, application_name: str, in_code: Iterable[QueuePolicy], always: Sequence[str]
               ) -> list[QueuePolicy]:
        """The queues this process claims from: those declared in code (``Queue(...)``) and those stored for
        this application (or for none), the stored settings winning, narrowed to ``listen``; the queues
        named in ``always`` (Tether's own) are served whatever ``listen`` says."""
        out = {p.name: p for p in in_code}
        for p in self.stored.values():
            if p.application_name in (None, application_name):
                out[p.name] = p
        return [p for p in out.values() if self.listen is None or p.name in self.listen or p.name in always]


_directories: weakref.WeakKeyDictionary[Runtime, QueueDirectory] = weakref.WeakKeyDictionary()


def directory(rt: Runtime) -> QueueDirectory:
    """This runtime's directory (created, serving every queue, on first use)."""
    d = _directories.get(rt)
    if d is None:
        d = _directories[rt] = QueueDirectory()
    return d


def is_known(name: str) -> bool:
    """Whether a launched process here knows a queue of this name in the database (registered here, or read
    from the registry by its runner); no query."""
    return any(name in d.stored for d in list(_directories.values()))


def set_listen(rt: Runtime, names: Sequence[str] | None) -> None:
    """Serve only these queues (None: all), and remember the event loop the caller runs in, if any: dequeued
    async workflows run on it while it runs."""
    d = directory(rt)
    d.listen = None if names is None else frozenset(names)
    try:
        d.main_loop = asyncio.get_running_loop()
    except RuntimeError:
        d.main_loop = None


def _changed(rt: Runtime) -> None:
    directory(rt).loaded_at = None
    rt.notify(*CHANGED_KEY)


async def register(rt: Runtime, policy: QueuePolicy, on_conflict: QueueConflictResolution
                   ) -> tuple[bool, QueuePolicy]:
    """Store a queue's settings (see :meth:`Store.register_queue`); returns (created, stored settings).

    Raises:
        QueueConfigurationError: a reserved name, an unknown ``on_conflict``, or a name another application
            registered.
    """
    check_name(policy.name)
    if on_conflict not in ("update_if_latest_version", "always_update", "never_update"):
        raise QueueConfigurationError(f"Unknown on_conflict {on_conflict!r}")
    created, stored = await rt.io(rt.store.register_queue, policy, rt.clock.now_ms(), on_conflict)
    directory(rt).stored[stored.name] = stored  # known here at once (the runner re-reads the registry too)
    _changed(rt)
    return created, stored


async def retrieve(rt: Runtime, name: str) -> QueuePolicy | None:
    return await rt.io(rt.store.get_queue, name)


async def list_stored(rt: Runtime, application_name: str | Sequence[str] | None, default_app: str | None
                      ) -> list[QueuePolicy]:
    """Stored queues of these applications (by default ``default_app``'s), with those of no application."""
    wanted: set[str | None]
    if application_name is None:
        wanted = {default_app} if default_app is not None else set()
    else:
        wanted = {application_name} if isinstance(application_name, str) else set(application_name)
    rows = await rt.io(rt.store.list_queues)
    if application_name is None and default_app is None:
        return rows
    return [p for p in rows if p.application_name is None or p.application_name in wanted]


async def delete(rt: Runtime, name: str) -> None:
    """Delete a stored queue. Workflows still enqueued on it wait until a queue of that name is served again."""
    await rt.io(rt.store.delete_queue, name)
    directory(rt).stored.pop(name, None)
    _changed(rt)


async def update(rt: Runtime, name: str, **fields: Any) -> QueuePolicy:
    """Change settings of a stored queue, checked against the settings stored now; returns the new settings.

    Raises:
        QueueConfigurationError: the result would be inconsistent (see :func:`validate`), or no such queue.
    """
    current = await rt.io(rt.store.get_queue, name)
    if current is None:
        raise QueueConfigurationError(f"Queue {name!r} not found in the database")
    updated = validate(replace(current, **fields))
    if not await rt.io(rt.store.update_queue, name, fields, rt.clock.now_ms()):
        raise QueueConfigurationError(f"Queue {name!r} not found in the database")
    _changed(rt)
    return updated
