"""``DBOSClient.rename_application`` on both backends: an application's queues, schedules, versions and
workflows pass to the new name (and the unclaimed rows, when asked), so that a process launched under the new
name serves the queue and the work waiting on it; a bad request is refused before anything moves."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import make_config
from tether import DBOS, DBOSClient, DBOSException

OLD, NEW = "ledger-old", "ledger-new"


@DBOS.workflow(name="rename.add")
def add(a: int, b: int) -> int:
    return DBOS.run_step(None, lambda: a + b)


def _owners(client: DBOSClient) -> dict[str, object]:
    return {
        "queues": sorted((q.name, q.application_name) for q in client.list_queues()),
        "schedules": sorted((s["schedule_name"], s["application_name"]) for s in client.list_schedules()),
        "versions": sorted((v["version_name"], v["application_name"]) for v in client.list_application_versions()),
        "workflows": sorted((w.workflow_id, w.application_name) for w in client.list_workflows()),
    }


def test_an_application_renamed_keeps_its_queue_and_the_work_waiting_on_it(fresh_url: str) -> None:
    uid = uuid.uuid4().hex[:8]
    DBOS(config=make_config(fresh_url, name=OLD, application_version=f"v-{uid}"))
    DBOS.launch()
    try:
        queue = DBOS.register_queue(f"ledger-q-{uid}")
        assert add(1, 2) == 3  # ended, with one step
        waiting = DBOS.enqueue_workflow_with_options(
            {"queue_name": queue.name, "workflow_name": "rename.add", "delay_seconds": 3600}, 2, 3)
        DBOS.create_schedule(schedule_name=f"mine-{uid}", workflow_fn=add, schedule="0 3 1 1 *")
    finally:
        DBOS.destroy()
    client = DBOSClient(fresh_url)
    try:
        client.create_schedule(schedule_name=f"nobodys-{uid}", workflow_name="rename.add", schedule="0 3 1 1 *")
        before = _owners(client)
        for old, new, kwargs, error in (
                ("", NEW, {}, DBOSException), (None, NEW, {}, DBOSException), (OLD, "Not Valid", {}, DBOSException),
                (OLD, "ab", {}, DBOSException), (OLD, OLD, {}, DBOSException),
                (OLD, NEW, {"batch_size": 0}, ValueError)):
            with pytest.raises(error):
                client.rename_application(old, new, **kwargs)  # type: ignore[arg-type]
        assert _owners(client) == before  # nothing moved

        counts = client.rename_application(OLD, NEW, batch_size=1)  # ended workflows one per transaction
        assert counts == {"queues": 1, "schedules": 1, "versions": 1, "workflows": 2, "steps": 1}
        after = _owners(client)
        assert [owner for _, owner in after["queues"]] == [NEW]  # type: ignore[attr-defined]
        assert dict(after["schedules"]) == {f"mine-{uid}": NEW, f"nobodys-{uid}": None}  # type: ignore[call-overload]
        assert {owner for _, owner in after["workflows"]} == {NEW}  # type: ignore[attr-defined]
        assert client.rename_application(OLD, NEW)["workflows"] == 0  # twice is harmless

        adopted = client.rename_application(None, NEW, adopt_unclaimed_rows=True, batch_size=None)
        assert adopted["schedules"] == 1
        assert dict(_owners(client)["schedules"]) == {f"mine-{uid}": NEW,  # type: ignore[call-overload]
                                                      f"nobodys-{uid}": NEW}
    finally:
        client.destroy()

    # launched under the new name, the application serves its queue: the delayed workflow runs when due
    DBOS(config=make_config(fresh_url, name=NEW, application_version=f"v-{uid}"))
    DBOS.launch()
    try:
        assert [q.name for q in DBOS.list_queues()] == [queue.name]
        DBOS.set_workflow_delay(waiting.workflow_id, delay_seconds=0)
        assert DBOS.retrieve_workflow(waiting.workflow_id).get_result() == 5
    finally:
        DBOS.destroy()
