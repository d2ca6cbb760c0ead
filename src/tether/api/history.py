"""Bulk and history operations on ``DBOS`` and ``DBOSClient``: many messages in one transaction, rewinding an
ended workflow, reading one stream offset; and, on ``DBOS`` only, reserving a step number to run later."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ParamSpec, TypeVar, cast

from tether.api.binding import _either, _runtime_of
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.engine import history
from tether.engine.bridge import run_sync
from tether.engine.registry import StepPolicy
from tether.engine.steps import Reservation, as_operation, reserve_step, run_step_async, run_step_sync
from tether.types import StepOptions, WorkflowSerializationFormat

P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass
class SendMessage:
    """One message of :meth:`HistoryOperations.send_bulk` (a dataclass, as DBOS's; a dict with these keys is
    accepted too)."""

    destination_id: str
    message: Any
    topic: str | None = None
    idempotency_key: str | None = None
    shard_key: str | None = None  # accepted and ignored: the database is not sharded


def _as_dict(message: SendMessage | Mapping[str, Any]) -> dict[str, Any]:
    return dataclasses.asdict(message) if isinstance(message, SendMessage) else dict(message)


class HistoryOperations:
    """Methods shared by ``DBOS`` (class-level) and ``DBOSClient``; each has an ``*_async`` twin."""

    @_either
    def send_bulk(self, messages: list[SendMessage], *,
                  serialization_type: WorkflowSerializationFormat | None = WorkflowSerializationFormat.DEFAULT,
                  send_to_forks: bool = False) -> None:
        """Send many messages in one transaction: all are delivered or none. With ``send_to_forks`` each also
        reaches every workflow forked, directly or not, from its destination. From a workflow the whole send is
        one recorded operation (``DBOS.send_bulk``), done once.

        Raises:
            NonExistentWorkflowError: a destination has no workflow (nothing is sent).
            SerializationError: a message cannot be serialized (nothing is sent).
        """
        run_sync(self.send_bulk_async(messages, serialization_type=serialization_type, send_to_forks=send_to_forks))

    @_either
    async def send_bulk_async(self, messages: list[SendMessage], *,
                              serialization_type: WorkflowSerializationFormat | None = (
                                  WorkflowSerializationFormat.DEFAULT),
                              send_to_forks: bool = False) -> None:
        """Coroutine form of :meth:`send_bulk`."""
        await history.send_bulk(_runtime_of(self), [_as_dict(m) for m in messages],
                                serialization_type=serialization_type, send_to_forks=send_to_forks)

    @_either
    def rewind_workflow(self, workflow_id: str, *, start_step: int | None = None,
                        application_version: str | None = None, queue_name: str | None = None,
                        queue_partition_key: str | None = None, shard_key: str | None = None
                        ) -> WorkflowHandle[Any]:
        """Send an ended workflow back to ``start_step`` (default: the first) under its own ID: its
        checkpoints from there on are dropped, its events set from there on roll back, and it runs again
        from that step (on ``queue_name``, else wherever a process of its version takes it).

        Raises:
            NonExistentWorkflowError: no workflow has this ID.
            TetherError: the workflow has not ended (cancel it first).
            ValueError: ``start_step`` is below 1.
        """
        rt = _runtime_of(self)
        run_sync(self._rewind(workflow_id, start_step, application_version, queue_name))
        return WorkflowHandle(rt, workflow_id)

    @_either
    async def rewind_workflow_async(self, workflow_id: str, *, start_step: int | None = None,
                                    application_version: str | None = None, queue_name: str | None = None,
                                    queue_partition_key: str | None = None, shard_key: str | None = None
                                    ) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`rewind_workflow`."""
        rt = _runtime_of(self)
        await self._rewind(workflow_id, start_step, application_version, queue_name)
        return WorkflowHandleAsync(rt, workflow_id)

    @_either
    async def _rewind(self, workflow_id: str, start_step: int | None, application_version: str | None,
                      queue_name: str | None) -> None:
        rt = _runtime_of(self)
        await as_operation("DBOS.rewindWorkflow", lambda: history.rewind_workflow(
            rt, workflow_id, 1 if start_step is None else start_step, application_version=application_version,
            queue_name=queue_name))

    @_either
    def read_stream_offset(self, workflow_id: str, key: str, offset: int, *,
                           polling_interval_sec: float | None = None, timeout_seconds: float | None = None,
                           shard_key: str | None = None) -> Any:
        """The value at ``offset`` of a stream, waiting for it to be written (woken by the write, not by
        polling: ``polling_interval_sec`` is accepted for compatibility). Recorded when read from a workflow.

        Raises:
            DBOSStreamTimeoutError: the timeout passed, or the stream ended before that offset.
            ValueError: a negative offset.
        """
        return run_sync(self.read_stream_offset_async(workflow_id, key, offset, timeout_seconds=timeout_seconds))

    @_either
    async def read_stream_offset_async(self, workflow_id: str, key: str, offset: int, *,
                                       polling_interval_sec: float | None = None,
                                       timeout_seconds: float | None = None, shard_key: str | None = None) -> Any:
        """Coroutine form of :meth:`read_stream_offset`."""
        rt = _runtime_of(self)
        return await as_operation("DBOS.readStreamOffset", lambda: history.read_stream_offset(
            rt, workflow_id, key, offset, timeout_seconds))


class StepReservation:
    """A step number drawn by ``DBOS.reserve_step()``, run exactly once later with :meth:`run` or
    :meth:`run_async`, from the workflow that reserved it. One never run leaves a gap in the step numbers."""

    def __init__(self, reservation: Reservation) -> None:
        self._reservation = reservation

    @property
    def step_id(self) -> int:
        """The reserved step number."""
        return self._reservation.step_id

    def run(self, dbos_step_options: StepOptions | None, func: Callable[P, R], *args: P.args,
            **kwargs: P.kwargs) -> R:
        """Run ``func`` as a step at the reserved number and checkpoint its outcome.

        Raises:
            TetherError: already run, or not called from the reserving workflow outside any step.
        """
        fid = self._reservation.claim()
        policy = _policy(dbos_step_options, func)
        if inspect.iscoroutinefunction(func):  # an async function from sync code: run it on the bridge
            return cast(R, run_sync(run_step_async(policy, func, args, kwargs, fid)))
        return run_step_sync(policy, func, args, kwargs, fid)

    async def run_async(self, dbos_step_options: StepOptions | None,
                        func: Callable[P, Coroutine[Any, Any, R]] | Callable[P, R],
                        *args: P.args, **kwargs: P.kwargs) -> R:
        """Coroutine form of :meth:`run`."""
        fid = self._reservation.claim()
        return await run_step_async(_policy(dbos_step_options, func), func, args, kwargs, fid)


def _policy(options: StepOptions | None, func: Callable[..., Any]) -> StepPolicy:
    return StepPolicy.from_options(cast(dict[str, Any] | None, options), func)


class ReservationAPI:
    """What ``DBOS`` alone adds: reserving step numbers."""

    @classmethod
    def reserve_step(cls) -> StepReservation:
        """Draw the next step number of the calling workflow, to run a step at it later (for example from
        code whose order of completion varies), keeping the step numbers deterministic.

        Raises:
            NotInWorkflowError: not called from a workflow (or from inside a step).
        """
        return StepReservation(reserve_step())
