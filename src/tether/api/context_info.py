"""Where the calling code runs, on ``DBOS``: its workflow ID, step number and attempt, and the durable sleep
that only a workflow may take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from tether.engine.bridge import run_sync
from tether.engine.context import current_step, current_workflow, require_workflow
from tether.engine.runtime import Runtime
from tether.engine.steps import durable_sleep
from tether.engine.validation import no_wait
from tether.types import StepStatus


class _ClassProperty:
    def __init__(self, fget: Callable[[Any], Any]) -> None:
        self.fget = fget

    def __get__(self, obj: Any, owner: Any) -> Any:
        return self.fget(owner)


class ContextInfo:
    """Mixin of ``DBOS``."""

    _rt: ClassVar[Callable[[], Runtime]]  # DBOS's: the launched runtime

    @_ClassProperty
    def workflow_id(cls) -> str | None:
        """The ID of the workflow this code runs in (also inside its steps), or None."""
        ctx = current_workflow()
        return ctx.workflow_id if ctx is not None else None

    @_ClassProperty
    def shard_key(cls) -> str | None:
        """The running workflow's shard key: always None, as DBOS says on a database that is not sharded."""
        return None

    @_ClassProperty
    def step_id(cls) -> int | None:
        """The operation number of the current step, or None outside a step."""
        step = current_step()
        return step.function_id if step is not None else None

    @_ClassProperty
    def step_status(cls) -> StepStatus | None:
        """The running step's number and, for a retrying step, its attempt (from 0) and attempt limit."""
        step = current_step()
        if step is None:
            return None
        retrying = step.max_attempts is not None
        return StepStatus(step.function_id, step.attempt - 1 if retrying else None, step.max_attempts)

    # -- time ------------------------------------------------------------------------------------------
    @classmethod
    def sleep(cls, seconds: float) -> None:
        """Durable sleep: the wake-up time is recorded, so a recovered workflow sleeps only what remains.

        A zero or negative ``seconds`` returns at once and records nothing, anywhere (as in DBOS).

        Raises:
            NotInWorkflowError: called outside a workflow (inside a step it is a plain sleep).
        """
        cls._rt()
        if not no_wait(seconds):
            require_workflow("DBOS.sleep", allow_step=True)
        run_sync(durable_sleep(seconds))

    @classmethod
    async def sleep_async(cls, seconds: float) -> None:
        cls._rt()
        if not no_wait(seconds):
            require_workflow("DBOS.sleep", allow_step=True)
        await durable_sleep(seconds)
