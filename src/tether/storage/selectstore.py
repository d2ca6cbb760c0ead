"""The statements of ``DBOS.select`` both SQL backends share, and the format of its checkpoint.

A select's outcome is one operation row whose output is portable JSON (``b"J"`` + UTF-8 JSON): the header
the engine wrote for the winning source (``index``, ``source``, ``status``, ``error``) plus ``value``, the
stored bytes of the winner's value in base64. For a message the header is chosen and the value filled in by
the statement that takes the message (in SQL on PostgreSQL, which builds the same JSON), so taking the
message and recording it is one transaction and, on PostgreSQL, one round trip.
"""

from __future__ import annotations

import abc
import base64
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tether.storage.base import OperationRow

if TYPE_CHECKING:
    from tether.storage.sqlstore import Session


def selection_output(header: Mapping[str, Any], value: bytes | None) -> bytes:
    """The checkpoint bytes of a select outcome: ``header`` plus ``value`` (base64; None stays null)."""
    record = {**header, "value": None if value is None else base64.b64encode(value).decode("ascii")}
    return b"J" + json.dumps(record, separators=(",", ":")).encode()


def selection_value(record: Mapping[str, Any], field: str = "value") -> bytes | None:
    """The stored bytes of a decoded checkpoint's ``value`` (or ``error``)."""
    text = record.get(field)
    return None if text is None else base64.b64decode(text)


class SelectStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def take_selected_message(self, workflow_id: str, topics: Sequence[str], headers: Sequence[Mapping[str, Any]],
                              op: OperationRow, *, also: OperationRow | None = None
                              ) -> tuple[int, bytes] | OperationRow | None:
        from tether.storage.sqlstore import _op_params

        try:
            with self._tx() as s:
                found = self._first_message(s, workflow_id, topics)
                if found is None:
                    return self._recorded(s, workflow_id, op.function_id)
                position, message_id, message = found
                s.run("delete_message", {"message_id": message_id})
                op.output = selection_output(headers[position], message)
                if s.run("insert_operation", _op_params(workflow_id, op)).rowcount != 1:
                    raise _AlreadyRecorded  # roll back: the message stays
                if also is not None:
                    s.run("insert_operation", _op_params(workflow_id, also))
                return position, message
        except _AlreadyRecorded:
            with self._auto() as s:
                return self._recorded(s, workflow_id, op.function_id)

    @staticmethod
    def _first_message(s: Session, workflow_id: str, topics: Sequence[str]) -> tuple[int, int, bytes] | None:
        """(position in ``topics``, ID, message) of the oldest message of the first topic holding one. One
        indexed read per topic: cheaper on SQLite than one join over ``json_each(topics)``, which sorts."""
        for position, topic in enumerate(topics):
            row = s.run("oldest_message", {"workflow_uuid": workflow_id, "topic": topic}).fetchone()
            if row is not None:
                return position, row[0], bytes(row[1])
        return None

    @staticmethod
    def _recorded(s: Session, workflow_id: str, function_id: int) -> OperationRow | None:
        """The outcome an earlier execution recorded for this step, if it did."""
        from tether.storage.sqlstore import _op_row

        row = s.run("get_operation", {"workflow_uuid": workflow_id, "function_id": function_id}).fetchone()
        return _op_row(row) if row is not None and row[6] is not None else None

    def record_selection(self, workflow_id: str, op: OperationRow, *,
                         also: OperationRow | None = None) -> OperationRow | None:
        from tether.storage.sqlstore import _op_params

        with self._tx() as s:
            if s.run("insert_operation", _op_params(workflow_id, op)).rowcount != 1:
                return self._recorded(s, workflow_id, op.function_id)
            if also is not None:
                s.run("insert_operation", _op_params(workflow_id, also))
        return None


class _AlreadyRecorded(Exception):
    """Internal: roll back a select whose step an earlier execution already recorded."""
