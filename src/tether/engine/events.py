"""Events: the latest value per (workflow, key), with readers that wait for it to be published."""

from __future__ import annotations

from enum import Enum
from typing import Any

from tether.engine import tracing, validation
from tether.engine.context import current_step, require_workflow, workflow_for_operation
from tether.engine.handoff import Reading
from tether.engine.runtime import Runtime
from tether.serialization import deserialize, serialize
from tether.storage.base import EventVersionRow, OperationRow
from tether.storage.checkpoints import RecordOperation
from tether.types import EventVersion, WorkflowSerializationFormat


def event_key(key: str) -> str:
    """Keys are strings; a ``str`` Enum member stands for its value (so ``Event.PROGRESS`` and ``"progress"``
    name the same event on every backend).

    Raises:
        ArgumentTypeError: the key is not a string.
        InvalidArgumentError: the key is too long or contains NUL or a lone surrogate.
    """
    if isinstance(key, Enum):
        key = key.value
    return str(validation.text(key, "key", empty=True))


async def set_event(rt: Runtime, key: str, value: Any,
                    serialization_type: WorkflowSerializationFormat | None = None) -> None:
    """Publish (or replace) the calling workflow's value for ``key``; checkpointed when called from the
    workflow itself, a plain upsert from one of its steps.

    Raises:
        NotInWorkflowError: not called from a workflow or step.
        SerializationError: the value cannot be serialized (nothing is written).
    """
    ctx = require_workflow("DBOS.set_event", allow_step=True)
    k = event_key(key)
    payload = serialize(value, serialization_type or ctx.serialization)
    op = None
    now = 0
    step = current_step()
    history_fid = step.function_id if step is not None else None
    if workflow_for_operation("set_event") is not None:
        fid = ctx.next_function_id()
        rec = ctx.recorded.get(fid)
        if rec is not None and rec.completed_at is not None:
            return
        now = rt.clock.now_ms()
        op = OperationRow(function_id=fid, function_name="DBOS.setEvent", started_at=now, completed_at=now)
        history_fid = fid
    written = await rt.io(rt.store.set_event, ctx.workflow_id, k, payload, now if op else rt.clock.now_ms(), op,
                          history_fid)
    if written:  # readers waiting here take the value without reading it back (engine/handoff.py)
        rt.event_board.publish(ctx.workflow_id, k, payload)
    rt.notify("event", ctx.workflow_id, k)  # first: the readers' wake-up is what the latency waits on
    tracing.event("DBOS.setEvent", history_fid, key=k)


async def get_event(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float) -> Any:
    """The latest value of ``key`` on ``workflow_id``, waiting up to the timeout for it to appear (None then).
    Inside a workflow the value read is checkpointed (``DBOS.getEvent``), so recovery sees the same value,
    and the deadline is recorded as the ``DBOS.sleep`` operation that follows it, as DBOS records them.

    Raises:
        InvalidArgumentError, ArgumentTypeError: a bad ID, key or timeout (see :mod:`tether.engine.validation`).
    """
    return await _await_event(rt, workflow_id, key, timeout_seconds, versioned=False)


async def get_event_with_version(rt: Runtime, workflow_id: str, key: str,
                                 timeout_seconds: float) -> EventVersion | None:
    """As :func:`get_event`, with the value's version: an :class:`EventVersion`, or None when no value
    appeared in time. Checkpointed inside a workflow as ``DBOS.getEventWithVersion``.

    Raises:
        InvalidArgumentError, ArgumentTypeError: a bad ID, key or timeout.
        SerializationError: (inside a workflow) the value cannot be checkpointed in the workflow's format.
    """
    got = await _await_event(rt, workflow_id, key, timeout_seconds, versioned=True)
    return got if isinstance(got, EventVersion) else None


