"""The statements of ``DBOS.select`` both SQL backends share, and the format of its checkpoint.

A select's outcome is one operation row whose output is portable JSON (``b"J"`` + UTF-8 JSON): the header
the engine wrote for the winning source (``index``, ``source``, ``status``, ``error``) plus ``value``, the
stored bytes of the winner's value in base64. For a message the header is chosen and the value filled in by
the transaction that takes the message (in SQL on PostgreSQL, which builds the same JSON in one statement:
``take_selected_message`` in its ``queries.sql``). Here, for SQLite, finding the message is one read generated
for the number of topics (``coalesce`` over each topic's oldest message ID, served by the messages index).
"""

from __future__ import annotations

import abc
import base64
import functools
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tether.storage.base import OperationRow
from tether.storage.session import op_params, op_row

if TYPE_CHECKING:
    from tether.storage.session import Session


def selection_output(header: str, value: bytes | None) -> bytes:
    """The checkpoint bytes of a select outcome: ``header`` (the JSON text of an object) with ``value`` added
    (base64; None stays null). Text is joined, not re-encoded: this runs on every message a select takes."""
    encoded = "null" if value is None else '"' + base64.b64encode(value).decode("ascii") + '"'
    body = header[:-1] + ("," if header != "{}" else "") + '"value":' + encoded + "}"
    return b"J" + body.encode()


def selection_value(record: Mapping[str, Any], field: str = "value") -> bytes | None:
    """The stored bytes of a decoded checkpoint's ``value`` (or ``error``)."""
    text = record.get(field)
    return None if text is None else base64.b64decode(text)


@functools.lru_cache(maxsize=64)
def _first_message_sql(n: int, ph: str) -> str:
    """The (topic, ID, message) of the oldest message of the first of ``n`` topics of a workflow holding one."""
    one = (f"(SELECT message_id FROM messages WHERE destination_uuid = {ph} AND topic = {ph} "
           "ORDER BY message_id LIMIT 1)")
    return ("SELECT topic, message_id, message FROM messages WHERE message_id = "
            + (f"coalesce({', '.join([one] * n)})" if n > 1 else one))


class SelectStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    placeholder: str = "?"

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def take_selected_message(self, workflow_id: str, topics: Sequence[str], headers: Sequence[str],
                              op: OperationRow, *, also: OperationRow | None = None
                              ) -> tuple[int, bytes] | OperationRow | None:

        try:
            with self._tx() as s:
                found = self._first_message(s, workflow_id, topics)
                if found is None:
                    return self._recorded(s, workflow_id, op.function_id)
                position, _, message = found
                op.output = selection_output(headers[position], message)
                if s.run("insert_operation", op_params(workflow_id, op)).rowcount != 1:
                    raise _AlreadyRecorded  # roll back: the message stays
                if also is not None:
                    s.run("insert_operation", op_params(workflow_id, also))
                return position, message
        except _AlreadyRecorded:
            with self._auto() as s:
                return self._recorded(s, workflow_id, op.function_id)

    def _first_message(self, s: Session, workflow_id: str, topics: Sequence[str]) -> tuple[int, int, bytes] | None:
        """(position in ``topics``, ID, message) of the oldest message of the first topic holding one, the
        message deleted. One read: ``coalesce`` over each topic's oldest ID (index lookups, evaluated in
        order), then the row by ID. A join over ``json_each(topics)`` sorted and cost 5 times as much."""
        args: list[Any] = []
        for topic in topics:
            args += (workflow_id, topic)
        row = s.run_sql(_first_message_sql(len(topics), self.placeholder), args).fetchone()
        if row is None:
            return None
        s.run("delete_message", {"message_id": row[1]})
        return topics.index(row[0]), row[1], bytes(row[2])

    @staticmethod
    def _recorded(s: Session, workflow_id: str, function_id: int) -> OperationRow | None:
        """The outcome an earlier execution recorded for this step, if it did."""

        row = s.run("get_operation", {"workflow_uuid": workflow_id, "function_id": function_id}).fetchone()
        return op_row(row) if row is not None and row[6] is not None else None

    def record_selection(self, workflow_id: str, op: OperationRow, *,
                         also: OperationRow | None = None) -> OperationRow | None:

        with self._tx() as s:
            if s.run("insert_operation", op_params(workflow_id, op)).rowcount != 1:
                return self._recorded(s, workflow_id, op.function_id)
            if also is not None:
                s.run("insert_operation", op_params(workflow_id, also))
        return None


class _AlreadyRecorded(Exception):
    """Internal: roll back a select whose step an earlier execution already recorded."""
