"""Gateway routes for durable schedules: list, pause, resume, trigger, delete."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from tether.api.handles import WorkflowHandleAsync
from tether.engine import validation
from tether.errors import InvalidArgumentError, ScheduleNotFoundError
from tether.http.auth import require_unrestricted
from tether.http.encoding import schedule_json
from tether.http.management import MAX_FILTER_VALUES
from tether.http.responses import JSONObject, TetherJSONResponse
from tether.types import WorkflowSchedule

ScheduleName = Path(min_length=1, max_length=512, description="The schedule's name")
STATUSES = ("ACTIVE", "PAUSED")


class ScheduleAPI(Protocol):
    """The schedule methods ``DBOS`` and ``DBOSClient`` share."""

    async def list_schedules_async(self, *, status: str | list[str] | None = None,
                                   workflow_name: str | list[str] | None = None,
                                   schedule_name_prefix: str | list[str] | None = None,
                                   application_name: str | list[str] | None = None
                                   ) -> list[WorkflowSchedule]: ...

    async def get_schedule_async(self, name: str) -> WorkflowSchedule | None: ...

    async def pause_schedule_async(self, name: str) -> None: ...

    async def resume_schedule_async(self, name: str) -> None: ...

    async def delete_schedule_async(self, name: str) -> None: ...

    async def trigger_schedule_async(self, schedule_name: str) -> WorkflowHandleAsync[None]: ...


def add_schedule_routes(router: APIRouter, admin: APIRouter, api: ScheduleAPI) -> None:
    """Add the schedule routes for ``api``: reading ones to ``router``, changing ones to ``admin``. Schedules
    belong to no workflow-ID prefix, so a token limited to one cannot use these routes."""
    reads = APIRouter(dependencies=[Depends(require_unrestricted)])
    changes = APIRouter(dependencies=[Depends(require_unrestricted)])

    async def existing(name: str) -> WorkflowSchedule:
        found = await api.get_schedule_async(validation.text(name, "schedule name"))
        if found is None:
            raise ScheduleNotFoundError(name)
        return found

    @reads.get("/schedules", summary="Durable schedules, by name", response_model=JSONObject)
    async def list_schedules(status: list[str] | None = Query(None, max_length=MAX_FILTER_VALUES,
                                                              description="ACTIVE and/or PAUSED"),
                             workflow_name: list[str] | None = Query(None, max_length=MAX_FILTER_VALUES),
                             prefix: str | None = Query(None, description="Only names starting with this"),
                             application_name: list[str] | None = Query(
                                 None, max_length=MAX_FILTER_VALUES,
                                 description="Only these applications' schedules and the unclaimed ones (default: "
                                             "the serving application's, or every one's when the gateway serves "
                                             "a client of no application)")
                             ) -> Response:
        unknown = sorted(set(status or ()) - set(STATUSES))
        if unknown:  # as GET /workflows answers an unknown status, rather than listing nothing
            raise InvalidArgumentError("status", f"must be ACTIVE or PAUSED, not {', '.join(map(repr, unknown))}")
        found = await api.list_schedules_async(status=status, workflow_name=workflow_name,
                                               schedule_name_prefix=prefix, application_name=application_name)
        return TetherJSONResponse({"schedules": [schedule_json(s) for s in found]})

    @reads.get("/schedules/{name}", summary="One schedule", response_model=JSONObject)
    async def get_schedule(name: str = ScheduleName) -> Response:
        return TetherJSONResponse(schedule_json(await existing(name)))

    @changes.post("/schedules/{name}/pause", summary="Stop a schedule firing, in every process",
                  response_model=JSONObject)
    async def pause(name: str = ScheduleName) -> Response:
        await existing(name)
        await api.pause_schedule_async(name)
        return TetherJSONResponse(schedule_json(await existing(name)))

    @changes.post("/schedules/{name}/resume", summary="Let a paused schedule fire again", response_model=JSONObject)
    async def resume(name: str = ScheduleName) -> Response:
        await existing(name)
        await api.resume_schedule_async(name)
        return TetherJSONResponse(schedule_json(await existing(name)))

    @changes.post("/schedules/{name}/trigger", status_code=201, summary="Start one run of a schedule now")
    async def trigger(name: str = ScheduleName) -> dict[str, Any]:
        handle = await api.trigger_schedule_async(validation.text(name, "schedule name"))
        return {"schedule_name": name, "workflow_id": handle.workflow_id}

    @changes.delete("/schedules/{name}", summary="Delete a schedule (its past runs stay)")
    async def delete(name: str = ScheduleName) -> dict[str, Any]:
        await existing(name)
        await api.delete_schedule_async(name)
        return {"schedule_name": name, "deleted": True}

    router.include_router(reads)
    admin.include_router(changes)
