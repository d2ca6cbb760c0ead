"""``Queue`` and ``SetEnqueueOptions``: run workflows under concurrency and rate limits, by priority, once
per deduplication ID, or after a delay.

    queue = Queue("emails", concurrency=2, limiter={"limit": 10, "period": 1.0})
    with SetEnqueueOptions(deduplication_id="user-42", delay_seconds=30):
        handle = queue.enqueue(send_email, "user-42")
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, TypedDict, TypeVar

from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.engine.bridge import run_sync
from tether.engine.queues import register_queue
from tether.engine.workflows import StartOptions, prepare_start
from tether.storage.base import QueuePolicy

P = ParamSpec("P")
R = TypeVar("R")


class QueueRateLimit(TypedDict):
    """At most ``limit`` workflows of the queue start within any ``period`` seconds (over all processes)."""

    limit: int
    period: float


class SetEnqueueOptions:
    """Options for the workflows enqueued (or started) in this block.

    - ``deduplication_id``: an enqueue raises ``QueueDeduplicatedError`` while another active (enqueued,
      delayed or running) workflow on the same queue holds this ID.
    - ``priority``: on a queue with ``priority_enabled``, lower numbers start first (unset: 0, the highest).
    - ``app_version``: only processes of this application version run the workflow.
    - ``delay_seconds``: the workflow is DELAYED and starts (or joins its queue) after this many seconds;
      ``DBOS.set_workflow_delay`` moves it. Also applies to ``DBOS.start_workflow``.

    Raises:
        ValueError: a negative delay or a priority outside 0..2**31-1.
    """

    def __init__(self, *, deduplication_id: str | None = None, priority: int | None = None,
                 app_version: str | None = None, delay_seconds: float | None = None) -> None:
        if priority is not None and not 0 <= priority <= 2**31 - 1:
            raise ValueError("priority must be between 0 and 2**31 - 1")
        if delay_seconds is not None and delay_seconds < 0:
            raise ValueError("delay_seconds must be non-negative")
        self.deduplication_id = deduplication_id
        self.priority = priority
        self.app_version = app_version
        self.delay_seconds = delay_seconds
        self._token: contextvars.Token[SetEnqueueOptions | None] | None = None

    def __enter__(self) -> SetEnqueueOptions:
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None

    async def __aenter__(self) -> SetEnqueueOptions:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


_current: contextvars.ContextVar[SetEnqueueOptions | None] = contextvars.ContextVar(
    "tether_enqueue_options", default=None)


def start_options(queue_name: str | None = None, *, now_ms: int) -> StartOptions | None:
    """The StartOptions the enclosing ``SetEnqueueOptions`` block asks for (None outside one, without a
    queue)."""
    o = _current.get()
    if o is None and queue_name is None:
        return None
    opts = StartOptions(queue_name=queue_name)
    if o is not None:
        opts.deduplication_id = o.deduplication_id
        opts.priority = o.priority or 0
        opts.app_version = o.app_version
        if o.delay_seconds is not None:
            opts.delay_until_epoch_ms = now_ms + int(o.delay_seconds * 1000)
    return opts


class Queue:
    """A named queue this process serves. Workflows enqueued on it start as its limits allow:

    - ``concurrency``: at most this many run at once over every process sharing the database;
    - ``worker_concurrency``: at most this many run at once in each process;
    - ``limiter``: at most ``limit`` start within any ``period`` seconds, over every process;
    - ``priority_enabled``: order by ``SetEnqueueOptions(priority=...)``, then by enqueue time.

    Raises:
        ValueError: a limit that is not a positive number.
    """

    def __init__(self, name: str, concurrency: int | None = None, limiter: QueueRateLimit | None = None, *,
                 worker_concurrency: int | None = None, priority_enabled: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("A queue needs a non-empty name")
        for what, value in (("concurrency", concurrency), ("worker_concurrency", worker_concurrency)):
            if value is not None and value < 1:
                raise ValueError(f"{what} must be at least 1")
        if concurrency is not None and worker_concurrency is not None and worker_concurrency > concurrency:
            raise ValueError("worker_concurrency cannot exceed concurrency")
        limit = period_ms = None
        if limiter is not None:
            limit, period_ms = int(limiter["limit"]), int(float(limiter["period"]) * 1000)
            if limit < 1 or period_ms < 1:
                raise ValueError("limiter needs a positive limit and period")
        self.name = name
        self.concurrency = concurrency
        self.worker_concurrency = worker_concurrency
        self.limiter = limiter
        self.priority_enabled = priority_enabled
        register_queue(QueuePolicy(name, concurrency, worker_concurrency, limit, period_ms, priority_enabled))

    def enqueue(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> WorkflowHandle[R]:
        """Enqueue a workflow; returns once it is durably recorded (ENQUEUED, or DELAYED with a delay).

        Raises:
            QueueDeduplicatedError: the deduplication ID is held by an active workflow on this queue.
            ValueError: a priority on a queue without ``priority_enabled``.
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
        from tether.api.dbos import DBOS, _registered

        rt = DBOS._rt()
        reg, bound = _registered(func)
        opts = start_options(self.name, now_ms=rt.clock.now_ms())
        assert opts is not None
        if opts.priority and not self.priority_enabled:
            raise ValueError(f"Queue {self.name!r} does not have priority_enabled")
        start = await prepare_start(rt, reg, bound + args, kwargs, opts)
        return start.workflow_id  # ENQUEUED (or DELAYED): the queue runner starts it

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"
