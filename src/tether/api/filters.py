"""The filters of ``list_workflows`` and ``list_queued_workflows``: their RFC 3339 times, their validation, the
storage filter they become, and their names and types for type checkers (``**filters`` of the ``*_async`` and
queued forms is checked against :class:`WorkflowFilters` / :class:`QueuedWorkflowFilters`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict

from tether.api.binding import StrOrList, _as_list
from tether.engine import validation
from tether.engine.attributes import encode_attributes
from tether.storage.base import WorkflowFilter
from tether.types import WorkflowStatusString


class QueuedWorkflowFilters(TypedDict, total=False):
    """The keyword filters of ``list_queued_workflows`` (DBOS 3.4's names); see ``list_workflows``."""

    workflow_ids: list[str] | None
    status: StrOrList
    start_time: str | None
    end_time: str | None
    completed_after: str | None
    completed_before: str | None
    dequeued_after: str | None
    dequeued_before: str | None
    name: StrOrList
    app_version: StrOrList
    forked_from: StrOrList
    parent_workflow_id: StrOrList
    user: StrOrList
    queue_name: StrOrList
    limit: int | None
    offset: int | None
    sort_desc: bool
    workflow_id_prefix: StrOrList
    load_input: bool
    load_output: bool
    executor_id: StrOrList
    is_fork: bool | None
    has_parent: bool | None
    attributes: dict[str, Any] | None
    application_name: StrOrList
    shard_key: StrOrList
    parent_shard_key: StrOrList


class WorkflowFilters(QueuedWorkflowFilters, total=False):
    """The keyword filters of ``list_workflows`` (DBOS 3.4's names)."""

    queues_only: bool
    was_forked_from: bool | None
    schedule_name: StrOrList


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def parse_time_us(value: str | None) -> int | None:
    """An RFC 3339 timestamp as epoch microseconds, exactly (integer arithmetic, no float rounding). A time
    without an offset is read in this process's local time zone, as DBOS reads it (``datetime.now()`` works).

    Raises:
        ValueError: the string is not an RFC 3339 timestamp.
    """
    if value is None:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is local time
    return (moment - _EPOCH) // _MICROSECOND


def parse_time(value: str | None) -> int | None:
    """An RFC 3339 timestamp as epoch milliseconds, rounded down (naive times are local, as in
    :func:`parse_time_us`).

    Raises:
        ValueError: the string is not an RFC 3339 timestamp.
    """
    us = parse_time_us(value)
    return None if us is None else us // 1000


def upper_bound_us(value: str | None) -> int | None:
    """The last microsecond an upper bound (``end_time``, ``completed_before``, ``dequeued_before``) admits.
    A bound with sub-millisecond digits is exact; a bound on a whole millisecond (as ``created_at`` and the
    other times are reported) admits that whole millisecond, so a workflow is always inside a bound made from
    its own reported time, as with DBOS.

    Raises:
        ValueError: the string is not an RFC 3339 timestamp.
    """
    us = parse_time_us(value)
    return us + 999 if us is not None and us % 1000 == 0 else us


_STATUSES = {s.value for s in WorkflowStatusString}


def workflow_filter(*, workflow_ids: list[str] | None = None, status: StrOrList = None,
                    start_time: str | None = None, end_time: str | None = None,
                    completed_after: str | None = None, completed_before: str | None = None,
                    dequeued_after: str | None = None, dequeued_before: str | None = None,
                    name: StrOrList = None, app_version: StrOrList = None, forked_from: StrOrList = None,
                    parent_workflow_id: StrOrList = None, user: StrOrList = None, queue_name: StrOrList = None,
                    limit: int | None = None, offset: int | None = None, sort_desc: bool = False,
                    workflow_id_prefix: StrOrList = None, load_input: bool = True, load_output: bool = True,
                    executor_id: StrOrList = None, queues_only: bool = False, has_parent: bool | None = None,
                    was_forked_from: bool | None = None, is_fork: bool | None = None,
                    attributes: dict[str, Any] | None = None, application_name: StrOrList = None,
                    schedule_name: StrOrList = None, shard_key: StrOrList = None,
                    parent_shard_key: StrOrList = None) -> WorkflowFilter:
    """The storage filter for ``list_workflows`` arguments. ``shard_key``/``parent_shard_key`` are accepted
    and ignored: the database is not sharded.

    Raises:
        ValueError: an unknown status or a malformed timestamp.
        InvalidArgumentError, ArgumentTypeError: a limit or offset out of range, or an ID, prefix or name
            that no workflow can have (see :mod:`tether.engine.validation`).
        TetherError: ``attributes`` is not a JSON-serializable dict.
    """
    statuses = _as_list(status)
    for s in statuses or ():
        if str(s) not in _STATUSES:
            raise ValueError(f"Unknown workflow status {s!r}; expected one of {sorted(_STATUSES)}")
    validation.optional_count(limit, "limit")
    validation.optional_count(offset, "offset")
    for argument, values in (("workflow_ids", workflow_ids), ("workflow_id_prefix", workflow_id_prefix),
                             ("name", name), ("queue_name", queue_name), ("app_version", app_version),
                             ("forked_from", forked_from), ("parent_workflow_id", parent_workflow_id),
                             ("user", user), ("executor_id", executor_id)):
        for value in _as_list(values) or ():
            validation.text(value, argument, empty=True)
    return WorkflowFilter(
        workflow_ids=list(workflow_ids) if workflow_ids is not None else None,
        status=[str(s) for s in statuses] if statuses is not None else None,
        start_time_us=parse_time_us(start_time), end_time_us=upper_bound_us(end_time), name=_as_list(name),
        completed_after_us=parse_time_us(completed_after), completed_before_us=upper_bound_us(completed_before),
        dequeued_after_us=parse_time_us(dequeued_after), dequeued_before_us=upper_bound_us(dequeued_before),
        app_version=_as_list(app_version), forked_from=_as_list(forked_from),
        parent_workflow_id=_as_list(parent_workflow_id), user=_as_list(user), queue_name=_as_list(queue_name),
        workflow_id_prefix=_as_list(workflow_id_prefix), executor_id=_as_list(executor_id),
        queues_only=queues_only, has_parent=has_parent, was_forked_from=was_forked_from, is_fork=is_fork,
        attributes=encode_attributes(attributes), application_name=_as_list(application_name),
        schedule_name=_as_list(schedule_name), limit=limit, offset=offset, sort_desc=sort_desc,
        load_input=load_input, load_output=load_output,
    )
