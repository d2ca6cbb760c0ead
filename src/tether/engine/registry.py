"""The process-wide registry of workflow functions, filled by decorators at import time."""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tether.engine import validation
from tether.engine.auth import RoleGuard, guard_of
from tether.errors import StepOptionsError
from tether.types import WorkflowSerializationFormat

DEFAULT_MAX_RECOVERY_ATTEMPTS = 100


@dataclass(frozen=True)
class RegisteredWorkflow:
    name: str
    func: Callable[..., Any]
    is_async: bool
    max_recovery_attempts: int
    serialization: WorkflowSerializationFormat
    # checks (and converts) arguments decoded from storage before a run; see api/validation.py
    validate_args: Callable[[tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]] | None = None
    guard: RoleGuard = field(default_factory=RoleGuard)  # the roles it requires (engine/auth.py)


@dataclass(frozen=True)
class StepPolicy:
    """How a step runs. ``delay(n)`` is the pause after the n-th failed attempt (1-based). ``should_retry``
    (sync or async) may refuse a retry for a given error; ``timeout_seconds`` bounds each attempt of an
    async step (it is then cancelled); ``preemptible`` lets a cancellation of the workflow cancel an async
    step mid-way."""

    name: str
    retries_allowed: bool = False
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    should_retry: Callable[[BaseException], Any] | None = None
    preemptible: bool = False
    timeout_seconds: float | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None, func: Callable[..., Any]) -> StepPolicy:
        """The policy a ``StepOptions`` dict (``run_step``) asks for; unset keys take the defaults."""
        o = options or {}
        return cls(str(o.get("name") or getattr(func, "__qualname__", "step")), o.get("retries_allowed", False),
                   o.get("interval_seconds", 1.0), o.get("max_attempts", 3), o.get("backoff_rate", 2.0),
                   o.get("should_retry"), o.get("preemptible", False), o.get("timeout_seconds"))

    def attempts(self) -> int:
        return max(1, self.max_attempts) if self.retries_allowed else 1

    def retry_limit(self) -> int | None:
        """The attempts a retrying step may make, or None for a step that does not retry."""
        return self.attempts() if self.retries_allowed else None

    def delay(self, failed_attempt: int) -> float:
        return float(self.interval_seconds * (self.backoff_rate ** (failed_attempt - 1)))

    @property
    def supervised(self) -> bool:
        """Whether attempts run as a task watched for a timeout or a cancellation."""
        return self.preemptible or self.timeout_seconds is not None

    def check(self, func: Callable[..., Any]) -> None:
        """Refuse options that cannot work for ``func``.

        Raises:
            StepOptionsError: a timeout or preemption on a sync function, a timeout that is not positive and
                finite, or an async ``should_retry`` for a sync function.
        """
        is_async = inspect.iscoroutinefunction(func)
        if self.should_retry is not None and inspect.iscoroutinefunction(self.should_retry) and not is_async:
            raise StepOptionsError(f"Step {self.name} is sync but should_retry is async. "
                                   "Use an async step to pair with an async validator.")
        if self.preemptible and not is_async:
            raise StepOptionsError(f"Step {self.name} is sync but preemptible=True. "
                                   "Preemption is only supported for async steps.")
        if self.timeout_seconds is not None:
            if not is_async:
                raise StepOptionsError(f"Step {self.name} is sync but timeout_seconds is set. "
                                       "Step timeouts are only supported for async steps.")
            if not (self.timeout_seconds > 0 and math.isfinite(self.timeout_seconds)):
                raise StepOptionsError(f"Step {self.name} has timeout_seconds={self.timeout_seconds}. "
                                       "Step timeouts must be positive and finite.")


_workflows: dict[str, RegisteredWorkflow] = {}

WORKFLOW_ATTR = "__tether_workflow__"  # set on each @DBOS.workflow() wrapper: its RegisteredWorkflow
CLASS_NAME_ATTR = "__tether_class_name__"  # set by @DBOS.dbos_class() on the class it registers
_classes: dict[str, type] = {}
_instances: dict[tuple[str, str], object] = {}


def register_class(cls: type, name: str | None) -> str:
    """Record a class whose methods are workflows (``@DBOS.dbos_class``). A later class of the same name
    replaces the earlier one, as when a module is reloaded."""
    class_name = name or cls.__qualname__
    setattr(cls, CLASS_NAME_ATTR, class_name)
    _classes[class_name] = cls
    return class_name


