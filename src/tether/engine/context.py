"""Where am I? The workflow (and step) the current thread or task is running, kept in context variables."""

from __future__ import annotations

import contextvars
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tether.errors import NotInWorkflowError, WorkflowCancelledError
from tether.storage.base import OperationRow
from tether.types import WorkflowSerializationFormat

if TYPE_CHECKING:
    from tether.engine.runtime import Runtime


@dataclass
class WorkflowContext:
    """State of one running workflow execution. Mutable and shared by every task and bridge of it."""

    runtime: Runtime
    workflow_id: str
    name: str
    serialization: WorkflowSerializationFormat
    recorded: dict[int, OperationRow] = field(default_factory=dict)
    last_function_id: int = 0
    authenticated_user: str | None = None  # the identity it runs as (engine/auth.py)
    authenticated_roles: list[str] | None = None
    assumed_role: str | None = None
    deadline_ms: int | None = None  # inherited by the children it starts

    def next_function_id(self) -> int:
        """Take the number of the next operation; this is also where cancellation (and preemption: the
        workflow may belong to another process now) takes effect."""
        rt = self.runtime
        if self.workflow_id in rt.cancelled:
            raise Preempted(self.workflow_id) if self.workflow_id in rt.preempted else \
                WorkflowCancelledError(self.workflow_id)
        if time.monotonic() >= rt.lease_valid_until:
            rt.fence(self.workflow_id)
            raise Preempted(self.workflow_id)
        self.last_function_id += 1
        return self.last_function_id


class Preempted(WorkflowCancelledError):
    """Internal: this execution stopped because its workflow may be run by another process now. Its status is
    untouched; whoever runs it records its outcome."""


@dataclass(eq=False, slots=True)  # never changed once made; not frozen, whose __init__ costs 3x (one per step)
class StepContext:
    """One attempt of one step call. ``stream_writes`` counts this attempt's writes of each value per stream
    key: the n-th write of one value, in every attempt (and every re-run after a crash), stands for the same
    stored row."""

    workflow: WorkflowContext
    function_id: int
    attempt: int
    max_attempts: int | None = None  # None when the step does not retry
    name: str = ""
    stream_writes: dict[tuple[str, bytes], Iterator[int]] = field(default_factory=dict, compare=False,
                                                                   repr=False)

    def next_stream_write(self, key: str, digest: bytes) -> int:
        """How many times this attempt wrote the value with ``digest`` to ``key`` before (0, 1, ...). Safe from
        several threads of one step (each ``dict.setdefault`` and ``next`` of a ``count`` is one atomic call)."""
        counter = self.stream_writes.get((key, digest))
        if counter is None:
            counter = self.stream_writes.setdefault((key, digest), itertools.count())
        return next(counter)


_workflow: contextvars.ContextVar[WorkflowContext | None] = contextvars.ContextVar(
    "tether_workflow", default=None)
_step: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("tether_step", default=None)
_assigned_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("tether_assigned_id", default=None)
# Attributes (JSON text) for workflows started in a SetWorkflowAttributes block, with the workflow the block
# was opened in: a child started by that workflow's code does not inherit them.
_attributes: contextvars.ContextVar[tuple[str | None, str | None] | None] = contextvars.ContextVar(
    "tether_attributes", default=None)


def current_workflow() -> WorkflowContext | None:
    return _workflow.get()


def current_step() -> StepContext | None:
    return _step.get()


def workflow_for_operation(what: str) -> WorkflowContext | None:
    """The workflow an operation should checkpoint into: None outside workflows and inside steps."""
    if _step.get() is not None:
        return None
    return _workflow.get()


def _call(what: str) -> str:
    """``DBOS.recv`` -> ``recv()``, the way DBOS names calls in its messages."""
    return what.rsplit(".", 1)[-1] + "()"


def require_workflow(what: str, *, allow_step: bool = False) -> WorkflowContext:
    """The current workflow, or NotInWorkflowError naming the call.

    Raises:
        NotInWorkflowError: not inside a workflow (or inside a step when ``allow_step`` is False).
    """
    ctx = _workflow.get()
    if ctx is None:
        where = "a workflow or step" if allow_step else "a workflow"
        raise NotInWorkflowError(f"{_call(what)} must be called from within {where}")
    if not allow_step and _step.get() is not None:
        raise NotInWorkflowError(f"{_call(what)} cannot be called from within a step")
    return ctx


_reject_reuse: contextvars.ContextVar[str | None] = contextvars.ContextVar("tether_reject_reuse", default=None)


def set_reject_reuse(wfid: str | None) -> contextvars.Token[str | None]:
    """Mark ``wfid`` (assigned by ``SetWorkflowID(..., workflow_id_reuse_policy="reject")``) as one that a
    start must create, not find."""
    return _reject_reuse.set(wfid)


