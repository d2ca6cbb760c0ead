"""``SetEnqueueOptions`` and the rules for enqueue options: which need a queue, which go together.

    with SetEnqueueOptions(deduplication_id="user-42", duplication_policy="return-existing"):
        handle = DBOS.enqueue_workflow("emails", send_email, "user-42")
"""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import Any, Literal, TypedDict

from tether.api.context import check_reuse_policy
from tether.engine import auth, validation
from tether.engine.attributes import encode_attributes
from tether.engine.registry import DEFAULT_MAX_RECOVERY_ATTEMPTS, RegisteredWorkflow, lookup_workflow
from tether.engine.runtime import Runtime
from tether.engine.starts import StartOptions, prepare_start
from tether.errors import QueueConfigurationError
from tether.types import WorkflowSerializationFormat

DuplicationPolicy = Literal["reject", "return-existing"]
"""What an enqueue does when an active workflow on its queue holds its deduplication ID: raise
``QueueDeduplicatedError`` (``"reject"``, the default) or return a handle on that workflow
(``"return-existing"``, whose own arguments are then discarded)."""

WorkflowIDReusePolicy = Literal["return-existing", "reject"]
"""What a start does when its workflow ID is already in use: return the existing workflow
(``"return-existing"``, the default) or raise (``"reject"``)."""

MAX_PRIORITY = 2**31 - 1


def check_duplication_policy(policy: str | None, queue_name: str | None, deduplication_id: str | None) -> None:
    """Raises:
        QueueConfigurationError: an unknown policy, or ``return-existing`` without a queue or without a
            deduplication ID."""
    if policy is None or policy == "reject":
        return
    if policy != "return-existing":
        raise QueueConfigurationError(
            f"Invalid duplication_policy {policy}. Must be either 'reject' or 'return-existing'.")
    if queue_name is None:
        raise QueueConfigurationError("duplication_policy 'return-existing' requires a queue. It is only "
                                      "supported when enqueueing a workflow onto a queue.")
    if deduplication_id is None:
        raise QueueConfigurationError("duplication_policy 'return-existing' requires a deduplication_id.")


def check_enqueue(queue_name: str | None, *, deduplication_id: str | None = None, priority: int | None = None,
                  queue_partition_key: str | None = None, delay_seconds: float | None = None,
                  duplication_policy: str | None = None) -> None:
    """The checks every enqueue (and every start under ``SetEnqueueOptions``) makes before writing anything.

    Raises:
        QueueConfigurationError: a queue-only option without a queue, deduplication on a partition, or a bad
            duplication policy.
        QueueConfigurationError: a priority outside 0..2**31-1 (a DBOSException and a ValueError, as DBOS raises).
        InvalidArgumentError, ArgumentTypeError: a bad queue name, deduplication ID or partition key, or a
            delay that is negative, NaN, infinite or too large (see :mod:`tether.engine.validation`).
    """
    if priority is not None and not 0 <= priority <= MAX_PRIORITY:
        raise QueueConfigurationError(f"Invalid priority {priority}. Priority must be between 0~{MAX_PRIORITY}.")
    validation.optional_timeout(delay_seconds, "delay_seconds")
    for argument, value in (("queue_name", queue_name), ("deduplication_id", deduplication_id),
                            ("queue_partition_key", queue_partition_key)):
        validation.optional_text(value, argument)
    if queue_name is None:
        given = [name for name, value in (("deduplication_id", deduplication_id), ("priority", priority),
                                          ("queue_partition_key", queue_partition_key),
                                          ("delay_seconds", delay_seconds)) if value is not None]
        if given:
            raise QueueConfigurationError(
                f"Enqueue option(s) {', '.join(given)} set on a workflow that is not being enqueued. "
                "These options are only supported when enqueueing a workflow onto a queue.")
    if queue_partition_key is not None and deduplication_id is not None:
        raise QueueConfigurationError("Deduplication is not supported for partitioned queues")
    check_duplication_policy(duplication_policy, queue_name, deduplication_id)


