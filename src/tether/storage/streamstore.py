"""Streams, in the statements both SQL backends share (PostgreSQL overrides the append with one statement)."""

from __future__ import annotations

import abc
import random
import time
from contextlib import AbstractContextManager

from tether.errors import NonExistentWorkflowError, StorageError, StreamClosedError
from tether.storage.records import OperationRow, StepWrite, StreamChunk, step_write_params
from tether.storage.session import Session, UniqueViolation, op_params

_APPEND_TRIES = 100
_APPEND_PAUSE_CAP_S = 0.01


class StreamStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def write_stream(self, workflow_id: str, key: str, value: bytes | None, now_ms: int,
                     op: OperationRow | None = None, step_write: StepWrite | None = None) -> int | None:
        # Concurrent appenders may pick the same seq; the loser tries the next one, after a short random pause
        # that grows with its losses, so that writers racing for one stream spread out instead of colliding
        # again in step (with none, four threads of one step lost 20 times in a row now and then).
        for attempt in range(_APPEND_TRIES):
            try:
                return self._append_stream(workflow_id, key, value, now_ms, op, step_write)
            except UniqueViolation:
                time.sleep(random.uniform(0, min(_APPEND_PAUSE_CAP_S, 0.0002 * (attempt + 1))))
        raise StorageError(f"Could not append to stream {key!r} of {workflow_id!r}: too much contention")

    def _append_stream(self, workflow_id: str, key: str, value: bytes | None, now_ms: int,
                       op: OperationRow | None, step_write: StepWrite | None) -> int | None:
        ident = step_write_params(step_write)
        p = {"workflow_uuid": workflow_id, "key": key}
        with self._tx() as s:
            if op is not None and s.run("insert_operation", op_params(workflow_id, op)).rowcount != 1:
                return None
            tail = s.run("stream_tail", p).fetchone()
            if tail is not None and tail[1]:
                if value is None:
                    return None  # closing twice is harmless
                if step_write is not None:  # a repeat of a step write made before the close is no error
                    prior = s.run("stream_step_write", {**p, **ident}).fetchone()
                    if prior is not None:
                        return int(prior[0])
                raise StreamClosedError(workflow_id, key)
            if s.run("workflow_exists", {"workflow_uuid": workflow_id}).fetchone() is None:
                raise NonExistentWorkflowError(workflow_id, "target")
            seq = 0 if tail is None else tail[0] + 1
            if s.run("insert_stream", {**p, **ident, "seq": seq, "value": value, "now": now_ms}).rowcount == 1:
                return None if value is None else seq
            # A step write already stored (an earlier attempt or run of the same step call): nothing appended.
            prior = s.run("stream_step_write", {**p, **ident}).fetchone()
            return int(prior[0])

    def read_stream(self, workflow_id: str, key: str, from_seq: int, limit: int = 1000) -> StreamChunk:
        with self._auto() as s:
            # Status first: if it is terminal here, every write the workflow made is already visible below.
            st = s.run("workflow_status_only", {"workflow_uuid": workflow_id}).fetchone()
            rows = s.run("read_stream", {"workflow_uuid": workflow_id, "key": key, "from_seq": from_seq,
                                         "limit": limit}).fetchall()
        return StreamChunk(
            entries=[(r[0], bytes(r[1]) if r[1] is not None else None) for r in rows],
            workflow_status=st[0] if st is not None else None,
        )

    def list_streams(self, workflow_id: str) -> list[tuple[str, int, bool]]:
        with self._auto() as s:
            rows = s.run("list_streams", {"workflow_uuid": workflow_id}).fetchall()
        return [(r[0], int(r[1]), bool(r[2])) for r in rows]
