"""Gateway routes for versioned events: an event's latest value with its version, and a key's versions as JSON or
followed live as Server-Sent Events.

    GET /workflows/{id}/events/{key}/latest?timeout=5       {"found", "version", "value", "created_at_epoch_ms"}
    GET /workflows/{id}/events/{key}/versions?from_version=1  the versions set so far (JSON), or, with
                                                             ``Accept: text/event-stream``, every version live

Each SSE event carries one version: its ``id`` is the version number and its ``data`` the value as JSON (event
``unrepresentable`` for a value with no JSON form). When the workflow has ended and every version was sent, an
``end`` event (data ``{"next_version": n}``) closes the follow. A browser's EventSource that reconnects sends
``Last-Event-ID`` and the follow resumes at the next version, so nothing is lost or repeated; a reconnect to a
follow that has nothing left is answered 204, which tells EventSource to stop. ``: keepalive`` comments are sent
while nothing changes. Each follower is woken only by its key's notifications (see ``engine/event_watch.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from tether.engine.validation import MAX_INT
from tether.errors import InvalidArgumentError
from tether.http.api import WorkflowAPI
from tether.http.encoding import dumps, to_json_or_marker
from tether.http.responses import JSONObject, TetherJSONResponse
from tether.http.sse import KEEPALIVE_SECONDS, RETRY_MS, Item, encode_value, format_event
from tether.types import TERMINAL_STATUSES, EventVersion

WorkflowId = Path(min_length=1, description="The workflow's ID")
MAX_WAIT_SECONDS = 600.0


def version_json(change: EventVersion) -> dict[str, Any]:
    return {"version": change.version, "value": to_json_or_marker(change.value),
            "created_at_epoch_ms": change.created_at_epoch_ms}


def resume_version(from_version: int, last_event_id: str | None) -> int:
    """Where a follower starts: after ``Last-Event-ID`` when a browser reconnects, else at ``from_version``.

    Raises:
        InvalidArgumentError: ``Last-Event-ID`` is not a version number (an integer from 0 to 2**63 - 2).
    """
    if last_event_id is None or last_event_id.strip() == "":
        return max(1, from_version)
    text = last_event_id.strip()
    if len(text) > 19 or not text.isdigit() or not text.isascii() or int(text) >= MAX_INT:
        raise InvalidArgumentError("Last-Event-ID", f"must be an event version (an integer from 0 to 2**63 - 2), "
                                                    f"not {text[:40]!r}")
    return int(text) + 1


async def follow_sse(api: WorkflowAPI, workflow_id: str, key: str, start: int,
                     keepalive_seconds: float = KEEPALIVE_SECONDS) -> AsyncIterator[str]:
    """The SSE text of an event's versions from ``start``: each version as it is set, then ``end``."""
    yield f"retry: {RETRY_MS}\n\n"
    changes = api.watch_event_async(workflow_id, key, from_version=start)
    next_version = start
    pending: asyncio.Task[EventVersion] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(changes.__anext__())
            done, _ = await asyncio.wait((pending,), timeout=keepalive_seconds)
            if not done:
                yield ": keepalive\n\n"
                continue
            task, pending = pending, None
            try:
                change = task.result()
            except StopAsyncIteration:
                yield format_event(None, Item("end", dumps({"next_version": next_version})))
                return
            except Exception as exc:  # a storage or decoding failure ends this follow; the reader is told why
                yield format_event(None, Item("failure", dumps({"error": type(exc).__name__, "detail": str(exc)})))
                return
            next_version = change.version + 1
            yield format_event(change.version, encode_value(change.value))
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await changes.aclose()


async def _nothing_left(api: WorkflowAPI, workflow_id: str, key: str, start: int) -> bool:
    """The workflow has ended and set no version from ``start`` on (a reconnect has nothing to wait for)."""
    status = await api.get_workflow_status_async(workflow_id)
    if status is None or status.status not in TERMINAL_STATUSES:
        return False
    return not await api.list_event_versions_async(workflow_id, key, from_version=start)


def add_event_routes(router: APIRouter, api: WorkflowAPI) -> None:
    """Add the versioned-event routes to ``router`` (the gateway's read-scoped routes)."""

    @router.get("/workflows/{workflow_id}/events/{key}/latest",
                summary="An event's latest value with its version, waiting up to `timeout` seconds for a first one",
                response_model=JSONObject)
    async def latest(key: str, workflow_id: str = WorkflowId,
                     timeout: float = Query(5.0, ge=0, le=MAX_WAIT_SECONDS)) -> Response:
        await api.retrieve_workflow_async(workflow_id)
        got = await api.get_event_with_version_async(workflow_id, key, timeout_seconds=timeout)
        if got is None:
            return TetherJSONResponse({"workflow_id": workflow_id, "key": key, "found": False, "version": None,
                                       "value": None, "created_at_epoch_ms": None})
        return TetherJSONResponse({"workflow_id": workflow_id, "key": key, "found": True, **version_json(got)})

    @router.get("/workflows/{workflow_id}/events/{key}/versions",
                summary="An event's versions: JSON, or followed live as Server-Sent Events (id = version) with "
                        "`Accept: text/event-stream`",
                responses={200: {"content": {"text/event-stream": {}}}})
    async def versions(request: Request, key: str, workflow_id: str = WorkflowId,
                       from_version: int = Query(1, ge=0, le=MAX_INT, description="First version to read"),
                       last_event_id: str | None = Header(None, alias="Last-Event-ID"),
                       access_token: str | None = Query(None, description="Token, for EventSource")) -> Response:
        await api.retrieve_workflow_async(workflow_id)
        start = resume_version(from_version, last_event_id)
        if "text/event-stream" in request.headers.get("accept", ""):
            if last_event_id is not None and await _nothing_left(api, workflow_id, key, start):
                return Response(status_code=204)
            headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            return StreamingResponse(follow_sse(api, workflow_id, key, start), media_type="text/event-stream",
                                     headers=headers)
        got = await api.list_event_versions_async(workflow_id, key, from_version=start)
        return TetherJSONResponse({"workflow_id": workflow_id, "key": key, "from_version": start,
                                   "versions": [version_json(c) for c in got],
                                   "next_version": got[-1].version + 1 if got else start})
