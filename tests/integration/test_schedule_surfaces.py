"""Schedules through the ``tether`` CLI and the HTTP gateway, on both backends: list, pause, resume, trigger,
delete, and a 404 / exit code 1 for a schedule that does not exist."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tether import DBOS, DBOSClient
from tether.cli import main
from tether.http import create_gateway


def _far_daily() -> str:
    t = datetime.now(timezone.utc) + timedelta(hours=12)
    return f"{t.minute} {t.hour} * * *"


@DBOS.workflow(name="surfaces_nightly")
def nightly(scheduled_at: datetime, ctx: Any) -> str:
    return f"{ctx['region']}@{scheduled_at.isoformat()}"


@pytest.fixture
def schedule(dbos: type[DBOS]) -> Iterator[str]:
    name = f"surfaces-{uuid.uuid4().hex[:8]}"
    DBOS.create_schedule(schedule_name=name, workflow_fn=nightly, schedule=_far_daily(), context={"region": "eu"},
                         cron_timezone="Europe/Paris")
    yield name
    DBOS.delete_schedule(name)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def test_cli_manages_schedules(capsys: pytest.CaptureFixture[str], db_url: str, schedule: str) -> None:
    code, found = cli(capsys, "schedule", "list", "--prefix", schedule, "--db", db_url)
    assert code == 0 and [(s["schedule_name"], s["status"], s["context"]) for s in found] == [
        (schedule, "ACTIVE", {"region": "eu"})]
    assert cli(capsys, "schedule", "pause", schedule, "--db", db_url)[0] == 0
    assert DBOS.get_schedule(schedule)["status"] == "PAUSED"  # type: ignore[index]
    assert cli(capsys, "schedule", "list", "--status", "ACTIVE", "--prefix", schedule, "--db", db_url) == (0, [])
    assert cli(capsys, "schedule", "resume", schedule, "--db", db_url)[0] == 0
    assert DBOS.get_schedule(schedule)["status"] == "ACTIVE"  # type: ignore[index]
    code, triggered = cli(capsys, "schedule", "trigger", schedule, "--db", db_url)
    assert code == 0
    assert DBOS.retrieve_workflow(triggered["workflow_id"]).get_result().startswith("eu@")
    assert main(["schedule", "list", "--prefix", schedule, "--db", db_url]) == 0
    assert schedule in capsys.readouterr().out  # the table form
    assert cli(capsys, "schedule", "delete", schedule, "--db", db_url)[0] == 0
    assert DBOS.get_schedule(schedule) is None
    assert main(["schedule", "pause", schedule, "--db", db_url]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_gateway_manages_schedules(db_url: str, schedule: str) -> None:
    with DBOSClient(db_url) as client, TestClient(create_gateway(client, insecure=True),
                                                 base_url="http://localhost") as http:
        listed = http.get("/schedules", params={"prefix": schedule}).json()["schedules"]
        assert [(s["schedule_name"], s["cron_timezone"], s["application_name"]) for s in listed] == [
            (schedule, "Europe/Paris", "tether-test")]
        # by owner: the application's own and the unclaimed ones
        assert http.get("/schedules", params={"prefix": schedule, "application_name": "billing"}).json() == {
            "schedules": []}
        mine = http.get("/schedules", params={"prefix": schedule, "application_name": ["billing", "tether-test"]})
        assert [s["schedule_name"] for s in mine.json()["schedules"]] == [schedule]
        assert http.post(f"/schedules/{schedule}/pause").json()["status"] == "PAUSED"
        assert http.get("/schedules", params={"prefix": schedule, "status": "ACTIVE"}).json() == {"schedules": []}
        assert http.post(f"/schedules/{schedule}/resume").json()["status"] == "ACTIVE"
        triggered = http.post(f"/schedules/{schedule}/trigger")
        assert triggered.status_code == 201
        wfid = triggered.json()["workflow_id"]
        assert http.get(f"/workflows/{wfid}/result", params={"timeout": 30}).json()["output"].startswith("eu@")
        assert http.delete(f"/schedules/{schedule}").json() == {"schedule_name": schedule, "deleted": True}
        for response in (http.get(f"/schedules/{schedule}"), http.post(f"/schedules/{schedule}/pause"),
                         http.post(f"/schedules/{schedule}/trigger"), http.delete(f"/schedules/{schedule}")):
            assert response.status_code == 404 and response.json()["error"] == "schedule_not_found"
