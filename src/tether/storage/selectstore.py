"""The two statements of ``DBOS.select`` both SQL backends share: find the first ready message among several
topics, and record the winner (taking its message, if a message won) in one transaction. PostgreSQL runs the
second as one statement (``storage/postgres/store.py``)."""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from tether.storage.base import OperationRow

if TYPE_CHECKING:
    from tether.storage.sqlstore import Session


class SelectStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def first_message(self, workflow_id: str, topics: Sequence[str]) -> tuple[int, int, bytes] | None:
        with self._auto() as s:
            row = s.run("first_message", {"workflow_uuid": workflow_id,
                                          "topics": json.dumps(list(topics))}).fetchone()
        if row is None:
            return None
        return int(row[0]) - 1, int(row[1]), bytes(row[2])  # positions are 1-based in both dialects

    def record_selection(self, workflow_id: str, op: OperationRow, *, message_id: int | None = None,
                         also: OperationRow | None = None) -> tuple[bool, OperationRow | None]:
        from tether.storage.sqlstore import _op_params, _op_row

        with self._tx() as s:
            prior = s.run("get_operation", {"workflow_uuid": workflow_id,
                                            "function_id": op.function_id}).fetchone()
            if prior is not None and prior[6] is not None:  # completed by an earlier execution
                return False, _op_row(prior)
            if message_id is not None and s.run("take_message", {"workflow_uuid": workflow_id,
                                                                 "message_id": message_id}).rowcount != 1:
                return False, None
            s.run("insert_operation", _op_params(workflow_id, op))
            if also is not None:
                s.run("insert_operation", _op_params(workflow_id, also))
        return True, None
