"""``DBOS``: the public facade. Every method is a thin shell over one engine coroutine; the ``*_async`` form
awaits it, the sync form runs it through the bridge."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast, overload

from tether.api import handles, instances, validation
from tether.api.communication import Communication
from tether.api.conductor import ConductorHooks
from tether.api.context_info import ContextInfo, _ClassProperty
from tether.api.database_admin import DatabaseAdmin
from tether.api.enqueue_options import start_options
from tether.api.event_watching import EventWatching
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.kafka import KafkaAPI
from tether.api.mailboxes import MailboxReading
from tether.api.management import ManagementAPI
from tether.api.queue_api import QueueAPI
from tether.api.roles import Authorization
from tether.api.schedules import ScheduleAPI
from tether.api.select_api import SelectAPI
from tether.api.status import to_status
from tether.api.stream_reading import StreamReading
from tether.api.tracing_api import TracingAPI
from tether.api.validation import ValidateArgs
from tether.api.versions import VersionManagement
from tether.config import DBOSConfig, ignored_settings, settings_from_config
from tether.engine import auth, logs, tracing
from tether.engine.bridge import run_sync, run_sync_call
from tether.engine.clock import Clock
from tether.engine.context import workflow_for_operation
from tether.engine.heartbeat import start_membership
from tether.engine.kafka import start_consumers, stop_consumers
from tether.engine.outcomes import drain, read_result, wait_for_workflow
from tether.engine.queue_settings import set_listen
from tether.engine.queues import start_queue_runner
from tether.engine.recovery import recover_pending_workflows
from tether.engine.registry import WORKFLOW_ATTR, RegisteredWorkflow, StepPolicy, code_version, register_workflow
from tether.engine.runtime import Runtime, create_database
from tether.engine.schedules import forget_classic, start_scheduler
from tether.engine.starts import Start, prepare_start
from tether.engine.steps import as_operation, recorded_under_another_name, run_step_async, run_step_sync
from tether.engine.validation import optional_text
from tether.engine.validation import workflow_id as valid_workflow_id
from tether.engine.versions import register_at_launch
from tether.engine.workflows import call_async, call_sync, launch_in_background
from tether.errors import ConfigError, NotAWorkflowError, NotLaunchedError, WorkflowNotFoundError
from tether.serialization import set_default_serializer
from tether.types import StepOptions, WorkflowSerializationFormat, WorkflowStatus

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_WORKFLOW_ATTR = WORKFLOW_ATTR
_STEP_ATTR = "__tether_step__"


def _registered(func: Callable[..., Any]) -> tuple[RegisteredWorkflow, tuple[Any, ...]]:
    """The registration behind a workflow function or bound method, and the bound ``self`` if any."""
    bound: tuple[Any, ...] = ()
    target = func
    if inspect.ismethod(func):
        bound = (func.__self__,)
        target = func.__func__
    reg = getattr(target, _WORKFLOW_ATTR, None)
    if reg is None and getattr(target, _STEP_ATTR, False):
        reg = _step_as_workflow(target)
    if reg is None:
        raise NotAWorkflowError("<NONE>", f"{getattr(func, '__name__', func)} is not a registered workflow function")
    return reg, bound


def _step_as_workflow(step: Callable[..., Any]) -> RegisteredWorkflow:
    """A step started or enqueued on its own runs as a workflow of one step, registered on first use as
    ``<temp>.<step name>``."""
    name = f"<temp>.{getattr(step, '__qualname__', 'step')}"
    if inspect.iscoroutinefunction(step):
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            return await step(*args, **kwargs)
        func: Callable[..., Any] = run_async
    else:
        def run(*args: Any, **kwargs: Any) -> Any:
            return step(*args, **kwargs)
        func = run
    func.__qualname__ = name
    reg = register_workflow(func, name, None, WorkflowSerializationFormat.DEFAULT)
    setattr(step, _WORKFLOW_ATTR, reg)
    return reg


class DBOS(Communication, ManagementAPI, ScheduleAPI, QueueAPI, SelectAPI, StreamReading, MailboxReading,
           EventWatching, ContextInfo, TracingAPI, VersionManagement, DatabaseAdmin, Authorization,
           ConductorHooks, KafkaAPI):
    """The application: configure it with ``DBOS(config=...)``, then ``DBOS.launch()``.

    All methods are class-level, so ``DBOS.send(...)`` and ``dbos.send(...)`` are the same call.
    """

    _instance: DBOS | None = None
    _runtime: Runtime | None = None
    logger: logging.Logger = logs.logger

    def __new__(cls, *, config: DBOSConfig, conductor_url: str | None = None, conductor_key: str | None = None,
                clock: Clock | None = None) -> DBOS:
        """Create the application (one per process). Once launched, ``DBOS(config=...)`` on the same database
        returns the running application, as in DBOS. ``conductor_url`` and ``conductor_key`` are accepted as
        DBOS takes them and have no effect (DBOS Conductor is a DBOS service; launch logs a warning when one
        is given), like the config keys of the same names.

        Raises:
            ConfigError: the config is invalid (or asks for OpenTelemetry that is not installed), or names
                another database than the launched application's
                (call ``DBOS.destroy()`` first).
            ArgumentTypeError: ``conductor_url`` or ``conductor_key`` is neither None nor a string.
        """
        settings = settings_from_config(config)
        conductor = {name: value for name, value in (("conductor_url", conductor_url),
                                                     ("conductor_key", conductor_key))
                     if optional_text(value, name, empty=True) is not None}
        tracing.check(settings)
        running = cls._instance
        if cls._runtime is not None and running is not None:
            current = running._settings.database  # type: ignore[attr-defined]
            if settings.database != current:
                raise ConfigError(
                    f"DBOS is already launched on {current.backend} database {current.url!r}; call "
                    f"DBOS.destroy() before configuring another database ({settings.database.url!r})")
            return running
        inst = super().__new__(cls)
        inst._settings = settings  # type: ignore[attr-defined]
        inst._clock = clock  # type: ignore[attr-defined]
        inst._ignored = ignored_settings({**config, **conductor})  # type: ignore[attr-defined,typeddict-item]
        cls._instance = inst
        cls._listen = None
        return inst

    def __init__(self, *, config: DBOSConfig, conductor_url: str | None = None, conductor_key: str | None = None,
                 clock: Clock | None = None) -> None:
        pass

    # -- lifecycle -------------------------------------------------------------------------------------
    @classmethod
    def launch(cls) -> None:
        """Open the database (running migrations) and recover this executor's pending workflows.

        Raises:
            NotLaunchedError: ``DBOS(config=...)`` was not called first.
            StorageError: the database cannot be reached or migrated, or a missing PostgreSQL database cannot be
                created (the message says what to run).
            ConfigError: the ``executor_id`` given in the config (or ``DBOS__VMID``) is held by another live
                process on this database.
        """
        inst = cls._instance
        if inst is None:
            raise NotLaunchedError("Create the application with DBOS(config=...) before DBOS.launch()")
        if cls._runtime is not None:
            return
        settings = inst._settings  # type: ignore[attr-defined]
        logs.configure_logger(settings.log_level, settings.console_log_level)
        set_default_serializer(settings.serializer)
        for note in inst._ignored:  # type: ignore[attr-defined]
            cls.logger.warning("Config key %s has no effect in Tether", note)
        create_database(settings.database)  # a missing PostgreSQL database is created, as DBOS does
        rt = Runtime(settings, inst._clock)  # type: ignore[attr-defined]
        if not settings.application_version:
            rt.application_version = code_version()
        cls._runtime = rt
        tracing.configure(settings, rt.application_version)  # before recovery runs anything
        try:
            start_membership(rt, settings.name)  # registers this process, takes back its executor's dead work
            register_at_launch(rt)
            recover_pending_workflows(rt)
            set_listen(rt, cls._listen)
            start_queue_runner(rt)
            start_scheduler(rt)
            start_consumers(rt)
        except BaseException:
            # Not launched: a later launch() tries again from the start, and DBOS(config=...) for another
            # database is not refused as "already launched"; the runtime's connections are closed.
            cls._runtime = None
            tracing.shut_down()
            rt.close()
            raise

    @classmethod
    def destroy(cls, *, destroy_registry: bool = False, workflow_completion_timeout_sec: int = 0) -> None:
        """Stop background work and close the database. Workflows still running are recovered next launch.

        ``workflow_completion_timeout_sec`` first gives the workflows running here that long to finish.
        With ``destroy_registry``, the schedules of ``@DBOS.scheduled`` and the consumers of
        ``@DBOS.kafka_consumer`` are forgotten too; registered workflow functions are kept (they are the code,
        not state of the destroyed application).
        """
        stop_consumers(forget=destroy_registry)  # first: no message is enqueued on a closing runtime
        rt = cls._runtime
        if rt is not None and workflow_completion_timeout_sec > 0:
            run_sync(drain(rt, float(workflow_completion_timeout_sec)))
        if destroy_registry:
            forget_classic()
        rt, cls._runtime = cls._runtime, None
        cls._instance = None
        cls._alert_handler = None  # it belonged to the destroyed application, as in DBOS
        tracing.shut_down()
        if rt is not None:
            rt.close()
            set_default_serializer(None)

    @classmethod
    def _rt(cls) -> Runtime:
        rt = cls._runtime
        if rt is None:
            raise NotLaunchedError("DBOS is not launched: call DBOS(config=...) and DBOS.launch() first")
        return rt

    @_ClassProperty
    def application_version(cls) -> str:
        return cls._rt().application_version

    @_ClassProperty
    def executor_id(cls) -> str:
        return cls._rt().settings.executor_id

    # -- decorators ------------------------------------------------------------------------------------
    @staticmethod
    def workflow(*, name: str | None = None, max_recovery_attempts: int | None = None,
                 serialization_type: WorkflowSerializationFormat | None = None,
                 validate_args: ValidateArgs | None = None, auto_upgrade: bool | None = None
                 ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Make a function (sync or async, plain or method) a durable workflow.

        ``validate_args`` checks arguments decoded from the database before a run (see
        :mod:`tether.api.validation`); ``auto_upgrade`` is accepted and has no effect (Tether does not move
        workflows between application versions).
        """
        fmt = WorkflowSerializationFormat(serialization_type or WorkflowSerializationFormat.DEFAULT)

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            reg = register_workflow(func, name, max_recovery_attempts, fmt, validation.resolve(validate_args, func))
            if reg.is_async:
                @functools.wraps(func)
                async def run_async(*args: Any, **kwargs: Any) -> Any:
                    return await call_async(DBOS._rt(), reg, args, kwargs)

                setattr(run_async, _WORKFLOW_ATTR, reg)
                run_async.dbos_function_name = reg.name  # type: ignore[attr-defined]
                return cast(Callable[P, R], run_async)

            @functools.wraps(func)
            def run(*args: Any, **kwargs: Any) -> Any:
                return call_sync(DBOS._rt(), reg, args, kwargs)

            setattr(run, _WORKFLOW_ATTR, reg)
            run.dbos_function_name = reg.name  # type: ignore[attr-defined]
            return cast(Callable[P, R], run)

        return decorate

    @staticmethod
    def step(*, name: str | None = None, retries_allowed: bool = False, interval_seconds: float = 1.0,
             max_attempts: int = 3, backoff_rate: float = 2.0,
             should_retry: Callable[[BaseException], bool | Awaitable[bool]] | None = None,
             preemptible: bool = False, timeout_seconds: float | None = None
             ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Make a function a step: inside a workflow its outcome is checkpointed, retried on failure when
        ``retries_allowed`` (unless ``should_retry`` says no); outside a workflow it runs as a plain function.
        An async step may have a ``timeout_seconds`` per attempt and be ``preemptible`` (cancelled mid-way
        when its workflow is cancelled).

        Raises:
            StepOptionsError: a timeout or preemption on a sync function, or a timeout that is not positive
                and finite.
        """

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            policy = StepPolicy(name or func.__qualname__, retries_allowed, interval_seconds, max_attempts,
                                backoff_rate, should_retry, preemptible, timeout_seconds)
            if preemptible or timeout_seconds is not None:
                policy.check(func)
            guard = auth.guard_of(func)  # the roles it requires, checked when a workflow calls it
            if inspect.iscoroutinefunction(func):
                @functools.wraps(func)
                async def run_async(*args: Any, **kwargs: Any) -> Any:
                    if guard.active and workflow_for_operation("step") is not None:
                        with auth.assume(auth.check_call(guard, policy.name)):
                            return await run_step_async(policy, func, args, kwargs)
                    return await run_step_async(policy, func, args, kwargs)

                setattr(run_async, _STEP_ATTR, True)
                return cast(Callable[P, R], run_async)

            @functools.wraps(func)
            def run(*args: Any, **kwargs: Any) -> Any:
                if guard.active and workflow_for_operation("step") is not None:
                    with auth.assume(auth.check_call(guard, policy.name)):
                        return run_step_sync(policy, func, args, kwargs)
                return run_step_sync(policy, func, args, kwargs)

            setattr(run, _STEP_ATTR, True)
            return cast(Callable[P, R], run)

        return decorate

    @staticmethod
    def dbos_class(class_name: str | None = None) -> Callable[[type[T]], type[T]]:
        """Register a class whose methods are workflows; see :mod:`tether.api.instances`."""
        return instances.dbos_class(class_name)

    @staticmethod
    def _policy(options: StepOptions | None, func: Callable[..., Any]) -> StepPolicy:
        return StepPolicy.from_options(cast(dict[str, Any] | None, options), func)

    @classmethod
    def run_step(cls, dbos_step_options: StepOptions | None, func: Callable[P, R], *args: P.args,
                 **kwargs: P.kwargs) -> R:
        """Run ``func`` (sync or async) as a checkpointed step of the current workflow (plainly outside one).

        Raises:
            RuntimeError: called from a running event loop (use :meth:`run_step_async` there).
        """
        _refuse_running_loop("run_step")
        if inspect.iscoroutinefunction(func):
            return cast(R, run_sync(run_step_async(cls._policy(dbos_step_options, func), func, args, kwargs)))
        policy = cls._policy(dbos_step_options, func)
        if inspect.iscoroutinefunction(func):  # an async function from sync code: run it on the bridge
            return cast(R, run_sync(run_step_async(policy, func, args, kwargs)))
        return run_step_sync(policy, func, args, kwargs)

    @classmethod
    async def run_step_async(cls, dbos_step_options: StepOptions | None,
                             func: Callable[P, Coroutine[Any, Any, R]] | Callable[P, R],
                             *args: P.args, **kwargs: P.kwargs) -> R:
        """Async form of :meth:`run_step`; ``func`` may be sync or async."""
        return await run_step_async(cls._policy(dbos_step_options, func), func, args, kwargs)

    # -- starting and following workflows ----------------------------------------------------------------
    @classmethod
    def start_workflow(cls, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> WorkflowHandle[R]:
        """Start a workflow in the background; returns once it is durably recorded.

        Raises:
            SerializationError: the arguments cannot be stored.
            ConflictingWorkflowError: the assigned ID belongs to another workflow function.
        """
        rt = cls._rt()
        reg, bound = _registered(func)
        start = run_sync(prepare_start(rt, reg, bound + args, kwargs, start_options(now_ms=rt.clock.now_ms())))
        _run_started(rt, start, on_this_loop=False)  # an async workflow runs on the runtime's loop, as in DBOS
        return WorkflowHandle(rt, start.workflow_id, started_here=start.created)

    @classmethod
    @overload
    async def start_workflow_async(cls, func: Callable[P, Coroutine[Any, Any, R]],
                                   *args: P.args, **kwargs: P.kwargs) -> WorkflowHandleAsync[R]: ...

    @classmethod
    @overload
    async def start_workflow_async(cls, func: Callable[P, R],
                                   *args: P.args, **kwargs: P.kwargs) -> WorkflowHandleAsync[R]: ...

    @classmethod
    async def start_workflow_async(cls, func: Callable[P, Any],
                                   *args: P.args, **kwargs: P.kwargs) -> WorkflowHandleAsync[Any]:
        """Start a workflow from async code; an async workflow runs on the caller's event loop."""
        rt = cls._rt()
        reg, bound = _registered(func)
        start = await prepare_start(rt, reg, bound + args, kwargs, start_options(now_ms=rt.clock.now_ms()))
        _run_started(rt, start)
        return WorkflowHandleAsync(rt, start.workflow_id, started_here=start.created)

    @classmethod
    def get_result(cls, workflow_id: str, *, shard_key: str | None = None) -> Any:
        """Wait for a workflow to end and return its result (or raise its error)."""
        return run_sync_call(read_result, cls._rt(), workflow_id)

    @classmethod
    async def get_result_async(cls, workflow_id: str, *, shard_key: str | None = None) -> Any:
        return await read_result(cls._rt(), workflow_id)

    @classmethod
    def get_workflow_status(cls, workflow_id: str, *, shard_key: str | None = None) -> WorkflowStatus | None:
        """The status of a workflow, or None if no workflow has that ID."""
        return run_sync(cls.get_workflow_status_async(workflow_id))

    @classmethod
    async def get_workflow_status_async(cls, workflow_id: str, *, shard_key: str | None = None
                                        ) -> WorkflowStatus | None:
        rt = cls._rt()
        valid_workflow_id(workflow_id)

        async def read() -> WorkflowStatus | None:
            row = await rt.io(rt.store.get_workflow, workflow_id)
            return to_status(row) if row is not None else None
        return await as_operation("DBOS.getStatus", read)

    @classmethod
    def retrieve_workflow(cls, workflow_id: str, existing_workflow: bool = True, *,
                          shard_key: str | None = None) -> WorkflowHandle[Any]:
        """A handle on a workflow by ID. With ``existing_workflow=False``, wait for it to be created.

        Raises:
            WorkflowNotFoundError: it does not exist (and ``existing_workflow`` is True).
        """
        run_sync(cls._find(workflow_id, existing_workflow))
        return WorkflowHandle(cls._rt(), workflow_id)

    @classmethod
    async def retrieve_workflow_async(cls, workflow_id: str, existing_workflow: bool = True, *,
                                      shard_key: str | None = None) -> WorkflowHandleAsync[Any]:
        await cls._find(workflow_id, existing_workflow)
        return WorkflowHandleAsync(cls._rt(), workflow_id)

    @classmethod
    async def _find(cls, workflow_id: str, existing_workflow: bool) -> None:
        rt = cls._rt()
        wfid = valid_workflow_id(workflow_id)
        if not existing_workflow:
            await wait_for_workflow(rt, wfid)  # the seeds' promise: wait for it to be created
            return
        if workflow_for_operation("DBOS.getStatus") is not None \
                and not recorded_under_another_name("DBOS.getStatus"):
            # As in DBOS, inside a workflow the look-up is the recorded operation DBOS.getStatus.
            found = await cls.get_workflow_status_async(wfid) is not None
        else:
            found = await rt.io(rt.store.get_workflow, wfid, load_input=False, load_output=False) is not None
        if not found:
            raise WorkflowNotFoundError(workflow_id)


handles.follow_relaunches(lambda: DBOS._runtime)


def _refuse_running_loop(name: str) -> None:
    """A blocking call made on a running event loop would stall it: say which async form to await."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{name}() was called while an event loop is running. Use await {name}_async(...) instead.")


def _run_started(rt: Runtime, start: Start, *, on_this_loop: bool = True) -> None:
    if start.created:
        launch_in_background(rt, start, on_this_loop=on_this_loop)


