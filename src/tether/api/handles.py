"""Handles on workflows: their ID, status and (awaited) result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from tether.api.status import to_status
from tether.engine.bridge import run_sync, run_sync_call
from tether.engine.context import current_workflow
from tether.engine.outcomes import read_result
from tether.engine.runtime import Runtime
from tether.engine.steps import as_operation
from tether.types import WorkflowStatus

R = TypeVar("R")


def in_workflow() -> bool:
    return current_workflow() is not None


_relaunched: Callable[[], Runtime | None] | None = None


def follow_relaunches(current: Callable[[], Runtime | None]) -> None:
    """Let handles of a destroyed DBOS use the one launched since on the same database, as DBOS's handles
    (bound to the process's one DBOS) do. Set by ``tether.api.dbos``."""
    global _relaunched
    _relaunched = current


class WorkflowHandleAsync(Generic[R]):
    """A handle for async code. ``get_result`` waits (without holding a thread) for the workflow to end."""

    def __init__(self, rt: Runtime, workflow_id: str, *, started_here: bool = False) -> None:
        self._rt = rt
        self.workflow_id = workflow_id
        self._started_here = started_here  # from start_workflow: its error is raised as the workflow raised it

    @property
    def rt(self) -> Runtime:
        """The runtime to read through: the one the handle was made with, or, once that one is destroyed, the
        application launched since on the same database."""
        rt = self._rt
        if rt.destroyed and _relaunched is not None:
            now = _relaunched()
            if now is not None and not now.destroyed and now.settings.database == rt.settings.database:
                self._rt = now
                return now
        return rt

    def get_workflow_id(self) -> str:
        return self.workflow_id

    async def get_result(self, *, polling_interval_sec: float = 1.0, timeout_seconds: float | None = None) -> R:
        """The workflow's return value, or its exception re-raised; waits for the workflow to exist and end,
        woken by its end (``polling_interval_sec`` is accepted for DBOS compatibility; nothing polls at that
        interval). Inside a workflow the read is the recorded operation ``DBOS.getResult``.

        Raises:
            AwaitedWorkflowCancelledError: the workflow was cancelled.
            TimeoutError: ``timeout_seconds`` passed first.
        """
        try:
            return await read_result(self.rt, self.workflow_id, timeout_seconds)  # type: ignore[no-any-return]
        except Exception:
            # As DBOS: the handle of a workflow started here re-raises the exception object it raised, which
            # the stored form (portable, say) may not reproduce; handles retrieved by ID read the stored form.
            live = self.rt.live_error(self.workflow_id) if self._started_here and not in_workflow() else None
            if live is not None:
                raise live from None
            raise

    async def get_status(self) -> WorkflowStatus:
        """The workflow's current status.

        Raises:
            WorkflowNotFoundError: the workflow does not exist.
        """
        from tether.errors import WorkflowNotFoundError

        async def read() -> WorkflowStatus:
            rt = self.rt
            row = await rt.io(rt.store.get_workflow, self.workflow_id)
            if row is None:
                raise WorkflowNotFoundError(self.workflow_id)
            return to_status(row)
        return await as_operation("DBOS.getStatus", read)  # recorded when read from inside a workflow

    def __repr__(self) -> str:
        return f"WorkflowHandleAsync({self.workflow_id!r})"


class WorkflowHandle(Generic[R]):
    """A handle for synchronous code; the same operations as :class:`WorkflowHandleAsync`, blocking."""

    def __init__(self, rt: Runtime, workflow_id: str, *, started_here: bool = False) -> None:
        self._async: WorkflowHandleAsync[R] = WorkflowHandleAsync(rt, workflow_id, started_here=started_here)
        self.workflow_id = workflow_id

    def get_workflow_id(self) -> str:
        return self.workflow_id

    def get_result(self, *, polling_interval_sec: float = 1.0, timeout_seconds: float | None = None) -> R:
        """See :meth:`WorkflowHandleAsync.get_result`."""
        return run_sync_call(self._async.get_result, timeout_seconds=timeout_seconds)  # a wait Ctrl-C ends

    def get_status(self) -> WorkflowStatus:
        """See :meth:`WorkflowHandleAsync.get_status`."""
        return run_sync(self._async.get_status())

    def __repr__(self) -> str:
        return f"WorkflowHandle({self.workflow_id!r})"
