"""Workflow listings both SQL backends share: the dynamic, index-served query behind ``list_workflows`` (and
``list_queued_workflows``), and its query plan for the tests that check an index serves each filter."""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tether.storage.base import WORKFLOW_COLUMNS, WorkflowFilter, WorkflowRow

if TYPE_CHECKING:
    from tether.storage.session import Session


def workflow_row(cols: Sequence[str], r: Sequence[Any]) -> WorkflowRow:
    """A ``WorkflowRow`` from the values of ``cols`` (blobs as ``bytes`` on both backends)."""
    values = dict(zip(cols, r, strict=True))
    for blob in ("inputs", "output", "error"):
        if values.get(blob) is not None:
            values[blob] = bytes(values[blob])
    return WorkflowRow(**values)


def prefix_end(prefix: str) -> str | None:
    """The first string after every string that starts with ``prefix``, in code point order (the order of
    UTF-8 bytes, as both backends compare IDs), or None when there is none (``prefix`` is only U+10FFFF).
    ``[prefix, prefix_end(prefix))`` is exactly the strings starting with ``prefix``; IDs hold no surrogates,
    so the successor of U+D7FF is U+E000."""
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return None
    after = ord(stem[-1]) + 1
    return stem[:-1] + chr(0xE000 if 0xD800 <= after <= 0xDFFF else after)


MAX_LISTED_VALUES = 100
"""Up to this many values, a list filter is written out as parameters; longer ones go as one JSON array."""