class SetEnqueueOptions:
    """Options for the workflows enqueued in this block.

    - ``deduplication_id``: while an active (enqueued, delayed or running) workflow on the same queue holds
      this ID, another enqueue with it raises ``QueueDeduplicatedError`` -- or, with
      ``duplication_policy="return-existing"``, returns a handle on the holder.
    - ``priority``: lower numbers start first (unset: 0, the highest); every queue registered with
      ``DBOS.register_queue`` orders by priority, a ``Queue(...)`` only with ``priority_enabled``.
    - ``app_version``: only processes of this application version run the workflow (also for plain starts).
    - ``queue_partition_key``: the partition of a partitioned queue the workflow joins.
    - ``delay_seconds``: the workflow is DELAYED and joins its queue after this many seconds;
      ``DBOS.set_workflow_delay`` moves it.

    Every option but ``app_version`` needs a queue: starting a workflow without one in this block raises
    ``QueueConfigurationError`` before anything is written.

    Raises:
        QueueConfigurationError: a priority outside 0..2**31-1 (a DBOSException and a ValueError, as DBOS raises).
        InvalidArgumentError, ArgumentTypeError: a negative, NaN, infinite or too large delay, or a bad
            deduplication ID, application version or partition key.
    """

    def __init__(self, *, deduplication_id: str | None = None, priority: int | None = None,
                 app_version: str | None = None, queue_partition_key: str | None = None,
                 delay_seconds: float | None = None, duplication_policy: DuplicationPolicy | None = None) -> None:
        if priority is not None and not 0 <= priority <= MAX_PRIORITY:
            raise QueueConfigurationError(f"Invalid priority {priority}. Priority must be between 0~{MAX_PRIORITY}.")
        validation.optional_timeout(delay_seconds, "delay_seconds")
        for argument, value in (("deduplication_id", deduplication_id), ("app_version", app_version),
                                ("queue_partition_key", queue_partition_key)):
            validation.optional_text(value, argument)
        self.deduplication_id = deduplication_id
        self.priority = priority
        self.app_version = app_version
        self.queue_partition_key = queue_partition_key
        self.delay_seconds = delay_seconds
        self.duplication_policy = duplication_policy
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


def refuse_for_debounce(duplication_policy: str | None) -> None:
    """Raises:
        QueueConfigurationError: ``return-existing`` asked of a debounce (which owns its deduplication)."""
    if duplication_policy == "return-existing":
        raise QueueConfigurationError("Cannot debounce a workflow with duplication_policy 'return-existing': "
                                      "a debounce owns the workflow's deduplication behavior.")


def ambient_duplication_policy() -> str | None:
    """The duplication policy of the enclosing ``SetEnqueueOptions`` block, if any."""
    o = _current.get()
    return None if o is None else o.duplication_policy


def start_options(queue_name: str | None = None, *, now_ms: int) -> StartOptions | None:
    """The StartOptions the enclosing ``SetEnqueueOptions`` block asks for (None outside one, without a
    queue).

    Raises:
        QueueConfigurationError: see :func:`check_enqueue`.
    """
    o = _current.get()
    if o is None and queue_name is None:
        return None
    opts = StartOptions(queue_name=queue_name)
    if o is not None:
        check_enqueue(queue_name, deduplication_id=o.deduplication_id, priority=o.priority,
                      queue_partition_key=o.queue_partition_key, delay_seconds=o.delay_seconds,
                      duplication_policy=o.duplication_policy)
        opts.deduplication_id = o.deduplication_id
        opts.priority = o.priority or 0
        opts.app_version = o.app_version
        opts.queue_partition_key = o.queue_partition_key
        opts.duplication_policy = o.duplication_policy
        if o.delay_seconds is not None:
            opts.delay_until_epoch_ms = now_ms + int(o.delay_seconds * 1000)
    return opts


class _EnqueueRequired(TypedDict):
    queue_name: str
    workflow_name: str


class EnqueueOptions(_EnqueueRequired, total=False):
    """How to enqueue a workflow by its registered name (``DBOSClient.enqueue``,
    ``DBOS.enqueue_workflow_with_options``): the queue and the name are required, the rest optional.
    ``application_name``: the application the workflow belongs to (default: the enqueuer's)."""

    workflow_id: str
    workflow_id_reuse_policy: WorkflowIDReusePolicy
    app_version: str
    deduplication_id: str
    duplication_policy: DuplicationPolicy
    priority: int
    queue_partition_key: str
    delay_seconds: float
    authenticated_user: str
    authenticated_roles: list[str]
    serialization_type: WorkflowSerializationFormat
    application_name: str | None
    attributes: dict[str, Any] | None
    workflow_timeout: float | None


