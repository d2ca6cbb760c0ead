"""Group commit, the storage half: the checkpoints of many workflows written in one transaction.

Three writes make up most of what a running workflow commits: its start (the ``workflow_status`` row), each
step's outcome (an ``operation_outputs`` row) and its end (the status update). Each is one statement. When
several workflows checkpoint at the same moment, :meth:`CheckpointStore.write_checkpoints` runs their
statements as one transaction -- one commit, one WAL flush; on PostgreSQL also one round trip (libpq's
pipeline mode, ``postgres/wire.py``) -- and answers every checkpoint exactly as its own store method would
have answered alone (``record_operation``, ``insert_workflow``, ``complete_workflow``):

* **The usual outcome** (the row inserted, the status updated) is read from the statement's row count.
* **Anything else** -- the step was recorded by another execution already (the statements are ``ON
  CONFLICT`` upserts, so this is no error, just no row written), or the workflow ID exists -- is answered
  by calling the store method alone after the commit: it reads what the answer needs (the recorded row
  that wins, the existing workflow), as it always did.
* **A statement that fails on its own** (a deduplication ID already held, a row whose workflow was deleted)
  aborts the transaction, so nothing of the batch is committed; then every checkpoint of the batch is
  written alone, one transaction each, as without group commit, and only the failing one's caller gets the
  error. Savepoints around each statement would avoid the second pass, but they cost two statements per
  checkpoint on every batch, and past 64 subtransactions PostgreSQL's snapshots overflow to ``pg_subtrans``
  for every other session; these failures are rare (conflicts on checkpoints are not failures), so the
  rare case pays instead of the common one.
* **A fault** (connection lost, server restarting, SQLite busy past its timeout) is raised for the whole
  batch: whether the transaction committed is unknown, exactly as for a single statement whose connection
  dropped. Each caller then retries its own checkpoint alone (``Runtime.checkpoint``), and every one of
  these statements is safe to run again: a checkpoint already recorded comes back as the recorded row (the
  same value), a start already recorded as the existing row (``io_noting_faults`` tells the caller it may
  be its own), an end already recorded as "not PENDING any more".
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from tether.errors import DatabaseUnavailableError
from tether.storage.records import OperationRow, WorkflowRow
from tether.storage.session import Session, op_params

if TYPE_CHECKING:
    from tether.storage.base import Store

R = TypeVar("R")

Outcome = tuple[Any, BaseException | None]
"""One checkpoint's answer: (what its store method returns, None) or (None, what it raises)."""


class _Alone:
    """The batch could not answer this checkpoint: call its store method by itself."""


ALONE = _Alone()


class Checkpoint(abc.ABC, Generic[R]):
    """One checkpoint write, which may share a transaction with others."""

    __slots__ = ()
    statement: ClassVar[str]  # the named statement in each backend's queries.sql

    @abc.abstractmethod
    def params(self, owner_process: str | None) -> Mapping[str, Any]:
        """The statement's parameters."""

    @abc.abstractmethod
    def written(self, rowcount: int) -> R | _Alone:
        """The answer, from the rows the statement changed in the batch; :data:`ALONE` if it needs more."""

    @abc.abstractmethod
    def alone(self, store: Store) -> R:
        """Write this checkpoint by itself, through the store method it stands for (which documents what it
        raises)."""


class RecordOperation(Checkpoint[OperationRow | None]):
    """:meth:`Store.record_operation`: None when recorded now, else the row recorded earlier (which wins)."""

    __slots__ = ("op", "workflow_id")
    statement = "insert_operation"

    def __init__(self, workflow_id: str, op: OperationRow) -> None:
        self.workflow_id = workflow_id
        self.op = op

    def params(self, owner_process: str | None) -> Mapping[str, Any]:
        return op_params(self.workflow_id, self.op)

    def written(self, rowcount: int) -> OperationRow | _Alone | None:
        return None if rowcount == 1 else ALONE  # 0: recorded already; alone, it reads the row that wins

    def alone(self, store: Store) -> OperationRow | None:
        return store.record_operation(self.workflow_id, self.op)


