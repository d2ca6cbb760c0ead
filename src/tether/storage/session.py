"""What every SQL store module shares: the session and cursor a backend hands out, the constraint failures it
reports, and how an operation row maps to statement parameters. A module of its own so that the store mixins
(``liststore``, ``selectstore``, ``streamstore``, ...) and ``sqlstore`` import it without going in a circle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tether.errors import StorageError
from tether.storage.records import OperationRow


class UniqueViolation(StorageError):
    """A unique constraint failed; backends raise it so the shared logic can tell which one."""


class ForeignKeyViolation(StorageError):
    """A row referred to a workflow that does not exist."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class NamedStatements(Protocol):
    """What runs the backend's named statements (a store's session, or a caller's connection)."""

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor: ...


class Session(NamedStatements, Protocol):
    def run_sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor: ...


def op_params(workflow_id: str, op: OperationRow) -> dict[str, Any]:
    return {
        "workflow_uuid": workflow_id,
        "function_id": op.function_id,
        "function_name": op.function_name,
        "output": op.output,
        "error": op.error,
        "child_workflow_id": op.child_workflow_id,
        "started_at": op.started_at,
        "completed_at": op.completed_at,
        "wait_deadline": op.wait_deadline,
    }


def op_row(r: Sequence[Any]) -> OperationRow:
    return OperationRow(
        function_id=r[0], function_name=r[1],
        output=bytes(r[2]) if r[2] is not None else None,
        error=bytes(r[3]) if r[3] is not None else None,
        child_workflow_id=r[4], started_at=r[5], completed_at=r[6], wait_deadline=r[7],
    )
