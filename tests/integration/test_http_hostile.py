"""Hostile and mistaken input to the gateway that once got through: a fork into an existing workflow's ID,
numbers the PostgreSQL columns could not hold, values nested too deep, attribute filters PostgreSQL's JSON
refuses, and ``?access_token=`` on routes that are not a live follow. Both backends: each is a 4xx with a JSON
body (never 500 or 503), and nothing stored changes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tether import DBOS, DBOSClient, SetWorkflowID
from tether.http import create_gateway

from .test_http_gateway import command, identity, start_driven
from .test_http_security import finish, stored_messages


@pytest.fixture
def open_client(dbos: type[DBOS]) -> Iterator[TestClient]:
    with TestClient(create_gateway(DBOS, insecure=True), base_url="http://localhost") as c:
        yield c


def steps_of(client: TestClient, workflow_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/workflows/{workflow_id}/steps").json()["steps"]
    return found


def wait_for_steps(client: TestClient, workflow_id: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(steps_of(client, workflow_id)) < count:
        assert time.monotonic() < deadline, steps_of(client, workflow_id)
        time.sleep(0.05)


def test_a_fork_into_an_existing_workflows_id_is_a_409_and_changes_nothing(open_client: TestClient) -> None:
    source = start_driven()
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(victim):
        assert DBOS.start_workflow(identity, "mine").get_result() == "mine"
    command(open_client, source, op="event", key="k", value="from the source")
    command(open_client, source, op="write", value=1)
    wait_for_steps(open_client, source, 6)
    before = (steps_of(open_client, victim), open_client.get(f"/workflows/{victim}").json())
    for start_step in (1, 4):
        r = open_client.post(f"/workflows/{source}/fork", json={"start_step": start_step, "workflow_id": victim})
        assert r.status_code == 409 and r.json()["error"] == "conflicting_workflow", r.text
        assert victim in r.json()["detail"]
    assert (steps_of(open_client, victim), open_client.get(f"/workflows/{victim}").json()) == before
    assert open_client.get(f"/workflows/{victim}/events").json()["events"] == {}
    assert DBOS.get_workflow_status(source).was_forked_from is False  # type: ignore[union-attr]
    again = f"fork-{uuid.uuid4().hex[:8]}"  # a repeated fork into its own new ID is still that fork
    first = open_client.post(f"/workflows/{source}/fork", json={"start_step": 4, "workflow_id": again})
    second = open_client.post(f"/workflows/{source}/fork", json={"start_step": 4, "workflow_id": again})
    assert first.status_code == second.status_code == 201, second.text
    assert second.json()["forked_from"] == source
    DBOS.cancel_workflow(again)
    finish(source)


def test_numbers_up_to_2_63_minus_1_are_answered_on_both_backends(open_client: TestClient) -> None:
    """Offsets, versions and step numbers are documented up to 2**63 - 1 on both backends; PostgreSQL's
    columns are 32-bit, so beyond 2**31 - 1 nothing is there to read (it answered 503)."""
    w = start_driven()
    command(open_client, w, op="write", value=1)
    wait_for_steps(open_client, w, 3)
    for big in (2**31, 2**63 - 2):
        snap = open_client.get(f"/workflows/{w}/streams/s", params={"offset": big})
        assert snap.status_code == 200, snap.text
        assert (snap.json()["values"], snap.json()["next_offset"]) == ([], big)
        resumed = open_client.get(f"/workflows/{w}/streams/s", headers={"Last-Event-ID": str(big)})
        assert resumed.status_code == 200 and resumed.json()["values"] == [], resumed.text
        versions = open_client.get(f"/workflows/{w}/events/k/versions", params={"from_version": big})
        assert versions.status_code == 200 and versions.json()["versions"] == [], versions.text
        after = open_client.get(f"/workflows/{w}/events/k/versions", headers={"Last-Event-ID": str(big)})
        assert after.status_code == 200 and after.json()["versions"] == [], after.text
    whole = f"fork-{uuid.uuid4().hex[:8]}"  # a start step past the last reuses every checkpoint
    r = open_client.post(f"/workflows/{w}/fork", json={"start_step": 2**63 - 1, "workflow_id": whole})
    assert r.status_code == 201, r.text
    assert [s["function_id"] for s in steps_of(open_client, whole)][:3] == [
        s["function_id"] for s in steps_of(open_client, w)][:3]
    DBOS.cancel_workflow(whole)
    command(open_client, w, op="close")
    assert DBOS.retrieve_workflow(w).get_result() == "done"


def test_values_nested_too_deep_are_a_4xx_and_write_nothing(open_client: TestClient, db_url: str) -> None:
    from .test_http_gateway import stored_messages

    w = start_driven()
    for depth in (300, 900):  # 900 still parses, but was too deep to store (500 RecursionError)
        nested = "[" * depth + "]" * depth
        r = open_client.post(f"/workflows/{w}/messages", content='{"message": ' + nested + ', "topic": "t"}',
                             headers={"Content-Type": "application/json"})
        assert r.status_code == 202 if depth == 300 else 400 <= r.status_code < 500, (depth, r.text)
    assert len(stored_messages(db_url, w)) == 1
    deep = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"  # too deep to parse here: was a 500 RecursionError
    r = open_client.get("/workflows", params={"attributes": deep})
    assert r.status_code == 400 and r.json()["error"] == "invalid_argument", r.text
    finish(w)


def test_attribute_filters_json_cannot_hold_are_a_400_on_both_backends(open_client: TestClient) -> None:
    """NaN is not JSON, and PostgreSQL's JSON holds no NUL and no lone surrogate (it answered 503; SQLite
    listed nothing): the same 400 on both backends, as for any other bad argument."""
    for bad in ('{"a": NaN}', '{"a": [Infinity]}', '{"a": "\\ud800"}', '{"\\udc00": 1}', '{"a": "x\\u0000"}',
                '{"\\u0000": 1}'):
        r = open_client.get("/workflows", params={"attributes": bad})
        assert r.status_code == 400 and r.json()["error"] == "invalid_argument", (bad, r.text)
    fine = open_client.get("/workflows", params={"attributes": '{"a": "\\ud83d\\ude00", "b": 1e300}'})
    assert fine.status_code == 200 and fine.json()["workflows"] == []


def test_access_token_in_the_query_is_taken_only_on_the_live_routes(dbos: type[DBOS]) -> None:
    """``?access_token=`` stands for the header on a stream and on an event's versions only, whatever the
    workflow ID or key is called (a workflow named ``streams`` or an event key ``versions`` used to open
    every read route of that workflow to it)."""
    w = f"streams-{uuid.uuid4().hex[:6]}"
    with SetWorkflowID("streams"):  # a workflow whose ID is the word
        DBOS.start_workflow(identity, 1).get_result()
    with SetWorkflowID(w):
        DBOS.start_workflow(identity, 2).get_result()
    with TestClient(create_gateway(DBOS, tokens=["ro:read=R"]), base_url="http://localhost") as client:
        token = {"access_token": "R"}
        for path in ("/workflows/streams/streams/s", "/workflows/streams/events/k/versions",
                     f"/workflows/{w}/streams/streams", f"/workflows/{w}/events/versions/versions"):
            assert client.get(path, params=token).status_code == 200, path
        for path in ("/workflows/streams/steps", "/workflows/streams", "/workflows/streams/result",
                     "/queues/streams/workflows", f"/workflows/{w}/events/versions",
                     "/workflows/streams/events/k/latest"):
            r = client.get(path, params={**token, "timeout": 0})
            assert r.status_code == 401 and r.json()["error"] == "unauthorized", (path, r.text)
            bearer = client.get(path, params={"timeout": 0}, headers={"Authorization": "Bearer R"})
            assert bearer.status_code == 200, path


def test_a_body_that_cannot_be_parsed_is_a_documented_400(open_client: TestClient, db_url: str) -> None:
    from .test_http_gateway import stored_messages

    w = start_driven()
    bodies = [b'{"message": "\xff\xfe", "topic": "t"}',  # not UTF-8
              b'{"message": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # too deep to parse
              b'{"message": ' + b"9" * 5000 + b"}"]  # an integer longer than Python parses
    for body in bodies:
        r = open_client.post(f"/workflows/{w}/messages", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "bad_request", r.text
    assert stored_messages(db_url, w) == []
    finish(w)


def asgi_get(app: Any, path: str, query: bytes) -> tuple[int, dict[str, Any]]:
    """GET ``path?query`` straight through the ASGI app: a query string longer than httpx builds (a server
    with the httptools parser takes any length)."""
    import asyncio
    import json

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query,
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_a_listing_filter_with_too_many_values_is_a_422(dbos: type[DBOS]) -> None:
    """70,000 ``name=`` values were 70,000 SQL parameters: PostgreSQL takes at most 65,535 (503). Each list
    filter of GET /workflows and GET /schedules takes at most 1,000 values."""
    app = create_gateway(DBOS, insecure=True)
    for path, param in (("/workflows", "name"), ("/workflows", "queue_name"), ("/workflows", "status"),
                        ("/schedules", "workflow_name"), ("/schedules", "application_name"), ("/schedules", "status")):
        status, body = asgi_get(app, path, "&".join(f"{param}=n{i}" for i in range(70_000)).encode())
        assert status == 422 and body["error"] == "invalid_request", (path, param, status, body)
    status, body = asgi_get(app, "/workflows", "&".join(f"name=n{i}" for i in range(1000)).encode())
    assert status == 200 and body["workflows"] == [], body


def test_a_prefix_lists_every_id_under_it_whatever_follows(dbos: type[DBOS]) -> None:
    """A prefix listing was the range [prefix, prefix + U+10FFFF): an ID continuing with U+10FFFF itself (a
    valid character) was left out, of a listing and of a prefix-limited token's view. It is [prefix, the next
    string after every one starting with prefix)."""
    prefix = f"pfx-{uuid.uuid4().hex[:6]}-"
    inside = [prefix, prefix + "a", prefix + "\U0010ffff", prefix + "\U0010ffff\U0010ffffz", prefix + "\ud7ff"]
    outside = [prefix[:-1], prefix[:-1] + ".", prefix[:-1] + "\U0010ffff"]
    for wfid in inside + outside:
        with SetWorkflowID(wfid):
            DBOS.start_workflow(identity, 1).get_result()
    listed = {s.workflow_id for s in DBOS.list_workflows(workflow_id_prefix=prefix)}
    assert listed == set(inside)
    with TestClient(create_gateway(DBOS, tokens=[f"t:read:{prefix}=T"]), base_url="http://localhost") as client:
        got = client.get("/workflows", headers={"Authorization": "Bearer T"}).json()["workflows"]
        assert {s["workflow_id"] for s in got} == set(inside)
    last = "\U0010ffff" * 2  # a prefix of nothing but the last character: no upper bound at all
    with SetWorkflowID(last + prefix):
        DBOS.start_workflow(identity, 1).get_result()
    assert last + prefix in {s.workflow_id for s in DBOS.list_workflows(workflow_id_prefix=last)}


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


@DBOS.workflow(name="test_http_hostile.nightly")
def nightly(scheduled_at: Any, ctx: Any) -> None:
    pass


def test_values_nested_300_deep_are_answered_as_they_are_stored(open_client: TestClient) -> None:
    """FastAPI's own serialization of a route's dict stops at about 255 levels ('Circular reference detected
    (depth exceeded)', answered 400 bad_request), though the gateway takes such values and JSON holds them: one
    workflow input that deep failed GET /workflows for every reader. The routes answer their JSON themselves."""
    deep = nested(300)
    w = start_driven()
    command(open_client, w, op="event", key="k", value=deep)
    r = open_client.post(f"/workflows/{w}/messages", json={"message": deep, "topic": "parked"})
    assert r.status_code == 202, r.text
    wait_for_steps(open_client, w, 3)
    held = f"deep-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(held):
        DBOS.start_workflow(identity, deep).get_result()
    schedule = f"deep-{uuid.uuid4().hex[:8]}"
    DBOS.create_schedule(schedule_name=schedule, workflow_fn=nightly, schedule="0 0 1 1 *", context=deep)
    try:
        answers = {
            "list": open_client.get("/workflows", params={"workflow_id_prefix": held}),
            "queued": open_client.get("/queues/none-here/workflows"),
            "events": open_client.get(f"/workflows/{w}/events"),
            "event": open_client.get(f"/workflows/{w}/events/k", params={"timeout": 0}),
            "latest": open_client.get(f"/workflows/{w}/events/k/latest", params={"timeout": 0}),
            "steps": open_client.get(f"/workflows/{w}/steps"),
            "mailbox": open_client.get(f"/workflows/{w}/messages", params={"topic": "parked", "load_values": True}),
            "schedules": open_client.get("/schedules", params={"prefix": schedule}),
            "schedule": open_client.get(f"/schedules/{schedule}"),
            "pause": open_client.post(f"/schedules/{schedule}/pause"),
            "resume": open_client.post(f"/schedules/{schedule}/resume"),
        }
        for name, r in answers.items():
            assert r.status_code == 200, (name, r.text[:300])
        assert answers["list"].json()["workflows"][0]["input"]["args"] == [deep]
        assert answers["list"].json()["workflows"][0]["output"] == deep
        assert answers["events"].json()["events"]["k"] == deep
        assert answers["event"].json()["value"] == deep and answers["latest"].json()["value"] == deep
        assert answers["steps"].json()["steps"][0]["output"]["value"] == deep
        assert answers["mailbox"].json()["messages"][0]["value"] == deep
        assert answers["schedules"].json()["schedules"][0]["context"] == deep
        assert answers["schedule"].json()["context"] == deep and answers["resume"].json()["context"] == deep
    finally:
        DBOS.delete_schedule(schedule)
    finish(w)


def test_a_schedule_route_asked_for_an_unknown_status_or_a_name_no_schedule_can_have_is_a_400(
        open_client: TestClient) -> None:
    """As GET /workflows does: an unknown status is an error, not an empty list; a name with a NUL (which
    no schedule can have) is an error, not 'not found'."""
    r = open_client.get("/schedules", params={"status": ["ACTIVE", "BOGUS"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_argument", r.text
    assert "BOGUS" in r.json()["detail"]
    assert open_client.get("/schedules", params={"status": ["ACTIVE", "PAUSED"]}).status_code == 200
    for method, path in (("GET", "/schedules/a%00b"), ("POST", "/schedules/a%00b/pause"),
                         ("POST", "/schedules/a%00b/resume"), ("POST", "/schedules/a%00b/trigger"),
                         ("DELETE", "/schedules/a%00b")):
        r = open_client.request(method, path)
        assert r.status_code == 400 and r.json()["error"] == "invalid_argument", (method, path, r.text)


@pytest.mark.parametrize(("route", "body"), [
    ("fork", {"start_step": "1"}),
    ("fork", {"start_step": True}),
    ("fork", {"start_step": 1.0}),
    ("fork", {"start_step": 1, "workflow_idd": "typo"}),
    ("enqueue", {"workflow_name": "identity", "args": ["x"], "delay_second": 60}),
    ("enqueue", {"workflow_name": "identity", "priority": "3"}),
    ("enqueue", {"workflow_name": 7}),
    ("message", {"message": "m", "topic": 5}),
    ("message", {"message": "m", "idempotency-key": "k"}),
    ("resume", {"queue_name": ["q"]}),
], ids=["step-str", "step-bool", "step-float", "fork-typo", "enqueue-typo", "priority-str", "name-int",
        "topic-int", "message-typo", "queue-list"])
def test_a_body_field_of_the_wrong_json_type_or_unknown_is_a_422_and_writes_nothing(
        dbos: type[DBOS], db_url: str, route: str, body: dict[str, Any]) -> None:
    """``"1"`` or ``true`` is no step number, and a misspelt field is not silently dropped (an enqueue
    meant to be delayed would start at once). On the gateway over a DBOSClient, which also enqueues."""
    with SetWorkflowID(f"target-{uuid.uuid4().hex[:8]}"):
        target = DBOS.start_workflow(identity, "t")
    target.get_result()
    before = len(DBOS.list_workflows())
    path = {"fork": f"/workflows/{target.workflow_id}/fork", "enqueue": "/queues/q-strict/workflows",
            "message": f"/workflows/{target.workflow_id}/messages",
            "resume": f"/workflows/{target.workflow_id}/resume"}[route]
    with DBOSClient(db_url) as tclient, TestClient(create_gateway(tclient, insecure=True),
                                                   base_url="http://localhost") as remote:
        r = remote.post(path, json=body)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request", r.text
    assert len(DBOS.list_workflows()) == before
    assert DBOS.list_workflow_steps(target.workflow_id) == []


def test_an_idempotency_key_header_that_is_not_ascii_or_disagrees_with_the_body_is_a_400(
        open_client: TestClient, db_url: str) -> None:
    """A header is read as Latin-1, so a UTF-8 key there ("\u00e9" arriving as "\u00c3\u00a9") would be another
    key than the same key in the body, and a second send with it would deliver twice."""
    w = start_driven()
    url = f"/workflows/{w}/messages"
    refused = {
        "UTF-8 header": open_client.post(url, json={"message": 1, "topic": "notes"},
                                         headers={"Idempotency-Key": "cl\u00e9".encode()}),
        "control character": open_client.post(url, json={"message": 1, "topic": "notes"},
                                              headers={"Idempotency-Key": b"k\x01"}),
        "two keys": open_client.post(url, json={"message": 1, "topic": "notes", "idempotency_key": "a"},
                                     headers={"Idempotency-Key": "b"}),
    }
    for name, r in refused.items():
        assert r.status_code == 400 and r.json()["error"] == "invalid_argument", (name, r.text)
        assert "Idempotency-Key" in r.json()["detail"], name
    assert stored_messages(db_url, w) == []
    for attempt in range(2):  # the same key in the body, the header or both delivers once
        for body_key, header in (("k", {}), (None, {"Idempotency-Key": "k"}), ("k", {"Idempotency-Key": "k"})):
            body: dict[str, Any] = {"message": attempt, "topic": "notes"}
            if body_key is not None:
                body["idempotency_key"] = body_key
            r = open_client.post(url, json=body, headers=header)
            assert r.status_code == 202 and r.json()["idempotency_key"] == "k", r.text
    assert len(stored_messages(db_url, w)) == 1
    finish(w)
