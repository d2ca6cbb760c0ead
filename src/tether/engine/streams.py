"""Streams: ordered, append-only values per (workflow, key); closed explicitly or when the workflow ends.

Every write from a workflow is stored once. A write from the workflow body is checkpointed like any other
operation. A write from a step is identified by (step number, n): the n-th write of the step call to that key,
counted afresh by each attempt; the store keeps the first value written under that identity, so a retried or
re-run step adds only the writes past those an earlier attempt made (docs/guarantees.md). Each write is
visible to readers as soon as it returns. Readers wait for new values by wake-up, never by sleeping on a timer.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Generator
from typing import Any

from tether.engine import tracing, validation
from tether.engine.context import current_step, current_workflow, require_workflow
from tether.engine.events import event_key
from tether.engine.runtime import Runtime
from tether.errors import DBOSStreamTimeoutError, NonExistentWorkflowError, WorkflowCancelledError
from tether.serialization import deserialize, serialize
from tether.storage.base import OperationRow
from tether.types import ACTIVE_STATUSES, StreamInfo, StreamRead, WorkflowSerializationFormat


async def write_stream(rt: Runtime, key: str, value: Any | None, *, close: bool = False,
                       serialization_type: WorkflowSerializationFormat | None = None) -> None:
    """Append a value (or, with ``close``, the end marker) to the calling workflow's stream ``key``.

    From a step, the n-th write of the step call to ``key`` is stored once however many attempts or runs make
    it: a repeat finds the stored value (even on a stream closed since) and appends nothing.

    Raises:
        NotInWorkflowError: not called from a workflow or one of its steps.
        StreamClosedError: the stream is already closed.
        SerializationError: the value cannot be serialized (nothing is written).
    """
    what = "DBOS.close_stream" if close else "DBOS.write_stream"
    ctx = require_workflow(what, allow_step=True)
    k = event_key(key)
    payload = None if close else serialize(value, serialization_type or ctx.serialization)
    op = None
    step_write = None
    step = current_step()
    if step is None:
        fid = ctx.next_function_id()
        rec = ctx.recorded.get(fid)
        if rec is not None and rec.completed_at is not None:
            return
        now = rt.clock.now_ms()
        op = OperationRow(function_id=fid, function_name="DBOS.closeStream" if close else "DBOS.writeStream",
                          started_at=now, completed_at=now)
    elif payload is not None:  # a close from a step needs no identity: closing a closed stream changes nothing
        digest = value_digest(payload)
        step_write = (step.function_id, step.next_stream_write(k, digest), digest)
    await rt.io(rt.store.write_stream, ctx.workflow_id, k, payload, rt.clock.now_ms(), op, step_write)
    tracing.event("DBOS.closeStream" if close else "DBOS.writeStream", op.function_id if op else None, key=k)
    rt.notify("stream", ctx.workflow_id, k)


def value_digest(payload: bytes) -> bytes:
    """What identifies a value written from a step, with the step and its occurrence (16 bytes of BLAKE2b)."""
    return hashlib.blake2b(payload, digest_size=16).digest()


_BATCH = 1000  # rows per read


class StreamReader:
    """Follows one stream from an offset. ``next_batch`` waits for values; ``poll`` never waits."""

    def __init__(self, rt: Runtime, workflow_id: str, key: str, offset: int = 0) -> None:
        """Raises:
            InvalidArgumentError, ArgumentTypeError: a bad ID or key, or an offset that is not an int from 0
                to 2**63 - 1.
        """
        self.rt = rt
        self.workflow_id = validation.workflow_id(workflow_id)
        self.key = event_key(key)
        self.offset = validation.count(offset, "offset")
        self.closed = False
        self.missing = False  # no workflow has this ID (as of the last poll)
        reader = current_workflow()
        # A workflow reading a stream stops waiting when it is itself cancelled.
        self.reader_id = reader.workflow_id if reader is not None and reader.runtime is rt else None

    async def poll(self) -> StreamRead:
        chunk = await self.rt.io(self.rt.store.read_stream, self.workflow_id, self.key, self.offset, _BATCH)
        self.missing = chunk.workflow_status is None and not chunk.entries
        values: list[Any] = []
        for seq, raw in chunk.entries:
            if raw is None:
                self.closed = True
                break
            values.append(deserialize(raw))
            self.offset = seq + 1
        if not self.closed and len(chunk.entries) < _BATCH and (
                chunk.workflow_status is None or chunk.workflow_status not in ACTIVE_STATUSES):
            # Status was read before the rows, and every row was read: an ended workflow has no writes to come.
            self.closed = True
        return StreamRead(values=values, closed=self.closed, next_offset=self.offset)

    async def next_batch(self, timeout_seconds: float | None = None) -> list[Any] | None:
        """The next values (waiting for at least one), or None once the stream is closed.

        Raises:
            NonExistentWorkflowError: no workflow has this ID.
            DBOSStreamTimeoutError: ``timeout_seconds`` passed without a new value.
        """
        if self.closed:
            return None

        async def look() -> StreamRead | None:
            if self.reader_id is not None and self.reader_id in self.rt.cancelled:
                raise WorkflowCancelledError(self.reader_id)
            got = await self.poll()
            if self.missing:
                raise NonExistentWorkflowError(self.workflow_id, "target")
            return got if got.values or got.closed else None

        deadline = None if timeout_seconds is None else self.rt.clock.now_ms() + int(timeout_seconds * 1000)
        stream = ("stream", self.workflow_id, self.key)
        keys = [stream, ("wf", self.workflow_id, "")]
        if self.reader_id is not None:
            keys.append(("wf", self.reader_id, ""))
        while True:
            got = await self.rt.wait_until(keys, look, deadline, marks={stream: self.offset})
            if got is None:
                if deadline is not None and self.rt.clock.now_ms() >= deadline:
                    raise DBOSStreamTimeoutError(self.workflow_id, self.key, timeout_seconds)
                continue
            if got.values:
                return got.values
            return None


def follow(rt: Runtime, workflow_id: str, key: str, offset: int = 0,
           timeout_seconds: float | None = None) -> Generator[Any, Any, None]:
    """Yield a stream's values in order from ``offset`` until it is closed or its workflow ends, waiting at
    most ``timeout_seconds`` for each (see :meth:`StreamReader.next_batch` for what it raises)."""
    from tether.engine.bridge import run_sync

    reader = StreamReader(rt, workflow_id, key, offset)
    while True:
        batch = run_sync(reader.next_batch(timeout_seconds))
        if batch is None:
            return
        yield from batch


async def follow_async(rt: Runtime, workflow_id: str, key: str, offset: int = 0,
                       timeout_seconds: float | None = None) -> AsyncGenerator[Any, None]:
    """Async form of :func:`follow`; waiting for values holds no thread."""
    reader = StreamReader(rt, workflow_id, key, offset)
    while True:
        batch = await reader.next_batch(timeout_seconds)
        if batch is None:
            return
        for value in batch:
            yield value


async def list_streams(rt: Runtime, workflow_id: str) -> list[StreamInfo]:
    """Every stream ``workflow_id`` wrote, by key (a key never written is not listed)."""
    rows = await rt.io(rt.store.list_streams, workflow_id)
    return [StreamInfo(key=key, values=count, closed=closed) for key, count, closed in rows]