def _timeout_ms(seconds: float | None) -> int | None:
    """A workflow timeout in milliseconds.

    Raises:
        ValueError: a timeout that is not positive.
    """
    if seconds is None:
        return None
    if not seconds > 0:
        raise ValueError(f"Invalid workflow timeout {seconds}. Timeouts must be positive.")
    return int(seconds * 1000)


def _not_here(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("Enqueued by name: this process does not run the workflow from here")


async def enqueue_by_name(rt: Runtime, options: EnqueueOptions, args: tuple[Any, ...], kwargs: dict[str, Any]
                          ) -> str:
    """Enqueue the workflow registered as ``options["workflow_name"]``; returns its ID (or, under
    ``return-existing``, the ID of the workflow holding the deduplication ID). Inside a workflow the enqueue
    is recorded as a child of it.

    Raises:
        The errors of :func:`enqueue_request`; QueueDeduplicatedError: the deduplication ID is held (policy
        ``reject``); ConflictingWorkflowError: ``workflow_id`` is already used by another workflow function;
        DBOSWorkflowIDInUseError: ``workflow_id`` exists and ``workflow_id_reuse_policy`` is ``reject``;
        SerializationError: the arguments cannot be stored.
    """
    reg, opts = enqueue_request(rt, options)
    start = await prepare_start(rt, reg, args, kwargs, opts)
    return start.workflow_id


def enqueue_request(rt: Runtime, options: EnqueueOptions) -> tuple[RegisteredWorkflow, StartOptions]:
    """What ``options`` asks to enqueue (the workflow as registered here, or by name only) and how.

    Raises:
        ValueError: ``queue_name`` or ``workflow_name`` missing, a negative delay, a priority out of range.
        QueueConfigurationError: see :func:`check_enqueue`.
        ArgumentTypeError, InvalidArgumentError: ``workflow_id`` or ``application_name`` is not acceptable text
            (an empty ``workflow_id`` too, as in DBOS), or
            ``authenticated_user`` or ``authenticated_roles`` have the wrong type.
    """
    queue_name, name = options.get("queue_name"), options.get("workflow_name")
    if not queue_name or not name:
        raise ValueError("enqueue options need queue_name and workflow_name")
    validation.text(name, "workflow_name")
    delay = options.get("delay_seconds")
    check_enqueue(queue_name, deduplication_id=options.get("deduplication_id"), priority=options.get("priority"),
                  queue_partition_key=options.get("queue_partition_key"), delay_seconds=delay,
                  duplication_policy=options.get("duplication_policy"))
    check_reuse_policy(options.get("workflow_id_reuse_policy"))
    if options.get("workflow_id") is not None:  # an empty one is refused, not taken for "none given"
        validation.workflow_id(options["workflow_id"])
    fmt = WorkflowSerializationFormat(options.get("serialization_type", WorkflowSerializationFormat.DEFAULT))
    local = lookup_workflow(name)
    reg = local if local is not None and local.serialization is fmt else RegisteredWorkflow(
        name=name, func=_not_here, is_async=False, max_recovery_attempts=DEFAULT_MAX_RECOVERY_ATTEMPTS,
        serialization=fmt)
    return reg, StartOptions(
        workflow_id=options.get("workflow_id"), queue_name=queue_name,
        deduplication_id=options.get("deduplication_id"), priority=options.get("priority") or 0,
        delay_until_epoch_ms=None if delay is None else rt.clock.now_ms() + int(delay * 1000),
        authenticated_user=auth.check_user(options.get("authenticated_user")),
        authenticated_roles=auth.check_roles(options.get("authenticated_roles")),
        app_version=options.get("app_version"), queue_partition_key=options.get("queue_partition_key"),
        duplication_policy=options.get("duplication_policy"),
        reuse_policy=options.get("workflow_id_reuse_policy"),
        attributes=encode_attributes(options.get("attributes")),
        timeout_ms=_timeout_ms(options.get("workflow_timeout")),
        application_name=validation.optional_text(options.get("application_name"), "application_name"),
    )
