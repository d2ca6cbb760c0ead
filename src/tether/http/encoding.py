"""Turning Tether values into JSON for HTTP, and the shape of the JSON bodies the gateway takes.

Only JSON crosses HTTP. Values that workflows stored in the default (pickle) format reach the gateway already
decoded by the public API; here they are re-encoded as JSON. A value JSON cannot represent (a set, a custom
class, NaN) never becomes a 500: a single value is answered with 406 (see :class:`NotJSONError`), and inside a
larger document (all events, a status) it is replaced in place by an error marker::

    {"$tether_error": "not_json", "type": "set", "detail": "..."}
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from tether.serialization import PortableWorkflowError, UndecodableValue
from tether.types import PendingMessage, StepInfo, WorkflowSchedule, WorkflowStatus

ERROR_MARKER = "$tether_error"


class RequestBody(BaseModel):
    """A JSON body the gateway takes: each field of its own JSON type (``"1"`` or ``true`` is no step number)
    and no field it does not know (a misspelt ``delay_second`` is an error, not a workflow started at once);
    either is a 422 ``invalid_request`` before anything is written."""

    model_config = ConfigDict(strict=True, extra="forbid")


class NotJSONError(ValueError):
    """A stored value has no JSON form. ``type_name`` is the Python type that could not be encoded."""

    def __init__(self, type_name: str, detail: str) -> None:
        super().__init__(f"A value of type {type_name} cannot be represented as JSON: {detail}")
        self.type_name = type_name
        self.detail = detail


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``.

    Raises:
        NotJSONError: the value (or something inside it) has no JSON form.
    """
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise NotJSONError(type(value).__name__, str(exc)) from exc


def to_json(value: Any) -> Any:
    """``value`` as plain JSON data (dicts, lists, str, numbers, bool, None).

    Raises:
        NotJSONError: the value has no JSON form.
    """
    return json.loads(dumps(value))


def marker(exc: NotJSONError) -> dict[str, Any]:
    """The in-place error value standing for a value that has no JSON form."""
    return {ERROR_MARKER: "not_json", "type": exc.type_name, "detail": exc.detail}


def undecodable(detail: str) -> dict[str, Any]:
    """The in-place error value standing for a stored value this process cannot decode (a pickled class that
    is not importable here, typically in ``tether serve``)."""
    return {ERROR_MARKER: "undecodable", "detail": detail}


def to_json_or_marker(value: Any) -> Any:
    """Like :func:`to_json`, but a value without JSON form becomes an error marker instead of raising (and a
    value listed as undecodable here, the ``undecodable`` marker)."""
    if isinstance(value, UndecodableValue):
        return undecodable(value.reason)
    try:
        return to_json(value)
    except NotJSONError as exc:
        return marker(exc)


def error_json(error: BaseException | None) -> dict[str, str] | None:
    """A recorded workflow or step error as ``{"type": ..., "message": ...}``."""
    if error is None:
        return None
    if isinstance(error, PortableWorkflowError) and error.name == "UndecodableError":
        return undecodable(error.message)
    type_name = getattr(error, "type_name", None) or type(error).__name__
    message = getattr(error, "message", None) or str(error)
    return {"type": str(type_name), "message": str(message)}


def status_json(status: WorkflowStatus, undecoded: str | None = None) -> dict[str, Any]:
    """A :class:`WorkflowStatus` as JSON data; inputs and output that have no JSON form become markers.
    ``undecoded`` (why they could not be read) marks a status loaded without input, output and error."""
    out: dict[str, Any] = {}
    if undecoded is None:  # a value the status could not decode here marks all three, as a failed load does
        undecoded = next((v.reason for v in (status.input, status.output) if isinstance(v, UndecodableValue)),
                         None)
    for field in dataclasses.fields(status):
        value = getattr(status, field.name)
        if undecoded is not None and field.name in ("input", "output", "error"):
            out[field.name] = undecodable(undecoded)
        elif field.name == "error":
            out[field.name] = error_json(value)
        elif field.name in ("input", "output"):
            out[field.name] = to_json_or_marker(value)
        else:
            out[field.name] = value
    return out


def step_json(step: StepInfo) -> dict[str, Any]:
    """A :class:`StepInfo` as JSON data."""
    out: dict[str, Any] = dict(step)
    out["output"] = to_json_or_marker(step["output"])
    out["error"] = error_json(step["error"])
    return out


def schedule_json(schedule: WorkflowSchedule) -> dict[str, Any]:
    """A :class:`WorkflowSchedule` as JSON data; a context without JSON form becomes a marker."""
    out: dict[str, Any] = dict(schedule)
    out["context"] = to_json_or_marker(schedule["context"])
    return out


def pending_message_json(message: PendingMessage, values_loaded: bool) -> dict[str, Any]:
    """A :class:`PendingMessage` as JSON data. ``value`` is null unless ``values_loaded``; a value without JSON
    form, or one this process cannot decode, is an error marker."""
    out: dict[str, Any] = dataclasses.asdict(message)
    out["value"] = to_json_or_marker(message.value) if values_loaded else None
    return out


def mailbox_json(status: WorkflowStatus, counts: dict[str | None, int], messages: list[PendingMessage], *,
                 values_loaded: bool, limit: int | None, offset: int) -> dict[str, Any]:
    """A workflow's mailbox as the gateway (``GET /workflows/{id}/messages``) and ``tether workflow messages
    --json`` give it: its status, the unread count recorded at its end, live counts per topic (a null topic:
    sent without one), and one page of the pending messages (see docs/gateway.md for the shape)."""
    return {
        "workflow_id": status.workflow_id,
        "status": status.status,
        "unread_messages_at_end": status.unread_messages_at_end,
        "pending": sum(counts.values()),
        "counts": [{"topic": topic, "count": n} for topic, n in counts.items()],
        "values_loaded": values_loaded,
        "limit": limit,
        "offset": offset,
        "messages": [pending_message_json(m, values_loaded) for m in messages],
    }
