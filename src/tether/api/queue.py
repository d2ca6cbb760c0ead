"""``Queue``: a named queue whose workflows start as its limits allow -- by priority, once per deduplication
ID, after a delay, per partition.

Queues are registered in the database, where every process sharing it sees them and their settings can be
changed at run time::

    queue = DBOS.register_queue("emails", global_concurrency=2, limiter={"limit": 10, "period": 1.0})
    handle = DBOS.enqueue_workflow("emails", send_email, "user-42")
    queue.set_global_concurrency(4)          # every process serving "emails" follows

The older form ``Queue("emails", concurrency=2)`` still works: that queue is served by this process with
the settings given in code, and its settings cannot be changed at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypedDict, TypeVar

from tether.api.enqueue_options import SetEnqueueOptions, start_options
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.engine import queue_settings, validation
from tether.engine.bridge import run_sync
from tether.engine.queues import register_queue
from tether.engine.runtime import Runtime
from tether.engine.starts import prepare_start
from tether.errors import QueueConfigurationError
from tether.storage.base import QueuePolicy

__all__ = ["Queue", "QueueRateLimit", "SetEnqueueOptions", "enqueue", "start_options"]

P = ParamSpec("P")
R = TypeVar("R")


class QueueRateLimit(TypedDict):
    """At most ``limit`` workflows of the queue (or of each partition) start within any ``period`` seconds,
    over all processes."""

    limit: int
    period: float


def _limiter(limit: int | None, period_ms: int | None) -> QueueRateLimit | None:
    if limit is None or period_ms is None:
        return None
    return {"limit": limit, "period": period_ms / 1000}


class Queue:
    """A queue. Obtain one with ``DBOS.register_queue`` / ``DBOS.retrieve_queue`` (settings stored in the
    database, changeable with the ``set_*`` methods), or declare one in code with ``Queue(name, ...)``
    (served by this process only, with fixed settings). Limits:

    - ``global_concurrency`` (older name ``concurrency``): at most this many run at once over every process;
    - ``worker_concurrency``: at most this many run at once in each process;
    - ``limiter``: at most ``limit`` start within any ``period`` seconds, over every process;
    - ``partition_concurrency``, ``partition_worker_concurrency``, ``partition_limiter``: the same limits for
      each partition (``SetEnqueueOptions(queue_partition_key=...)``) separately; setting any makes the queue
      partitioned. The queue-wide limits still apply to the queue as a whole.
    - ``priority_enabled`` (``Queue(...)`` only; registered queues always order by priority).

    Raises:
        QueueConfigurationError: limits that contradict each other, or a limit that is not positive.
    """

    def __init__(self, name: str, concurrency: int | None = None, limiter: QueueRateLimit | None = None, *,
                 worker_concurrency: int | None = None, priority_enabled: bool = False,
                 global_concurrency: int | None = None, partition_concurrency: int | None = None,
                 partition_worker_concurrency: int | None = None,
                 partition_limiter: QueueRateLimit | None = None, polling_interval_sec: float = 1.0) -> None:
        validation.text(name, "queue name")
        for what, value in (("concurrency", concurrency), ("global_concurrency", global_concurrency),
                            ("worker_concurrency", worker_concurrency)):
            if value is not None and value < 1:
                raise QueueConfigurationError(f"{what} must be at least 1")
        policy = queue_settings.build(
            name, concurrency=concurrency, global_concurrency=global_concurrency,
            worker_concurrency=worker_concurrency, limiter=limiter, partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency, partition_limiter=partition_limiter,
            polling_interval_sec=polling_interval_sec, priority_enabled=priority_enabled)
        self._bind(policy, None)
        register_queue(policy)

    @classmethod
    def _stored(cls, policy: QueuePolicy, runtime: Callable[[], Runtime], *, client: bool = False) -> Queue:
        """A handle on a queue stored in the database (``runtime`` gives DBOS's or a client's runtime)."""
        q = cls.__new__(cls)
        q._bind(policy, runtime, client)
        return q

    def _bind(self, policy: QueuePolicy, runtime: Callable[[], Runtime] | None, client: bool = False) -> None:
        self.name = policy.name
        self._policy = policy
        self._runtime = runtime
        self._client = client

    @property
    def database_backed_queue(self) -> bool:
        """Whether the settings live in the database (registered) rather than in code (``Queue(...)``)."""
        return self._runtime is not None

    @property
    def application_name(self) -> str | None:
        return self._policy.application_name

    # -- reading and changing settings ---------------------------------------------------------------------
    async def _read_async(self) -> QueuePolicy:
        if self._runtime is not None:
            got = await queue_settings.retrieve(self._runtime(), self.name)
            if got is None:
                raise QueueConfigurationError(f"Queue {self.name!r} not found in the database")
            self._policy = got
        return self._policy

    def _read(self) -> QueuePolicy:
        return self._policy if self._runtime is None else run_sync(self._read_async())

    async def _set_async(self, **fields: Any) -> None:
        if self._runtime is None:
            raise QueueConfigurationError(
                f"Cannot configure queue {self.name!r}: only queues registered with DBOS.register_queue have "
                "settings that can be changed at run time")
        self._policy = await queue_settings.update(self._runtime(), self.name, **fields)

    def _set(self, **fields: Any) -> None:
        run_sync(self._set_async(**fields))

    @property
    def global_concurrency(self) -> int | None:
        """Raises: QueueConfigurationError: a registered queue that was deleted."""
        return self._read().concurrency

    @property
    def concurrency(self) -> int | None:
        """The older name of :attr:`global_concurrency`."""
        return self._read().concurrency

    @property
    def worker_concurrency(self) -> int | None:
        return self._read().worker_concurrency

    @property
    def limiter(self) -> QueueRateLimit | None:
        p = self._read()
        return _limiter(p.limit, p.period_ms)

    @property
    def partition_concurrency(self) -> int | None:
        return self._read().partition_concurrency

    @property
    def partition_worker_concurrency(self) -> int | None:
        return self._read().partition_worker_concurrency

    @property
    def partition_limiter(self) -> QueueRateLimit | None:
        p = self._read()
        return _limiter(p.partition_limit, p.partition_period_ms)

    @property
    def polling_interval_sec(self) -> float:
        return self._read().polling_interval_ms / 1000

    @property
    def priority_enabled(self) -> bool:
        return self._policy.priority_enabled

    async def get_global_concurrency_async(self) -> int | None:
        return (await self._read_async()).concurrency

    async def get_concurrency_async(self) -> int | None:
        return (await self._read_async()).concurrency

    async def get_worker_concurrency_async(self) -> int | None:
        return (await self._read_async()).worker_concurrency

    async def get_limiter_async(self) -> QueueRateLimit | None:
        p = await self._read_async()
        return _limiter(p.limit, p.period_ms)

    async def get_partition_concurrency_async(self) -> int | None:
        return (await self._read_async()).partition_concurrency

    async def get_partition_worker_concurrency_async(self) -> int | None:
        return (await self._read_async()).partition_worker_concurrency

    async def get_partition_limiter_async(self) -> QueueRateLimit | None:
        p = await self._read_async()
        return _limiter(p.partition_limit, p.partition_period_ms)

    async def get_polling_interval_sec_async(self) -> float:
        return (await self._read_async()).polling_interval_ms / 1000

    def set_global_concurrency(self, value: int | None) -> None:
        """Change the limit for every process serving the queue (checked against the other limits).

        Raises:
            QueueConfigurationError: a queue declared in code, or a value that contradicts another limit.
        """
        self._set(concurrency=value)

    async def set_global_concurrency_async(self, value: int | None) -> None:
        await self._set_async(concurrency=value)

    def set_concurrency(self, value: int | None) -> None:
        """The older name of :meth:`set_global_concurrency`."""
        self._set(concurrency=value)

    async def set_concurrency_async(self, value: int | None) -> None:
        await self._set_async(concurrency=value)

    def set_worker_concurrency(self, value: int | None) -> None:
        self._set(worker_concurrency=value)

    async def set_worker_concurrency_async(self, value: int | None) -> None:
        await self._set_async(worker_concurrency=value)

    def set_limiter(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_settings.rate(value, "limiter")
        self._set(limit=limit, period_ms=period)

    async def set_limiter_async(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_settings.rate(value, "limiter")
        await self._set_async(limit=limit, period_ms=period)

    def set_partition_concurrency(self, value: int | None) -> None:
        self._set(partition_concurrency=value)

    async def set_partition_concurrency_async(self, value: int | None) -> None:
        await self._set_async(partition_concurrency=value)

    def set_partition_worker_concurrency(self, value: int | None) -> None:
        self._set(partition_worker_concurrency=value)

    async def set_partition_worker_concurrency_async(self, value: int | None) -> None:
        await self._set_async(partition_worker_concurrency=value)

    def set_partition_limiter(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_settings.rate(value, "partition_limiter")
        self._set(partition_limit=limit, partition_period_ms=period)

    async def set_partition_limiter_async(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_settings.rate(value, "partition_limiter")
        await self._set_async(partition_limit=limit, partition_period_ms=period)

    def set_polling_interval_sec(self, value: float) -> None:
        self._set(polling_interval_ms=_interval_ms(value))

    async def set_polling_interval_sec_async(self, value: float) -> None:
        await self._set_async(polling_interval_ms=_interval_ms(value))

    # -- enqueueing ----------------------------------------------------------------------------------------
    def enqueue(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> WorkflowHandle[R]:
        """Enqueue a workflow; returns once it is durably recorded (ENQUEUED, or DELAYED with a delay).

        Raises:
            QueueDeduplicatedError: the deduplication ID is held by an active workflow on this queue.
            QueueConfigurationError: see ``SetEnqueueOptions``; or a queue obtained from a ``DBOSClient``
                (enqueue with ``DBOSClient.enqueue`` there).
            ValueError: a priority on a ``Queue(...)`` without ``priority_enabled``.
            SerializationError: the arguments cannot be stored.
            NotLaunchedError: DBOS is not launched.
        """
        from tether.api.dbos import DBOS

        return WorkflowHandle(DBOS._rt(), run_sync(self._enqueue(func, args, kwargs)))

    async def enqueue_async(self, func: Callable[P, Coroutine[Any, Any, R]] | Callable[P, R],
                            *args: P.args, **kwargs: P.kwargs) -> WorkflowHandleAsync[R]:
        """Coroutine form of :meth:`enqueue`."""
        from tether.api.dbos import DBOS

        return WorkflowHandleAsync(DBOS._rt(), await self._enqueue(func, args, kwargs))

    async def _enqueue(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        if self._client:
            raise QueueConfigurationError(f"Cannot enqueue on queue {self.name!r} from a queue obtained from a "
                                          "DBOSClient. Use DBOSClient.enqueue instead.")
        return await enqueue(self.name, func, args, kwargs, priority_enabled=self._policy.priority_enabled)

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"


def _interval_ms(value: float) -> int:
    if not isinstance(value, (int, float)) or value <= 0:
        raise QueueConfigurationError("polling_interval_sec must be positive")
    return max(1, round(value * 1000))


async def enqueue(queue_name: str, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *,
                  priority_enabled: bool = True) -> str:
    """Enqueue ``func`` on ``queue_name`` under the enclosing ``SetEnqueueOptions``; returns the workflow ID.
    The queue need not be registered yet: the workflow waits, ENQUEUED, until a process serves the queue."""
    from tether.api.dbos import DBOS, _registered

    rt = DBOS._rt()
    reg, bound = _registered(func)
    opts = start_options(queue_name, now_ms=rt.clock.now_ms())
    assert opts is not None
    if opts.priority and not priority_enabled:
        raise ValueError(f"Queue {queue_name!r} does not have priority_enabled")
    start = await prepare_start(rt, reg, bound + args, kwargs, opts)
    return start.workflow_id  # ENQUEUED (or DELAYED): the queue runner starts it
