"""The dashboard's routes: its pages (public static files) and the JSON and SSE routes only it needed."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from tether.api.binding import _runtime_of
from tether.engine.overview import QueueOverview, queue_overview
from tether.http.api import WorkflowAPI
from tether.http.auth import granted, require_unrestricted
from tether.http.dashboard.watch import ChangeWatcher
from tether.http.management import _status

STATIC = FilePath(__file__).parent / "static"
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
"""The pages' Content-Security-Policy: scripts and styles from these files only, requests to this server only."""
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
WorkflowId = Path(min_length=1, description="The workflow's ID")


def queue_json(q: QueueOverview) -> dict[str, Any]:
    """A queue as the dashboard shows it: its limits (null: none) and how many workflows wait or run."""
    p = q.policy
    limits: dict[str, Any] | None = None
    if p is not None:
        limits = {
            "global_concurrency": p.concurrency, "worker_concurrency": p.worker_concurrency,
            "rate_limit": None if p.limit is None else {"limit": p.limit, "period_ms": p.period_ms},
            "partition_concurrency": p.partition_concurrency,
            "partition_worker_concurrency": p.partition_worker_concurrency,
            "partition_rate_limit": None if p.partition_limit is None else {
                "limit": p.partition_limit, "period_ms": p.partition_period_ms},
            "priority_enabled": p.priority_enabled, "application_name": p.application_name,
        }
    return {"name": q.name, "source": q.source, "limits": limits,
            "enqueued": q.counts.get("ENQUEUED", 0), "running": q.counts.get("PENDING", 0),
            "delayed": q.counts.get("DELAYED", 0)}


def add_dashboard(app: FastAPI, router: APIRouter, api: WorkflowAPI, watcher: ChangeWatcher) -> None:
    """Serve the pages on ``app`` and add the dashboard's data routes to ``router`` (the reading routes)."""
    app.mount("/ui/assets", StaticFiles(directory=STATIC), name="tether-dashboard")

    @app.get("/ui", include_in_schema=False)
    async def ui_redirect() -> Response:
        return RedirectResponse("ui/", status_code=308)  # relative: works wherever the gateway is mounted

    @app.get("/ui/", include_in_schema=False)
    async def ui_page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})

    @router.get("/changes", summary="Server-Sent Events: workflows as they are created or change status "
                                    "(for a live list; see the dashboard)",
                responses={200: {"content": {"text/event-stream": {}}}})
    async def changes(request: Request) -> Response:
        token = granted(request)
        sub = watcher.subscribe(None, token.prefix if token else None)
        return StreamingResponse(watcher.events(sub, request.receive), media_type="text/event-stream",
                                 headers=_SSE_HEADERS)

    @router.get("/workflows/{workflow_id}/changes",
                summary="Server-Sent Events: what changed in one workflow (status, events, streams, messages)",
                responses={200: {"content": {"text/event-stream": {}}}})
    async def workflow_changes(request: Request, workflow_id: str = WorkflowId) -> Response:
        await _status(api, workflow_id)
        sub = watcher.subscribe(workflow_id)
        return StreamingResponse(watcher.events(sub, request.receive), media_type="text/event-stream",
                                 headers=_SSE_HEADERS)

    @router.get("/workflows/{workflow_id}/streams", summary="The streams a workflow wrote, by key")
    async def streams(workflow_id: str = WorkflowId) -> dict[str, Any]:
        await _status(api, workflow_id)
        found = await api.list_streams_async(workflow_id)
        return {"workflow_id": workflow_id,
                "streams": [{"key": s.key, "values": s.values, "closed": s.closed} for s in found]}

    unrestricted = APIRouter(dependencies=[Depends(require_unrestricted)])

    @unrestricted.get("/queues", summary="Queues: their limits and how many workflows wait, run, are delayed")
    async def queues() -> dict[str, Any]:
        return {"queues": [queue_json(q) for q in await queue_overview(_runtime_of(api))]}

    router.include_router(unrestricted)
