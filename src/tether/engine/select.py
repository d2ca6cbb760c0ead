"""Durable select: wait inside a workflow for the first of several sources -- messages on some topics of its
own mailbox, an event of another workflow, the end of another workflow -- or a timeout.

Checkpointed as ``recv`` is: two operations, ``DBOS.select`` (the outcome, written in the same transaction as
taking the winning message) and right after it ``DBOS.sleep`` (the deadline, so a recovered select waits only
for what remained). A replay returns the recorded outcome without looking at the sources, and takes nothing.

Order: each look goes through the sources in list order and the first ready one wins; a message source is
ready when its topic holds a message (the oldest one is taken). The wait is woken by the hub keys of every
source (``msg``/``event``/``wf``) and by the caller's own cancellation; nothing polls.

The outcome is stored as portable JSON, whatever the workflow's serialization (``storage/selectstore.py``):
``{"index": i, "source": {...}, "status": ..., "error": base64 | null, "value": base64 | null}``, the value and
error being the stored bytes of the message, event value or workflow outcome (``{"index": null}``: timeout).
Each look checks the event and completion sources first (one read each), then, in one statement, takes the
oldest message of the first topic before the first ready one of those that holds a message; a select on
topics alone costs one statement per look, as ``recv`` does.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tether.engine import tracing, validation
from tether.engine.context import Preempted, require_workflow
from tether.engine.events import event_key
from tether.engine.inflight import CancelShield
from tether.engine.messages import topic_key
from tether.engine.outcomes import outcome_of
from tether.engine.runtime import Runtime
from tether.errors import (
    ArgumentTypeError,
    DBOSUnexpectedStepError,
    InvalidArgumentError,
    WorkflowCancelledError,
)
from tether.selection import SOURCE_TYPES, OnCompletion, OnEvent, OnMessage, Selected, Source
from tether.serialization import deserialize, deserialize_error, serialize, serialize_error
from tether.storage.base import OperationRow
from tether.storage.checkpoints import RecordOperation
from tether.storage.selectstore import selection_output, selection_value
from tether.types import TERMINAL_STATUSES, WorkflowStatusString

SELECT_NAME = "DBOS.select"
MAX_SOURCES = 256
"""The most sources one select may wait on."""


@dataclass(frozen=True)
class Plan:
    """Checked and normalized sources: ``described`` (per source, what the checkpoint names), the message
    topics in list order (``topics``) with the index of each (``topic_index``), and the other sources."""

    sources: tuple[Source, ...]
    described: tuple[dict[str, Any], ...]
    topics: tuple[str, ...]
    topic_index: tuple[int, ...]
    others: tuple[tuple[int, OnEvent | OnCompletion], ...]
    headers: tuple[str, ...]  # the checkpoint header (JSON) of each message source, in ``topics`` order


def plan(sources: object, caller_id: str | None = None) -> Plan:
    """Check and normalize the sources of a select (pure: nothing is read or written).

    Raises:
        ArgumentTypeError: ``sources`` is not a list or tuple, an item is not a source (build them with
            ``on_message``, ``on_event``, ``on_completion``), or an ID, topic or key is not a ``str``.
        InvalidArgumentError: no sources or more than :data:`MAX_SOURCES`; a topic, event or workflow named
            twice; a workflow waiting for its own end; a bad ID, topic or key (see
            :mod:`tether.engine.validation`).
    """
    if not isinstance(sources, list | tuple):
        raise ArgumentTypeError("sources", f"must be a list of sources, not {type(sources).__name__}")
    if not sources:
        raise InvalidArgumentError("sources", "select needs at least one source")
    if len(sources) > MAX_SOURCES:
        raise InvalidArgumentError("sources", f"{len(sources)} sources; at most {MAX_SOURCES} are allowed")
    described: list[dict[str, Any]] = []
    topics: list[str] = []
    topic_index: list[int] = []
    others: list[tuple[int, OnEvent | OnCompletion]] = []
    seen: set[tuple[Any, ...]] = set()
    for i, src in enumerate(sources):
        if not isinstance(src, SOURCE_TYPES):
            raise ArgumentTypeError(f"sources[{i}]", f"is a {type(src).__name__}, not a source; build sources "
                                    "with tether.on_message, on_event or on_completion")
        norm: Source
        if isinstance(src, OnMessage):
            key = topic_key(src.topic)
            norm = OnMessage(None if src.topic is None else key)
            topics.append(key)
            topic_index.append(i)
            ident: tuple[Any, ...] = ("message", key)
            what = f"topic {norm.topic!r}"
        elif isinstance(src, OnEvent):
            norm = OnEvent(validation.workflow_id(src.workflow_id, f"sources[{i}].workflow_id"), event_key(src.key))
            others.append((i, norm))
            ident = ("event", norm.workflow_id, norm.key)
            what = f"event {norm.key!r} of {norm.workflow_id!r}"
        else:
            norm = OnCompletion(validation.workflow_id(src.workflow_id, f"sources[{i}].workflow_id"))
            if norm.workflow_id == caller_id:
                raise InvalidArgumentError(f"sources[{i}]", "a workflow cannot wait for its own end")
            others.append((i, norm))
            ident = ("completion", norm.workflow_id)
            what = f"the end of {norm.workflow_id!r}"
        if ident in seen:
            raise InvalidArgumentError(f"sources[{i}]", f"{what} is named twice")
        seen.add(ident)
        described.append(norm.describe())
    return Plan(tuple(sources), tuple(described), tuple(topics), tuple(topic_index), tuple(others),
                tuple(_header(i, described[i]) for i in topic_index))


async def select(rt: Runtime, sources: Sequence[Source], timeout_seconds: float) -> Selected | None:
    """Wait for the first of ``sources`` to fire, up to ``timeout_seconds`` (None then); see the module doc.

    Raises:
        NotInWorkflowError: not called from a workflow (or called from a step).
        ArgumentTypeError, InvalidArgumentError: bad sources or timeout (see :func:`plan`); nothing is written.
        DBOSUnexpectedStepError: on replay, the recorded winner is not the source the code now has at its index.
        WorkflowCancelledError: the calling workflow was cancelled while waiting.
    """
    ctx = require_workflow(SELECT_NAME)
    p = plan(sources, ctx.workflow_id)
    timeout_seconds = validation.timeout(timeout_seconds)
    wfid = ctx.workflow_id
    fid = ctx.next_function_id()
    sleep_fid = ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        return _selected(p, wfid, fid, rec)
    started = rt.clock.now_ms()
    slept = ctx.recorded.get(sleep_fid)
    if slept is not None and slept.output is not None:
        deadline = int(deserialize(slept.output))
    else:
        deadline = started + int(timeout_seconds * 1000)
    sleep_row = None if slept is not None else OperationRow(
        function_id=sleep_fid, function_name="DBOS.sleep", output=serialize(deadline), started_at=started,
        completed_at=started)

    def outcome(output: bytes | None = None) -> OperationRow:
        return OperationRow(function_id=fid, function_name=SELECT_NAME, started_at=started,
                            completed_at=rt.clock.now_ms(), output=output)

    shield = CancelShield(rt)  # a cancel mid-statement does not lose what it took (engine/inflight.py)

    async def look() -> Selected | OperationRow | None:
        """The winner now (taken and recorded), the outcome an earlier execution recorded, or None."""
        if wfid in rt.cancelled:
            raise Preempted(wfid) if wfid in rt.preempted else WorkflowCancelledError(wfid)
        won = None
        for i, src in p.others:  # the first ready event or ended workflow, in list order
            won = await _ready(rt, i, src)
            if won is not None:
                break
        ahead = len(p.topics)
        if won is not None:  # only the message sources before it in the list can still win
            ahead = sum(1 for i in p.topic_index if i < won.index)
        if ahead:
            topics, headers = (p.topics, p.headers) if ahead == len(p.topics) else \
                (p.topics[:ahead], p.headers[:ahead])
            taken = await shield.io(functools.partial(rt.store.take_selected_message, wfid, topics, headers,
                                                      outcome(), also=sleep_row))
            if isinstance(taken, tuple):
                index = p.topic_index[taken[0]]
                return Selected(index=index, source=p.sources[index], value=deserialize(taken[1]))
            if taken is not None:
                return taken
        shield.check()  # a cancel that arrived during the take stands: nothing was taken
        if won is None:
            return None
        header = _header(won.index, p.described[won.index], won.status, won.error)
        prior = await shield.io(functools.partial(rt.store.record_selection, wfid,
                                                  outcome(selection_output(header, won.value)), also=sleep_row))
        if prior is not None:
            return prior
        return Selected(index=won.index, source=p.sources[won.index], value=deserialize(won.value),
                        status=won.status, error=deserialize_error(won.error) if won.error else None)

    got = await look()
    if got is None:
        if sleep_row is not None:
            await rt.checkpoint(RecordOperation(wfid, sleep_row))
            sleep_row = None
        got = await rt.wait_until(_keys(p, wfid), look, deadline)
    if got is None:
        timed_out = outcome(selection_output('{"index":null}', None))
        prior = await rt.checkpoint(RecordOperation(wfid, timed_out))
        result = _selected(p, wfid, fid, prior) if prior is not None else None
    else:
        result = got if isinstance(got, Selected) else _selected(p, wfid, fid, got)
    shield.withdraw()
    tracing.event(SELECT_NAME, fid, sources=len(p.sources))
    return result


def _keys(p: Plan, wfid: str) -> list[tuple[str, str, str]]:
    keys = [("msg", wfid, t) for t in p.topics]
    for _, src in p.others:
        if isinstance(src, OnEvent):
            keys.append(("event", src.workflow_id, src.key))
        else:
            keys.append(("wf", src.workflow_id, ""))
    keys.append(("wf", wfid, ""))  # the caller's own cancellation
    return keys


def _header(index: int, described: dict[str, Any], status: str | None = None, error: bytes | None = None) -> str:
    """The JSON text of a checkpoint without its value (see ``storage/selectstore.py``)."""
    return json.dumps({"index": index, "source": described, "status": status,
                       "error": None if error is None else base64.b64encode(error).decode("ascii")},
                      separators=(",", ":"))


@dataclass(frozen=True)
class _Fired:
    index: int
    value: bytes | None
    status: str | None = None
    error: bytes | None = None


async def _ready(rt: Runtime, index: int, src: OnEvent | OnCompletion) -> _Fired | None:
    """What event or completion source ``src`` holds if it has fired, else None."""
    if isinstance(src, OnEvent):
        value = await rt.io(rt.store.get_event, src.workflow_id, src.key)
        return None if value is None else _Fired(index, value)
    row = rt.recent_outcome(src.workflow_id)
    if row is None:
        if src.workflow_id in rt.active:
            return None  # running here: its end wakes us
        row = await rt.io(rt.store.get_workflow, src.workflow_id, load_input=False)
    if row is None or row.status not in TERMINAL_STATUSES:
        return None
    if row.status == WorkflowStatusString.SUCCESS.value:
        return _Fired(index, row.output, row.status)
    if row.status == WorkflowStatusString.ERROR.value and row.error is not None:
        return _Fired(index, None, row.status, row.error)
    try:
        outcome_of(row)
    except Exception as exc:  # the error get_result would raise: cancelled, too many recovery attempts, ...
        return _Fired(index, None, row.status, serialize_error(exc))
    return _Fired(index, row.output, row.status)


def _selected(p: Plan, wfid: str, fid: int, row: OperationRow) -> Selected | None:
    record = deserialize(row.output) if row.function_name == SELECT_NAME else None
    if not isinstance(record, dict) or "index" not in record:
        raise DBOSUnexpectedStepError(wfid, fid, SELECT_NAME, row.function_name)
    index = record["index"]
    if index is None:
        return None
    if not isinstance(index, int) or not 0 <= index < len(p.sources) or record.get("source") != p.described[index]:
        raise DBOSUnexpectedStepError(wfid, fid, f"{SELECT_NAME} of {list(p.described)}",
                                      f"{SELECT_NAME} won by {record.get('source')}")
    raw_error = selection_value(record, "error")
    return Selected(index=index, source=p.sources[index], value=deserialize(selection_value(record)),
                    status=record.get("status"), error=deserialize_error(raw_error) if raw_error else None)