def registered_class_name(cls: type) -> str | None:
    """The name under which ``cls`` (or the nearest registered base class) was registered, or None."""
    name = getattr(cls, CLASS_NAME_ATTR, None)
    return name if isinstance(name, str) else None


def register_instance(obj: object, config_name: str) -> None:
    """Record a configured instance, found again by class name and instance name when its workflows are
    recovered or dequeued. A later instance of the same names replaces the earlier one."""
    class_name = registered_class_name(type(obj)) or type(obj).__qualname__
    _instances[(class_name, config_name)] = obj


def find_target(class_name: str, config_name: str | None) -> object | None:
    """The registered instance (or, without ``config_name``, the class) a stored workflow runs on."""
    if config_name is None:
        return _classes.get(class_name)
    return _instances.get((class_name, config_name))


_PLAIN_TYPES = frozenset({int, float, str, bytes, bool, type(None), list, tuple, dict, set, frozenset})
"""Built-in types, which have no workflow methods and take no new attributes: a first argument of one of these
exact types is a plain argument, found without looking through its class (most workflows' first argument)."""


def method_target(reg: RegisteredWorkflow, args: tuple[Any, ...]) -> tuple[str | None, str | None]:
    """For a workflow called as a method, the ``(class_name, config_name)`` its first argument stands for;
    ``(None, None)`` for a plain function or a static method.

    Raises:
        TypeError: the method belongs to a class not registered with ``@DBOS.dbos_class()``, or the instance
            has no ``config_name`` (it is not a ``DBOSConfiguredInstance``).
    """
    if not args or type(args[0]) in _PLAIN_TYPES:
        return None, None
    first, name = args[0], getattr(reg.func, "__name__", "")
    if isinstance(first, type):
        attr = inspect.getattr_static(first, name, None)
        if not isinstance(attr, classmethod) or getattr(attr.__func__, WORKFLOW_ATTR, None) is not reg:
            return None, None
        class_name = _class_name(first)
        if class_name is None:
            raise TypeError("Function target appears to be a class, but is not properly registered "
                            f"(decorate {first.__qualname__} with @DBOS.dbos_class())")
        return class_name, None
    attr = inspect.getattr_static(type(first), name, None)
    if getattr(attr, WORKFLOW_ATTR, None) is not reg:
        return None, None
    class_name = _class_name(type(first))
    if class_name is None:
        raise TypeError("Function target appears to be a class instance, but is not properly registered "
                        f"(decorate {type(first).__qualname__} with @DBOS.dbos_class())")
    config_name = getattr(first, "config_name", None)
    if not isinstance(config_name, str):
        raise TypeError("Function target appears to be a class instance, but does not have `config_name` set "
                        "(derive the class from DBOSConfiguredInstance)")
    return class_name, config_name


def _class_name(cls: type) -> str | None:
    return registered_class_name(cls)


def register_workflow(func: Callable[..., Any], name: str | None, max_recovery_attempts: int | None,
                      serialization: WorkflowSerializationFormat, validate_args: Any = None) -> RegisteredWorkflow:
    """Register ``func`` under ``name`` (default: its qualified name).

    Raises:
        InvalidArgumentError, ArgumentTypeError: the name is not an acceptable workflow name.
    """
    reg = RegisteredWorkflow(
        name=validation.text(name or func.__qualname__, "workflow name"),
        func=func,
        is_async=inspect.iscoroutinefunction(func),
        max_recovery_attempts=DEFAULT_MAX_RECOVERY_ATTEMPTS if max_recovery_attempts is None
        else max_recovery_attempts,
        serialization=serialization,
        validate_args=validate_args,
        guard=guard_of(func),
    )
    _workflows[reg.name] = reg  # the last definition wins, as when a module is reloaded
    return reg


def lookup_workflow(name: str) -> RegisteredWorkflow | None:
    return _workflows.get(name)


def registered_workflows() -> dict[str, RegisteredWorkflow]:
    return dict(_workflows)


def code_version() -> str:
    """A version derived from the source of every registered workflow, used when none is configured:
    recovery then only resumes workflows started by the same code."""
    digest = hashlib.sha256()
    for name in sorted(_workflows):
        digest.update(name.encode())
        try:
            digest.update(inspect.getsource(_workflows[name].func).encode())
        except (OSError, TypeError):
            pass
    return digest.hexdigest()[:16]
