"""``Debouncer`` and ``DebouncerClient``: run a workflow once a burst of calls is over, with the last arguments.

    on_edit = Debouncer.create(reindex, debounce_timeout_sec=60)
    on_edit.debounce(doc_id, 5.0, doc_id, text)   # starts 5 s after the last call for doc_id, or at most
                                                  # 60 s after the first

See :mod:`tether.engine.debouncer` for how the debounce lives in the database and survives crashes.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Generic, ParamSpec, TypeVar

from tether.api.client import DBOSClient
from tether.api.client_management import EnqueueOptions
from tether.api.dbos import DBOS, _registered
from tether.api.enqueue_options import ambient_duplication_policy, refuse_for_debounce
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.queue import Queue
from tether.engine import debouncer, validation
from tether.engine.bridge import run_sync
from tether.engine.context import DebounceStart, reset_debounce, set_debounce
from tether.engine.queues import INTERNAL_QUEUE, registered_queue
from tether.engine.registry import lookup_workflow
from tether.errors import InvalidScheduleError
from tether.types import WorkflowSerializationFormat

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def _debouncing(start: DebounceStart) -> Iterator[None]:
    token = set_debounce(start)
    try:
        yield
    finally:
        reset_debounce(token)


def _queue_name(queue: Queue | str | None) -> str | None:
    return queue.name if isinstance(queue, Queue) else queue


class Debouncer(Generic[P, R]):
    """Debounces calls of one workflow function. Make one with :meth:`create`."""

    def __init__(self, workflow_name: str, *, debounce_timeout_sec: float | None = None,
                 queue: Queue | str | None = None, application_name: str | None = None) -> None:
        if debounce_timeout_sec is not None and debounce_timeout_sec < 0:
            raise ValueError("debounce_timeout_sec must be non-negative")
        self.workflow_name = workflow_name
        self.debounce_timeout_sec = debounce_timeout_sec
        self.queue_name = _queue_name(queue)
        self.application_name = validation.optional_text(application_name, "application_name")
        self._workflow: Callable[..., Any] | None = None  # the @DBOS.workflow() function, when made by create

    @staticmethod
    def create(workflow: Callable[P, R], *, debounce_timeout_sec: float | None = None,
               queue: Queue | str | None = None, application_name: str | None = None) -> Debouncer[P, R]:
        """A debouncer of ``workflow`` (a ``@DBOS.workflow()`` function), whose runs start on ``queue``
        (default: Tether's internal queue) at most ``debounce_timeout_sec`` after a burst's first call, and
        belong to ``application_name`` (default: this application).

        Raises:
            TypeError: ``workflow`` is a bound method or not a workflow function.
            ValueError: a negative timeout.
            ArgumentTypeError, InvalidArgumentError: ``application_name`` is not acceptable text.
        """
        if inspect.ismethod(workflow):
            raise TypeError("Only workflow functions may be debounced, not methods")
        reg, _ = _registered(workflow)
        made: Debouncer[P, R] = Debouncer(reg.name, debounce_timeout_sec=debounce_timeout_sec, queue=queue,
                                          application_name=application_name)
        made._workflow = workflow
        return made

    @staticmethod
    def create_async(workflow: Callable[P, Coroutine[Any, Any, R]], *, debounce_timeout_sec: float | None = None,
                     queue: Queue | str | None = None, application_name: str | None = None) -> Debouncer[P, R]:
        """:meth:`create` for an async workflow function."""
        return Debouncer.create(workflow, debounce_timeout_sec=debounce_timeout_sec,  # type: ignore[arg-type]
                                queue=queue, application_name=application_name)

    def _queue(self) -> Queue:
        name = self.queue_name or INTERNAL_QUEUE
        policy = registered_queue(name)
        if policy is None:
            stored = DBOS.retrieve_queue(name)  # a queue registered in the database
            if stored is None:
                raise InvalidScheduleError(f"Invalid queue name provided to debouncer: {name}")
            return stored
        return Queue(policy.name, policy.concurrency, None if policy.limit is None or policy.period_ms is None
                     else {"limit": policy.limit, "period": policy.period_ms / 1000},
                     worker_concurrency=policy.worker_concurrency, priority_enabled=policy.priority_enabled)

    def _target(self, queue: Queue) -> tuple[Callable[..., Any], debouncer.Target]:
        reg = lookup_workflow(self.workflow_name)
        if reg is None:
            raise InvalidScheduleError(f"Invalid workflow name provided to debouncer: {self.workflow_name}")
        if self._workflow is None:
            raise InvalidScheduleError("Make a debouncer with Debouncer.create(workflow)")
        return self._workflow, debouncer.Target(self.workflow_name, queue.name, reg.serialization,
                                          self.debounce_timeout_sec, self.application_name)

    def debounce(self, debounce_key: str, debounce_period_sec: float, *args: P.args,
                 **kwargs: P.kwargs) -> WorkflowHandle[R]:
        """Call the workflow with these arguments once no call with ``debounce_key`` came for
        ``debounce_period_sec`` (or the timeout since the burst's first call passed). Returns a handle on
        the workflow that will run; every call of one burst gets the same one.

        Raises:
            InvalidScheduleError: the queue (in this process or in the database) or the workflow is not
                registered.
            QueueConfigurationError: an enclosing ``SetEnqueueOptions`` asks for ``return-existing``.
            QueueDeduplicatedError: a workflow that is not this debounce holds the key on the queue.
            SerializationError: the arguments cannot be stored.
            ValueError: a negative period.
        """
        rt = DBOS._rt()
        refuse_for_debounce(ambient_duplication_policy())
        queue = self._queue()
        func, target = self._target(queue)

        async def enqueue(start: DebounceStart) -> str:
            with _debouncing(start):
                return queue.enqueue(func, *args, **kwargs).workflow_id

        return WorkflowHandle(rt, run_sync(debouncer.debounce(rt, target, debounce_key, debounce_period_sec,
                                                              args, kwargs, enqueue)))

    async def debounce_async(self, debounce_key: str, debounce_period_sec: float, *args: P.args,
                             **kwargs: P.kwargs) -> WorkflowHandleAsync[R]:
        """Coroutine form of :meth:`debounce`."""
        rt = DBOS._rt()
        refuse_for_debounce(ambient_duplication_policy())
        queue = self._queue()
        func, target = self._target(queue)

        async def enqueue(start: DebounceStart) -> str:
            with _debouncing(start):
                return (await queue.enqueue_async(func, *args, **kwargs)).workflow_id

        return WorkflowHandleAsync(rt, await debouncer.debounce(rt, target, debounce_key, debounce_period_sec,
                                                                args, kwargs, enqueue))


class DebouncerClient:
    """A debouncer used through a ``DBOSClient`` (from outside the application): the workflow is named in
    ``workflow_options`` (``workflow_name`` and ``queue_name``, as for ``DBOSClient.enqueue``)."""

    def __init__(self, client: DBOSClient, workflow_options: EnqueueOptions, *,
                 debounce_timeout_sec: float | None = None, queue: Queue | str | None = None,
                 application_name: str | None = None) -> None:
        """A debouncer of the workflow ``workflow_options`` names, whose runs belong to ``application_name``
        (default: the options' ``application_name``, else the client's application).

        Raises:
            InvalidScheduleError: the options set ``deduplication_id``, ``delay_seconds`` or ``priority``.
            ArgumentTypeError, InvalidArgumentError: ``application_name`` is not acceptable text.
        """
        self.application_name = validation.optional_text(application_name, "application_name")
        for option in ("deduplication_id", "delay_seconds", "priority"):
            if workflow_options.get(option) is not None:
                raise InvalidScheduleError(f"Cannot debounce a workflow with {option} set: the debouncer owns it")
        self.client = client
        self.workflow_options = workflow_options
        self.debounce_timeout_sec = debounce_timeout_sec
        self.queue_name = _queue_name(queue) or workflow_options.get("queue_name") or INTERNAL_QUEUE

    def _target(self) -> debouncer.Target:
        fmt = WorkflowSerializationFormat(self.workflow_options.get("serialization_type",
                                                                    WorkflowSerializationFormat.DEFAULT))
        return debouncer.Target(self.workflow_options["workflow_name"], self.queue_name, fmt,
                                self.debounce_timeout_sec, self.application_name)

    async def debounce_async(self, debounce_key: str, debounce_period_sec: float, *args: Any,
                             **kwargs: Any) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`debounce`."""
        refuse_for_debounce(self.workflow_options.get("duplication_policy"))
        options: EnqueueOptions = {**self.workflow_options, "queue_name": self.queue_name}

        async def enqueue(start: DebounceStart) -> str:
            with _debouncing(start):
                return (await self.client.enqueue_async(options, *args, **kwargs)).workflow_id

        rt = self.client._rt
        return WorkflowHandleAsync(rt, await debouncer.debounce(rt, self._target(), debounce_key,
                                                                debounce_period_sec, args, kwargs, enqueue))

    def debounce(self, debounce_key: str, debounce_period_sec: float, *args: Any, **kwargs: Any
                 ) -> WorkflowHandle[Any]:
        """See :meth:`Debouncer.debounce`.

        Raises:
            QueueConfigurationError: the workflow options ask for ``return-existing``.
            QueueDeduplicatedError: a workflow that is not this debounce holds the key on the queue.
            SerializationError: the arguments cannot be stored.
            ValueError: a negative period.
        """
        handle = run_sync(self.debounce_async(debounce_key, debounce_period_sec, *args, **kwargs))
        return WorkflowHandle(self.client._rt, handle.workflow_id)