async def _await_event(rt: Runtime, workflow_id: str, key: str, timeout_seconds: float, *,
                       versioned: bool) -> Any:
    validation.workflow_id(workflow_id)
    k = event_key(key)
    timeout_seconds = validation.wait_seconds(timeout_seconds)
    ctx = workflow_for_operation("get_event")
    fid = None
    deadline = None
    started = rt.clock.now_ms()
    if ctx is not None:
        fid = ctx.next_function_id()
        sleep_fid = ctx.next_function_id()
        rec = ctx.recorded.get(fid)
        if rec is not None and rec.completed_at is not None:
            return _recorded(rec.output, versioned)
        slept = ctx.recorded.get(sleep_fid)
        if slept is not None and slept.output is not None:
            deadline = int(deserialize(slept.output))
        elif rec is not None and rec.wait_deadline is not None:
            deadline = rec.wait_deadline  # recorded by an older version, before the sleep row existed
    if deadline is None:
        deadline = started + int(timeout_seconds * 1000)
    if ctx is not None and fid is not None and ctx.recorded.get(fid + 1) is None:
        await rt.checkpoint(RecordOperation(ctx.workflow_id, OperationRow(
            function_id=fid + 1, function_name="DBOS.sleep", output=serialize(deadline), started_at=started,
            completed_at=started)))

    reading: Reading | None = None

    async def look() -> bytes | EventVersionRow | None:
        if versioned:
            return await rt.io_until(deadline, rt.store.get_event_version, workflow_id, k)
        if reading is not None and reading.value is not None:
            return reading.value  # handed over by a set_event in this process
        return await rt.io_until(deadline, rt.store.get_event, workflow_id, k)

    got = await look()
    if got is None and deadline > rt.clock.now_ms():
        reading = None if versioned else rt.event_board.open(workflow_id, k)
        try:
            got = await rt.wait_until([("event", workflow_id, k)], look, deadline)
        finally:
            if reading is not None:
                rt.event_board.close(reading)
    if ctx is not None and fid is not None:
        tracing.event("DBOS.getEvent", fid, workflowID=workflow_id, key=k)
        if isinstance(got, EventVersionRow):
            output = serialize([k, got.version, deserialize(got.value), got.created_at], ctx.serialization)
        else:
            output = got if got is not None else serialize(None)
        prior = await rt.checkpoint(RecordOperation(ctx.workflow_id, OperationRow(
            function_id=fid, function_name="DBOS.getEventWithVersion" if versioned else "DBOS.getEvent",
            output=output, started_at=started, completed_at=rt.clock.now_ms())))
        if prior is not None:
            return _recorded(prior.output, versioned)
    if isinstance(got, EventVersionRow):
        return EventVersion(k, got.version, deserialize(got.value), got.created_at)
    return deserialize(got)


def _recorded(output: bytes | None, versioned: bool) -> Any:
    """What a recorded ``getEvent`` (the value) or ``getEventWithVersion`` (an EventVersion or None) returns."""
    got = deserialize(output)
    if versioned and got is not None:
        return EventVersion(*got)
    return got


async def get_all_events(rt: Runtime, workflow_id: str) -> dict[str, Any]:
    """The latest value of every event of ``workflow_id``. Inside a workflow the values read are checkpointed
    (as the step ``DBOS.get_events``), so recovery sees the same values.

    Raises:
        InvalidArgumentError, ArgumentTypeError: a bad workflow ID.
    """
    validation.workflow_id(workflow_id)
    ctx = workflow_for_operation("get_all_events")
    fid = None
    if ctx is not None:
        fid = ctx.next_function_id()
        rec = ctx.recorded.get(fid)
        if rec is not None and rec.completed_at is not None:
            return dict(deserialize(rec.output))
    started = rt.clock.now_ms()
    raw = await rt.io(rt.store.get_all_events, workflow_id)
    values = {k: deserialize(v) for k, v in raw.items()}
    if ctx is not None and fid is not None:
        prior = await rt.checkpoint(RecordOperation(ctx.workflow_id, OperationRow(
            function_id=fid, function_name="DBOS.get_events", output=serialize(values),
            started_at=started, completed_at=rt.clock.now_ms())))
        if prior is not None:
            return dict(deserialize(prior.output))
    return values