def reset_reject_reuse(token: contextvars.Token[str | None]) -> None:
    _reject_reuse.reset(token)


def rejects_reuse(wfid: str) -> bool:
    return _reject_reuse.get() == wfid


def take_assigned_id() -> str | None:
    """The ID a ``SetWorkflowID`` block assigned to the next start (or send), consumed by the first use."""
    wfid = _assigned_id.get()
    if wfid is not None:
        _assigned_id.set(None)
    return wfid


def set_start_attributes(attributes: str | None) -> contextvars.Token[tuple[str | None, str | None] | None]:
    """Attributes (JSON text, or None for none) for the workflows started from here until reset."""
    wf = _workflow.get()
    return _attributes.set((wf.workflow_id if wf is not None else None, attributes))


def reset_start_attributes(token: contextvars.Token[tuple[str | None, str | None] | None]) -> None:
    _attributes.reset(token)


# A SetWorkflowTimeout block: (workflow the block was opened in, timeout in ms or None for none).
_timeout: contextvars.ContextVar[tuple[str | None, int | None] | None] = contextvars.ContextVar(
    "tether_timeout", default=None)


def set_start_timeout(timeout_ms: int | None) -> contextvars.Token[tuple[str | None, int | None] | None]:
    wf = _workflow.get()
    return _timeout.set((wf.workflow_id if wf is not None else None, timeout_ms))


def reset_start_timeout(token: contextvars.Token[tuple[str | None, int | None] | None]) -> None:
    _timeout.reset(token)


def start_timeout() -> tuple[bool, int | None]:
    """(whether a SetWorkflowTimeout block opened by this code applies, its timeout in ms)."""
    got = _timeout.get()
    if got is None:
        return False, None
    wf = _workflow.get()
    if got[0] != (wf.workflow_id if wf is not None else None):
        return False, None
    return True, got[1]


def start_attributes() -> str | None:
    """The attributes a workflow started here gets: those of the innermost SetWorkflowAttributes block opened
    by the same code (a workflow's children do not inherit the block around the workflow)."""
    got = _attributes.get()
    if got is None:
        return None
    wf = _workflow.get()
    return got[1] if got[0] == (wf.workflow_id if wf is not None else None) else None


def peek_assigned_id() -> str | None:
    return _assigned_id.get()


def set_assigned_id(wfid: str | None) -> contextvars.Token[str | None]:
    return _assigned_id.set(wfid)


def reset_assigned_id(token: contextvars.Token[str | None]) -> None:
    _assigned_id.reset(token)


def enter_workflow(ctx: WorkflowContext | None) -> tuple[contextvars.Token[WorkflowContext | None],
                                                            contextvars.Token[StepContext | None],
                                                            contextvars.Token[str | None]]:
    """Enter ``ctx``, with no step and no assigned ID. All three are set and reset even when already None:
    setting only the ones not None left ``DBOS.step_id`` set after a direct sync workflow call
    (tests/integration/test_workflows.py run after test_step_streams.py), so the reset is what clears it."""
    return _workflow.set(ctx), _step.set(None), _assigned_id.set(None)


def leave_workflow(tokens: tuple[contextvars.Token[WorkflowContext | None],
                                 contextvars.Token[StepContext | None],
                                 contextvars.Token[str | None]]) -> None:
    _workflow.reset(tokens[0])
    _step.reset(tokens[1])
    _assigned_id.reset(tokens[2])


def enter_step(step: StepContext) -> contextvars.Token[StepContext | None]:
    return _step.set(step)


def leave_step(token: contextvars.Token[StepContext | None]) -> None:
    try:
        _step.reset(token)
    except ValueError:  # the step suspended on a bridge loop and resumed in its task's copy of the context
        _step.set(None if token.old_value is contextvars.Token.MISSING else token.old_value)


@dataclass(frozen=True)
class DebounceStart:
    """How the debouncer's fresh enqueue is made: DELAYED until ``delay_until_ms`` under the debounce key
    (``deduplication_id``), marked debounced, never pushed back past ``deadline_ms``."""

    deduplication_id: str
    delay_until_ms: int
    deadline_ms: int | None
    application_name: str | None = None  # the application the debounced workflow belongs to (None: the starter's)


_debounce_start: contextvars.ContextVar[DebounceStart | None] = contextvars.ContextVar(
    "tether_debounce_start", default=None)


def current_debounce() -> DebounceStart | None:
    """The debounce a start made in this context belongs to (set only around the debouncer's enqueue)."""
    return _debounce_start.get()


def set_debounce(start: DebounceStart | None) -> contextvars.Token[DebounceStart | None]:
    return _debounce_start.set(start)


def reset_debounce(token: contextvars.Token[DebounceStart | None]) -> None:
    _debounce_start.reset(token)
