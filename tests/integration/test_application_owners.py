"""What belongs to an application (DBOS 3.4's ``application_name``), on both backends: when several
applications share one system database, each fires only its own schedules and the unclaimed ones, lists those
by default, and cannot redefine another application's schedule; a client acting for an application creates
schedules, queues and workflows that belong to it. The application here is ``tether-test`` (the tests' config
name); ``billing`` is another application sharing the database, whose process is not running.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.integration.test_schedules import eventually
from tether import DBOS, DBOSClient, ScheduleExistsError
from tether.errors import ArgumentTypeError, InvalidArgumentError

ME = "tether-test"
OTHER = "billing"
FIRED: list[tuple[str, str | None]] = []  # (schedule name, workflow ID) of every run of the workflow below


@DBOS.workflow(name="owners.tick")
def tick(scheduled_at: datetime, context: Any) -> None:
    FIRED.append((str(context), DBOS.workflow_id))


def _far_daily() -> str:
    t = datetime.now(timezone.utc) + timedelta(hours=12)
    return f"{t.minute} {t.hour} * * *"


def test_each_application_fires_its_own_schedules_and_the_unclaimed_ones(dbos: type[DBOS],
                                                                        client: DBOSClient) -> None:
    uid = uuid.uuid4().hex[:8]
    theirs, mine, shared = f"theirs-{uid}", f"mine-{uid}", f"shared-{uid}"
    # Another application's schedule first: any pass of this process's timer that arms the later two has it too.
    client.create_schedule(schedule_name=theirs, workflow_name="owners.tick", schedule="* * * * * *",
                           context=theirs, application_name=OTHER)
    DBOS.create_schedule(schedule_name=mine, workflow_fn=tick, schedule="* * * * * *", context=mine)
    client.create_schedule(schedule_name=shared, workflow_name="owners.tick", schedule="* * * * * *",
                           context=shared)
    try:
        def fired(name: str) -> int:
            return sum(1 for n, _ in FIRED if n == name)

        eventually(lambda: fired(mine) >= 2 and fired(shared) >= 2, "two ticks of this application's schedules")
        assert fired(theirs) == 0
        assert DBOS.list_workflows(schedule_name=theirs) == []  # not even enqueued for the other application
        # A tick's run belongs to the schedule's owner; an unclaimed schedule's, to the application that fired it.
        for name in (mine, shared):
            runs = DBOS.list_workflows(schedule_name=name)
            assert runs and {r.application_name for r in runs} == {ME}
        assert {s["schedule_name"]: s["application_name"] for s in client.list_schedules(schedule_name_prefix=[
            theirs, mine, shared])} == {theirs: OTHER, mine: ME, shared: None}
    finally:
        for name in (theirs, mine, shared):
            client.delete_schedule(name)


def test_listing_defaults_to_the_callers_application_and_the_unclaimed_ones(dbos: type[DBOS], client: DBOSClient,
                                                                            db_url: str) -> None:
    uid = uuid.uuid4().hex[:8]
    names = {f"{uid}-mine": ME, f"{uid}-theirs": OTHER, f"{uid}-shared": None}
    for name, owner in names.items():
        client.create_schedule(schedule_name=name, workflow_name="owners.tick", schedule=_far_daily(),
                               application_name=owner)

    def listed(found: list[Any]) -> set[str]:
        return {s["schedule_name"] for s in found}

    prefix = f"{uid}-"
    assert listed(DBOS.list_schedules(schedule_name_prefix=prefix)) == {f"{uid}-mine", f"{uid}-shared"}
    assert listed(DBOS.list_schedules(schedule_name_prefix=prefix, application_name=OTHER)) == {
        f"{uid}-theirs", f"{uid}-shared"}
    assert listed(DBOS.list_schedules(schedule_name_prefix=prefix, application_name=[ME, OTHER])) == set(names)
    assert listed(client.list_schedules(schedule_name_prefix=prefix)) == set(names)  # a client of no application
    billing = DBOSClient(db_url, application_name=OTHER)
    try:
        assert listed(billing.list_schedules(schedule_name_prefix=prefix)) == {f"{uid}-theirs", f"{uid}-shared"}
        # What a client of an application creates belongs to that application.
        billing.create_schedule(schedule_name=f"{uid}-billing", workflow_name="owners.tick", schedule=_far_daily())
        assert (billing.get_schedule(f"{uid}-billing") or {}).get("application_name") == OTHER
        # So do its queues, and it lists its own and the unclaimed ones.
        assert billing.register_queue(f"{uid}-billing-q").application_name == OTHER
        assert client.register_queue(f"{uid}-shared-q").application_name is None
        DBOS.register_queue(f"{uid}-mine-q")
        assert {q.name for q in billing.list_queues() if q.name.startswith(prefix)} == {
            f"{uid}-billing-q", f"{uid}-shared-q"}
        assert {q.name for q in client.list_queues() if q.name.startswith(prefix)} == {
            f"{uid}-billing-q", f"{uid}-shared-q", f"{uid}-mine-q"}
    finally:
        billing.destroy()


def test_redefining_another_applications_schedule_is_refused_and_writes_nothing(dbos: type[DBOS],
                                                                               client: DBOSClient) -> None:
    uid = uuid.uuid4().hex[:8]
    theirs, fresh = f"theirs-{uid}", f"fresh-{uid}"
    client.create_schedule(schedule_name=theirs, workflow_name="owners.tick", schedule=_far_daily(),
                           context="before", application_name=OTHER)
    with pytest.raises(ScheduleExistsError, match=f"belongs to application '{OTHER}'"):
        DBOS.apply_schedules([
            {"schedule_name": fresh, "workflow_fn": tick, "schedule": _far_daily()},
            {"schedule_name": theirs, "workflow_fn": tick, "schedule": "* * * * * *", "context": "after"},
        ])
    assert client.get_schedule(fresh) is None  # the whole batch was refused
    kept = client.get_schedule(theirs)
    assert kept is not None and kept["context"] == "before" and kept["application_name"] == OTHER
    # A writer of no application may redefine it, and the owner stays.
    client.apply_schedules([{"schedule_name": theirs, "workflow_name": "owners.tick", "schedule": _far_daily(),
                             "context": "again"}])
    again = client.get_schedule(theirs)
    assert again is not None and again["context"] == "again" and again["application_name"] == OTHER
    # An unclaimed schedule is claimed by the first application that redefines it.
    client.create_schedule(schedule_name=fresh, workflow_name="owners.tick", schedule=_far_daily())
    DBOS.apply_schedules([{"schedule_name": fresh, "workflow_fn": tick, "schedule": _far_daily()}])
    assert (client.get_schedule(fresh) or {}).get("application_name") == ME


def test_a_trigger_of_an_unclaimed_schedule_runs_for_the_caller(dbos: type[DBOS], client: DBOSClient) -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    client.create_schedule(schedule_name=name, workflow_name="owners.tick", schedule=_far_daily(), context=name)
    assert DBOS.trigger_schedule(name).get_status().application_name == ME
    from_client = client.trigger_schedule(name)
    assert from_client.get_status().application_name is None  # a client of no application: the run is nobody's


def test_an_application_name_that_is_not_text_is_refused_before_anything_is_written(dbos: type[DBOS],
                                                                                   client: DBOSClient,
                                                                                   db_url: str) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ArgumentTypeError, match="application_name"):
        client.create_schedule(schedule_name=name, workflow_name="owners.tick", schedule=_far_daily(),
                               application_name=7)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="application_name"):
        client.apply_schedules([{"schedule_name": name, "workflow_name": "owners.tick", "schedule": _far_daily(),
                                 "application_name": ""}])
    assert client.get_schedule(name) is None
    with pytest.raises(ArgumentTypeError, match="application_name"):
        DBOSClient(db_url, application_name=["billing"])  # type: ignore[arg-type]


def test_a_workflow_belongs_to_the_application_its_enqueuer_names(dbos: type[DBOS], client: DBOSClient,
                                                                  db_url: str) -> None:
    DBOS.register_queue("owners-q")
    ten_years = 10 * 365 * 86400.0  # enqueued, never run here: only the record is looked at
    named = client.enqueue({"queue_name": "owners-q", "workflow_name": "owners.tick", "application_name": OTHER,
                            "delay_seconds": ten_years}, None, None)
    assert named.get_status().application_name == OTHER
    billing = DBOSClient(db_url, application_name=OTHER)
    try:
        own = billing.enqueue({"queue_name": "owners-q", "workflow_name": "owners.tick",
                               "delay_seconds": ten_years}, None, None)
        assert own.get_status().application_name == OTHER  # a client of an application: that application's
    finally:
        billing.destroy()
    mine = DBOS.enqueue_workflow_with_options({"queue_name": "owners-q", "workflow_name": "owners.tick",
                                               "delay_seconds": ten_years}, None, None)
    assert mine.get_status().application_name == ME
    refused = f"refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ArgumentTypeError, match="application_name"):
        client.enqueue({"queue_name": "owners-q", "workflow_name": "owners.tick", "workflow_id": refused,
                        "application_name": 3}, None, None)  # type: ignore[typeddict-item]
    assert client.get_workflow_status(refused) is None  # nothing was written
