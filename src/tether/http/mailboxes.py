"""Gateway route for mailboxes: ``GET /workflows/{id}/messages``, the messages queued for a workflow that no
``recv`` has taken yet (read scope; a token limited to an ID prefix reaches only workflows under it).

The JSON shape is :func:`tether.http.encoding.mailbox_json`, documented in docs/gateway.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from tether.engine.validation import MAX_INT
from tether.errors import WorkflowNotFoundError
from tether.http.api import WorkflowAPI
from tether.http.encoding import mailbox_json
from tether.http.responses import JSONObject, TetherJSONResponse

WorkflowId = Path(min_length=1, description="The workflow's ID")


def add_mailbox_routes(router: APIRouter, api: WorkflowAPI) -> None:
    """Add the mailbox route for ``api`` to ``router`` (the read-scoped one)."""

    @router.get("/workflows/{workflow_id}/messages",
                summary="Messages sent to a workflow that no recv has taken yet: counts per topic, and a page of "
                        "them (grouped by topic, oldest first) with topic, send time, size and, with "
                        "load_values=true, value", response_model=JSONObject)
    async def pending_messages(workflow_id: str = WorkflowId,
                               topic: str | None = Query(None, description="Only this topic (default: every "
                                                                           "topic)"),
                               load_values: bool = Query(False, description="Include each message's value"),
                               limit: int = Query(100, ge=1, le=1000),
                               offset: int = Query(0, ge=0, le=MAX_INT)) -> Response:
        found = await api.list_workflows_async(workflow_ids=[workflow_id], load_input=False, load_output=False)
        if not found:
            raise WorkflowNotFoundError(workflow_id)
        counts = await api.pending_message_counts_async(workflow_id)
        messages = await api.list_pending_messages_async(workflow_id, topic, load_values=load_values, limit=limit,
                                                         offset=offset)
        return TetherJSONResponse(mailbox_json(found[0], counts, messages, values_loaded=load_values, limit=limit,
                                               offset=offset))
