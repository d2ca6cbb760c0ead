"""Gateway routes for managing workflows: list, steps, cancel, resume, fork, and queues (list, enqueue).

Enqueueing by workflow name needs ``DBOSClient.enqueue_async`` (the gateway of ``tether serve``); a gateway
mounted on the ``DBOS`` class itself has no enqueue route (the application enqueues with ``Queue.enqueue``).
Arguments of enqueued workflows arrive as JSON and are stored in the portable format.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import Field
from starlette.responses import Response

from tether.api.context import SetWorkflowID
from tether.engine.validation import MAX_INT
from tether.errors import SerializationError, WorkflowNotFoundError
from tether.http.api import WorkflowAPI
from tether.http.auth import check_covers, granted
from tether.http.encoding import RequestBody, status_json, step_json
from tether.http.errors import ApiError
from tether.http.responses import JSONObject, TetherJSONResponse
from tether.http.tokens import Token
from tether.types import WorkflowSerializationFormat, WorkflowStatus

WorkflowId = Path(min_length=1, description="The workflow's ID")
QueueName = Path(min_length=1, description="The queue's name")
MAX_FILTER_VALUES = 1000
"""At most this many values of one list filter of a listing (``?name=a&name=b...``): each is an SQL parameter,
and PostgreSQL takes at most 65,535 in a statement."""


class ResumeRequest(RequestBody):
    queue_name: str | None = Field(default=None, description="Enqueue it here instead of running it at once")


class ForkRequest(RequestBody):
    start_step: int = Field(ge=1, le=MAX_INT,
                            description="Re-run from this step (1-based); earlier checkpoints are reused")
    workflow_id: str | None = Field(default=None, min_length=1, description="The new workflow's ID")
    application_version: str | None = None


class EnqueueRequest(RequestBody):
    workflow_name: str = Field(min_length=1, description="The name the workflow is registered under")
    args: list[Any] = Field(default_factory=list, description="Positional arguments (JSON values)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments (JSON values)")
    workflow_id: str | None = Field(default=None, min_length=1)
    deduplication_id: str | None = None
    priority: int | None = Field(default=None, ge=0, le=2**31 - 1)
    delay_seconds: float | None = Field(default=None, ge=0)
    app_version: str | None = None


async def _status(api: WorkflowAPI, workflow_id: str) -> WorkflowStatus:
    """A workflow's status without its inputs and output (nothing to decode).

    Raises:
        WorkflowNotFoundError: no workflow has this ID.
    """
    found = await api.list_workflows_async(workflow_ids=[workflow_id], load_input=False, load_output=False)
    if not found:
        raise WorkflowNotFoundError(workflow_id)
    return found[0]


def _brief(status: WorkflowStatus) -> dict[str, Any]:
    return {"workflow_id": status.workflow_id, "status": status.status, "queue_name": status.queue_name,
            "forked_from": status.forked_from}


def _new_id_under(token: Token | None, workflow_id: str | None) -> None:
    """A token limited to a prefix may only create workflows it can then reach: their ID must be given.

    Raises:
        ApiError: 403, no ID given, or one outside the token's prefix.
    """
    if token is None or token.prefix is None:
        return
    if workflow_id is None:
        raise ApiError(403, "forbidden", f"Token {token.name!r} is limited to workflow IDs starting with "
                                         f"{token.prefix!r}: give the new workflow_id")
    check_covers(token, workflow_id)


def _deduplication_id_under(token: Token | None, deduplication_id: str | None) -> None:
    """A token limited to a prefix may only use deduplication IDs under it: they are one namespace per queue,
    so another tenant's 409 ``deduplicated`` would tell this one that an ID outside its prefix is in use.

    Raises:
        ApiError: 403, the deduplication ID is outside the token's prefix.
    """
    if deduplication_id is not None and token is not None and not token.covers(deduplication_id):
        raise ApiError(403, "forbidden", f"Token {token.name!r} is limited to {token.prefix!r}: a "
                                         f"deduplication_id must start with it too")


def _prefix_for(token: Token | None, asked: str | None) -> str | None:
    """The ID prefix a listing uses: the one asked for, which must lie inside the token's own prefix.

    Raises:
        ApiError: 403, the prefix asked for reaches outside the token's prefix.
    """
    if token is None or token.prefix is None:
        return asked
    if asked is None:
        return token.prefix
    if not asked.startswith(token.prefix):
        raise ApiError(403, "forbidden", f"Token {token.name!r} is limited to workflow IDs starting with "
                                         f"{token.prefix!r}")
    return asked


def _attributes(text: str | None) -> dict[str, Any] | None:
    """The ``attributes`` filter of a listing: a JSON object.

    Raises:
        ApiError: 400, not a JSON object.
    """
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep for this process
        value = None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_argument", 'attributes must be a JSON object, such as {"tenant": "acme"}')
    return value


def add_management_routes(router: APIRouter, admin: APIRouter, api: WorkflowAPI) -> None:
    """Add the management routes for ``api``: reading ones to ``router``, changing ones to ``admin``."""

    @router.get("/workflows", summary="List workflows, newest first (sort_desc=false for oldest first), "
                                      "as the CLI lists them", response_model=JSONObject)
    async def list_workflows(request: Request,
                             status: list[str] | None = Query(None, max_length=MAX_FILTER_VALUES,
                                                              description="Any of these statuses"),
                             name: list[str] | None = Query(None, max_length=MAX_FILTER_VALUES),
                             queue_name: list[str] | None = Query(None, max_length=MAX_FILTER_VALUES),
                             workflow_id_prefix: str | None = None,
                             start_time: str | None = Query(None, description="RFC 3339, created at or after"),
                             end_time: str | None = Query(None, description="RFC 3339, created at or before"),
                             limit: int = Query(100, ge=1, le=10_000), offset: int = Query(0, ge=0, le=MAX_INT),
                             sort_desc: bool = True, load_input: bool = True, load_output: bool = True,
                             parent_workflow_id: str | None = Query(None, description="Children of this workflow"),
                             attributes: str | None = Query(None, description="A JSON object the workflows' "
                                                            "attributes contain")
                             ) -> Response:
        prefix = _prefix_for(granted(request), workflow_id_prefix)
        filters: dict[str, Any] = dict(
            status=status, name=name, queue_name=queue_name, workflow_id_prefix=prefix,
            start_time=start_time, end_time=end_time, limit=limit, offset=offset, sort_desc=sort_desc,
            parent_workflow_id=parent_workflow_id, attributes=_attributes(attributes))
        try:
            found = await api.list_workflows_async(**filters, load_input=load_input, load_output=load_output)
        except SerializationError as exc:  # some value cannot be decoded here: list without the values
            found = await api.list_workflows_async(**filters, load_input=False, load_output=False)
            return TetherJSONResponse({"workflows": [status_json(s, undecoded=str(exc)) for s in found]})
        return TetherJSONResponse({"workflows": [status_json(s) for s in found]})

    @router.get("/workflows/{workflow_id}/steps", summary="A workflow's recorded steps", response_model=JSONObject)
    async def steps(workflow_id: str = WorkflowId, limit: int | None = Query(None, ge=1, le=MAX_INT),
                    offset: int | None = Query(None, ge=0, le=MAX_INT)) -> Response:
        found = await api.list_workflow_steps_async(workflow_id, limit=limit, offset=offset)
        if not found:
            await _status(api, workflow_id)  # an unknown ID is a 404, not an empty list
        return TetherJSONResponse({"workflow_id": workflow_id, "steps": [step_json(s) for s in found]})

    @admin.post("/workflows/{workflow_id}/cancel", summary="Cancel a workflow (it stops at its next step)")
    async def cancel(workflow_id: str = WorkflowId) -> dict[str, Any]:
        await _status(api, workflow_id)
        await api.cancel_workflow_async(workflow_id)
        return _brief(await _status(api, workflow_id))

    @admin.post("/workflows/{workflow_id}/resume", summary="Resume a cancelled workflow from its last step")
    async def resume(workflow_id: str = WorkflowId, body: ResumeRequest | None = Body(None)) -> dict[str, Any]:
        await api.resume_workflow_async(workflow_id, queue_name=body.queue_name if body else None)
        return _brief(await _status(api, workflow_id))

    @admin.post("/workflows/{workflow_id}/fork", status_code=201,
                summary="Start a copy of a workflow that re-runs it from a step")
    async def fork(request: Request, body: ForkRequest, workflow_id: str = WorkflowId) -> dict[str, Any]:
        _new_id_under(granted(request), body.workflow_id)
        if body.workflow_id is not None:
            with SetWorkflowID(body.workflow_id):
                handle = await api.fork_workflow_async(workflow_id, body.start_step,
                                                       application_version=body.application_version)
        else:
            handle = await api.fork_workflow_async(workflow_id, body.start_step,
                                                   application_version=body.application_version)
        return _brief(await _status(api, handle.workflow_id))

    @router.get("/queues/{queue_name}/workflows", summary="Workflows waiting in or running from a queue",
                response_model=JSONObject)
    async def queued(request: Request, queue_name: str = QueueName, limit: int = Query(100, ge=1, le=10_000),
                     offset: int = Query(0, ge=0, le=MAX_INT)) -> Response:
        token = granted(request)
        found = await api.list_workflows_async(queue_name=queue_name, queues_only=True, limit=limit,
                                               offset=offset, load_output=False,
                                               workflow_id_prefix=token.prefix if token else None)
        return TetherJSONResponse({"queue_name": queue_name, "workflows": [status_json(s) for s in found]})

    enqueue_async = getattr(api, "enqueue_async", None)
    if enqueue_async is None:
        return

    @admin.post("/queues/{queue_name}/workflows", status_code=201,
                summary="Enqueue a workflow by its registered name; an application serving the queue runs it")
    async def enqueue(request: Request, body: EnqueueRequest, queue_name: str = QueueName) -> dict[str, Any]:
        token = granted(request)
        _new_id_under(token, body.workflow_id)
        _deduplication_id_under(token, body.deduplication_id)
        options: dict[str, Any] = {"queue_name": queue_name, "workflow_name": body.workflow_name,
                                   "serialization_type": WorkflowSerializationFormat.PORTABLE}
        for name in ("workflow_id", "deduplication_id", "priority", "delay_seconds", "app_version"):
            value = getattr(body, name)
            if value is not None:
                options[name] = value
        handle = await enqueue_async(options, *body.args, **body.kwargs)
        return _brief(await _status(api, handle.workflow_id))
