"""The process-wide registry of workflow functions, filled by decorators at import time."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.types import WorkflowSerializationFormat

DEFAULT_MAX_RECOVERY_ATTEMPTS = 100


@dataclass(frozen=True)
class RegisteredWorkflow:
    name: str
    func: Callable[..., Any]
    is_async: bool
    max_recovery_attempts: int
    serialization: WorkflowSerializationFormat


@dataclass(frozen=True)
class StepPolicy:
    """Retry settings of a step. ``delay(n)`` is the pause after the n-th failed attempt (1-based)."""

    name: str
    retries_allowed: bool = False
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0

    def attempts(self) -> int:
        return max(1, self.max_attempts) if self.retries_allowed else 1

    def retry_limit(self) -> int | None:
        """The attempts a retrying step may make, or None for a step that does not retry."""
        return self.attempts() if self.retries_allowed else None

    def delay(self, failed_attempt: int) -> float:
        return float(self.interval_seconds * (self.backoff_rate ** (failed_attempt - 1)))


_workflows: dict[str, RegisteredWorkflow] = {}


def register_workflow(func: Callable[..., Any], name: str | None, max_recovery_attempts: int | None,
                      serialization: WorkflowSerializationFormat) -> RegisteredWorkflow:
    reg = RegisteredWorkflow(
        name=name or func.__qualname__,
        func=func,
        is_async=inspect.iscoroutinefunction(func),
        max_recovery_attempts=DEFAULT_MAX_RECOVERY_ATTEMPTS if max_recovery_attempts is None
        else max_recovery_attempts,
        serialization=serialization,
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