class InsertWorkflow(Checkpoint[tuple[bool, WorkflowRow]]):
    """:meth:`Store.insert_workflow`: (True, row) when created, else (False, the existing row)."""

    __slots__ = ("row",)
    statement = "insert_workflow"

    def __init__(self, row: WorkflowRow) -> None:
        self.row = row

    def params(self, owner_process: str | None) -> Mapping[str, Any]:
        return workflow_params(self.row, owner_process)

    def written(self, rowcount: int) -> tuple[bool, WorkflowRow] | _Alone:
        return (True, self.row) if rowcount == 1 else ALONE  # 0: the ID exists; alone, it reads that row

    def alone(self, store: Store) -> tuple[bool, WorkflowRow]:
        return store.insert_workflow(self.row)


class CompleteWorkflow(Checkpoint[bool]):
    """:meth:`Store.complete_workflow`: whether the workflow was still PENDING (and so ended now)."""

    __slots__ = ("error", "now_ms", "now_us", "output", "status", "workflow_id")
    statement = "complete_workflow"

    def __init__(self, workflow_id: str, status: str, output: bytes | None, error: bytes | None,
                 now_ms: int, now_us: int | None = None) -> None:
        self.workflow_id = workflow_id
        self.status = status
        self.output = output
        self.error = error
        self.now_ms = now_ms
        self.now_us = now_us

    def params(self, owner_process: str | None) -> Mapping[str, Any]:
        return {"workflow_uuid": self.workflow_id, "status": self.status, "output": self.output,
                "error": self.error, "now": self.now_ms, "now_us": self.now_us}

    def written(self, rowcount: int) -> bool:
        return rowcount == 1

    def alone(self, store: Store) -> bool:
        return store.complete_workflow(self.workflow_id, self.status, self.output, self.error, self.now_ms,
                                       self.now_us)


def workflow_params(row: WorkflowRow, owner_process: str | None) -> dict[str, Any]:
    """The ``insert_workflow`` statement's parameters: a PENDING workflow runs here, so this process owns it."""
    params = dict(vars(row))  # its fields (records.WORKFLOW_COLUMNS), without 38 getattr calls
    params["owner_process"] = owner_process if row.status == "PENDING" else None
    return params


def write_alone(store: Store, item: Checkpoint[Any]) -> Outcome:
    """One checkpoint by itself, its error returned rather than raised."""
    try:
        return item.alone(store), None
    except Exception as exc:
        return None, exc


class CheckpointStore(abc.ABC):
    """Mixed into ``SqlStore``: :meth:`write_checkpoints` over the backend's ``_tx``; PostgreSQL replaces
    :meth:`_write_batch` with one pipelined round trip."""

    owner_process: str | None

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    def write_checkpoints(self, items: Sequence[Checkpoint[Any]]) -> list[Outcome]:
        """Write ``items`` in one transaction where possible (see the module's docstring) and answer each as
        its own store method would: a list of ``(result, None)`` or ``(None, error)``, in order.

        Raises:
            DatabaseUnavailableError: a fault cut the batch off; whether it committed is unknown, and each
                checkpoint should be written again alone (each is safe to repeat).
        """
        store: Store = self  # type: ignore[assignment]  # mixed into a Store
        if len(items) == 1:  # nothing to share: exactly the single-checkpoint path
            return [write_alone(store, items[0])]
        statements = [(item.statement, item.params(self.owner_process)) for item in items]
        try:
            counts = self._write_batch(statements)
        except DatabaseUnavailableError:
            raise
        except Exception:  # one statement failed on its own and nothing was committed: each alone
            return [write_alone(store, item) for item in items]
        outcomes: list[Outcome] = []
        for item, count in zip(items, counts, strict=True):
            got = item.written(count)
            outcomes.append(write_alone(store, item) if got is ALONE else (got, None))
        return outcomes

    def _write_batch(self, statements: Sequence[tuple[str, Mapping[str, Any]]]) -> list[int]:
        """Run the named statements in one transaction and return each one's row count.

        Raises:
            StorageError: a statement failed; the transaction was rolled back.
            DatabaseUnavailableError: a fault; whether the transaction committed is unknown.
        """
        with self._tx() as s:
            return [s.run(name, params).rowcount for name, params in statements]