class ListStore(abc.ABC):
    """Mixed into ``SqlStore``; backends override the dialect attributes (``_no_limit``, ``_true``, ...)."""

    placeholder: str = "?"

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def list_workflows(self, flt: WorkflowFilter) -> list[WorkflowRow]:
        sql, params = self._build_list(flt)
        cols = [c for c in WORKFLOW_COLUMNS
                if (flt.load_input or c != "inputs") and (flt.load_output or c not in ("output", "error"))]
        with self._auto() as s:
            rows = s.run_sql(sql, params).fetchall()
        return [workflow_row(cols, r) for r in rows]

    def _build_list(self, flt: WorkflowFilter) -> tuple[str, list[Any]]:
        """Dynamic SQL for list_workflows; every condition is on an indexed or cheap column."""
        ph = self.placeholder
        cols = [c for c in WORKFLOW_COLUMNS
                if (flt.load_input or c != "inputs") and (flt.load_output or c not in ("output", "error"))]
        where: list[str] = []
        params: list[Any] = []

        def any_of(column: str, values: Sequence[str] | None) -> None:
            if values is None:
                return
            values = list(values)
            where.append(self._one_of(column, values, params) if values else "1 = 0")

        any_of("workflow_uuid", flt.workflow_ids)
        any_of("status", flt.status)
        any_of("name", flt.name)
        any_of("application_version", flt.app_version)
        any_of("forked_from", flt.forked_from)
        any_of("parent_workflow_id", flt.parent_workflow_id)
        any_of("authenticated_user", flt.user)
        any_of("queue_name", flt.queue_name)
        any_of("executor_id", flt.executor_id)
        any_of("schedule_name", flt.schedule_name)
        # Time bounds are exact to the microsecond: the millisecond column makes the range (its indexes serve
        # it), and only a row of the bound's own millisecond is settled by the microsecond column. A row known
        # to the millisecond only (written before migration 015, or imported) counts as inside.
        for column, fine, bound, op in (("created_at", "created_at_us", flt.start_time_us, ">"),
                                        ("created_at", "created_at_us", flt.end_time_us, "<"),
                                        ("completed_at", "completed_at_us", flt.completed_after_us, ">"),
                                        ("completed_at", "completed_at_us", flt.completed_before_us, "<"),
                                        ("started_at_epoch_ms", "started_at_us", flt.dequeued_after_us, ">"),
                                        ("started_at_epoch_ms", "started_at_us", flt.dequeued_before_us, "<")):
            if bound is not None:
                ms = bound // 1000
                where.append(f"{column} {op}= {ph} AND ({column} {op} {ph} OR {fine} IS NULL OR {fine} {op}= {ph})")
                params.extend([ms, ms, bound])
        if flt.workflow_id_prefix is not None:
            prefixes = list(flt.workflow_id_prefix)
            conds = []
            for p in prefixes:
                # A range on the primary key instead of LIKE, so the index serves it on both backends.
                col = self._prefix_column
                upper = prefix_end(p)
                if upper is None:
                    conds.append(f"({col} >= {ph})")
                    params.append(p)
                else:
                    conds.append(f"({col} >= {ph} AND {col} < {ph})")
                    params.extend([p, upper])
            where.append("(" + " OR ".join(conds or ["1 = 0"]) + ")")
        if flt.queues_only:  # as DBOS: a status filter replaces the default statuses of the queued ones
            where.append("queue_name IS NOT NULL")
            if flt.status is None:
                where.append("status IN ('DELAYED', 'ENQUEUED', 'PENDING')")
        if flt.has_parent is not None:
            where.append("parent_workflow_id IS " + ("NOT NULL" if flt.has_parent else "NULL"))
        if flt.was_forked_from is not None:
            where.append("was_forked_from = " + self._true if flt.was_forked_from else
                         "was_forked_from = " + self._false)
        if flt.is_fork is not None:
            where.append("forked_from IS " + ("NOT NULL" if flt.is_fork else "NULL"))
        any_of("application_name", flt.application_name)
        if flt.dequeued_after_us is not None or flt.dequeued_before_us is not None:
            where.append("queue_name IS NOT NULL")  # only queued workflows are dequeued
        if flt.attributes is not None:
            where.append(self._attributes_contain(ph))
            params.append(flt.attributes)
        sql = f"SELECT {', '.join(cols)} FROM workflow_status"
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "DESC" if flt.sort_desc else "ASC"  # the tie-break follows, so one index scan serves both
        sql += f" ORDER BY created_at {order}, workflow_uuid {order}"
        if flt.limit is not None:
            sql += f" LIMIT {int(flt.limit)}"
        if flt.offset is not None:
            if flt.limit is None:
                sql += " LIMIT " + self._no_limit
            sql += f" OFFSET {int(flt.offset)}"
        return sql, params

    _no_limit = "ALL"
    _true, _false = "1", "0"
    # The strings of a JSON array parameter, as rows (SQLite's; PostgreSQL overrides it).
    _json_strings = "SELECT value FROM json_each({ph})"

    def _one_of(self, column: str, values: Sequence[str], params: list[Any]) -> str:
        """The condition "``column`` is one of ``values``" (not empty), its parameters added to ``params``. A
        long list is one parameter, a JSON array: both backends cap a statement's parameters (PostgreSQL at
        65,535, SQLite at 32,766 unless built otherwise), and a listing or a bulk change may name more workflows
        than that."""
        ph = self.placeholder
        if len(values) <= MAX_LISTED_VALUES:
            params.extend(values)
            return f"{column} IN ({', '.join([ph] * len(values))})"
        params.append(json.dumps(list(values)))
        return f"{column} IN ({self._json_strings.format(ph=ph)})"

    @abc.abstractmethod
    def _attributes_contain(self, ph: str) -> str:
        """The condition "the workflow's attributes contain this JSON object" (PostgreSQL's ``@>``); each
        backend supplies it."""
    # The expression prefix ranges compare; PostgreSQL overrides it to compare bytewise (COLLATE "C").
    _prefix_column = "workflow_uuid"
    _explain = "EXPLAIN"

    def explain_list_workflows(self, flt: WorkflowFilter) -> str:
        sql, params = self._build_list(flt)
        with self._auto() as s:
            rows = s.run_sql(f"{self._explain} {sql}", params).fetchall()
        return "\n".join(str(r[-1]) for r in rows)
