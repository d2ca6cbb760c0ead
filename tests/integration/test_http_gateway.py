"""The gateway in-process (fastapi TestClient): every route, pickled values, auth and bad input, both backends."""

from __future__ import annotations

import sqlite3
import sys
import types
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tether import DBOS, DBOSClient, SetWorkflowID
from tether.http import create_gateway

CMD = "cmd"


@DBOS.workflow(name="test_http.driven")
async def driven() -> str:
    """Does what its messages on topic ``cmd`` say, so a test controls every write."""
    while True:
        cmd: Any = await DBOS.recv_async(CMD, timeout_seconds=60)
        if cmd is None:
            return "timed out"
        op = cmd["op"]
        if op == "write":
            await DBOS.write_stream_async("s", cmd["value"])
        elif op == "event":
            await DBOS.set_event_async(cmd["key"], cmd["value"])
        elif op == "python":  # values with no JSON form, stored as pickles
            await DBOS.set_event_async("py", {1, 2})
            await DBOS.write_stream_async("s", {3})
        elif op == "close":
            await DBOS.close_stream_async("s")
            return "done"


@DBOS.workflow(name="test_http.identity")
def identity(value: Any) -> Any:
    return value


def start_driven() -> str:
    workflow_id = f"driven-{uuid.uuid4().hex[:10]}"
    with SetWorkflowID(workflow_id):
        DBOS.start_workflow(driven)
    return workflow_id


def command(client: TestClient, workflow_id: str, **cmd: Any) -> None:
    r = client.post(f"/workflows/{workflow_id}/messages", json={"message": cmd, "topic": CMD})
    assert r.status_code == 202, r.text


@pytest.fixture
def client(dbos: type[DBOS]) -> Iterator[TestClient]:
    with TestClient(create_gateway(DBOS, insecure=True), base_url="http://localhost") as c:
        yield c


def stored_messages(db_url: str, workflow_id: str) -> list[bytes]:
    query = "SELECT message FROM {}messages WHERE destination_uuid = {} ORDER BY message_id"
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url[len("sqlite:///"):]) as conn:
            return [bytes(r[0]) for r in conn.execute(query.format("", "?"), (workflow_id,))]
    with psycopg.connect(db_url) as conn:
        return [bytes(r[0]) for r in conn.execute(query.format("tether.", "%s"), (workflow_id,))]


def test_messages_cross_http_as_json_and_idempotency_keys_deliver_once(client: TestClient, db_url: str) -> None:
    w = start_driven()
    for _ in range(2):
        body = {"message": {"op": "write", "value": "once"}, "topic": CMD, "idempotency_key": "k1"}
        assert client.post(f"/workflows/{w}/messages", json=body).json()["sent"] is True
    for _ in range(2):
        r = client.post(f"/workflows/{w}/messages", json={"message": {"op": "write", "value": "header"},
                                                          "topic": CMD}, headers={"Idempotency-Key": "k2"})
        assert r.status_code == 202 and r.json()["idempotency_key"] == "k2"
    client.post(f"/workflows/{w}/messages", json={"message": ["parked", 1.5, None], "topic": "elsewhere"})
    command(client, w, op="close")
    assert client.get(f"/workflows/{w}/result").json()["output"] == "done"
    assert client.get(f"/workflows/{w}/streams/s").json()["values"] == ["once", "header"]
    assert stored_messages(db_url, w) == [b'J["parked",1.5,null]']  # portable JSON, never a pickle


def test_event_long_poll_found_and_not_found(client: TestClient) -> None:
    w = start_driven()
    DBOS.send(w, {"op": "event", "key": "progress", "value": {"pct": 50}}, CMD)
    got = client.get(f"/workflows/{w}/events/progress", params={"timeout": 30})
    assert got.json() == {"workflow_id": w, "key": "progress", "found": True, "value": {"pct": 50}}
    command(client, w, op="event", key="nothing", value=None)
    none = client.get(f"/workflows/{w}/events/nothing", params={"timeout": 30}).json()
    missing = client.get(f"/workflows/{w}/events/absent", params={"timeout": 0.1}).json()
    assert (none["found"], none["value"]) == (True, None)
    assert (missing["found"], missing["value"]) == (False, None)
    assert client.get(f"/workflows/{w}/events").json() == {"workflow_id": w,
                                                           "events": {"progress": {"pct": 50}, "nothing": None}}
    command(client, w, op="close")


def test_pickled_values_without_json_form_give_clear_errors(client: TestClient) -> None:
    w = start_driven()
    command(client, w, op="python")
    command(client, w, op="close")
    client.get(f"/workflows/{w}/result")
    one = client.get(f"/workflows/{w}/events/py")
    assert one.status_code == 406 and one.json()["error"] == "not_json" and "set" in one.json()["detail"]
    marker = client.get(f"/workflows/{w}/events").json()["events"]["py"]
    assert marker["$tether_error"] == "not_json" and marker["type"] == "set"
    snap = client.get(f"/workflows/{w}/streams/s").json()
    assert snap["values"][0]["$tether_error"] == "not_json" and snap["closed"] is True
    with client.stream("GET", f"/workflows/{w}/streams/s", headers={"Accept": "text/event-stream"}) as r:
        text = r.read().decode()
    assert "id: 0\nevent: unrepresentable\n" in text and "event: end\ndata: {\"next_offset\":1}" in text


def test_status_and_result(client: TestClient) -> None:
    w = start_driven()
    status = client.get(f"/workflows/{w}").json()
    assert status["workflow_id"] == w and status["name"] == "test_http.driven"
    assert status["status"] in ("PENDING", "SUCCESS") and status["input"] == {"args": [], "kwargs": {}}
    pending = client.get(f"/workflows/{w}/result", params={"timeout": 0.05})
    assert pending.status_code == 408 and pending.json()["error"] == "timeout"
    command(client, w, op="close")
    done = client.get(f"/workflows/{w}/result", params={"timeout": 30}).json()
    assert (done["status"], done["output"], done["error"]) == ("SUCCESS", "done", None)
    for path in ("", "/result", "/events", "/events/k", "/streams/s"):
        r = client.get(f"/workflows/no-such-workflow{path}")
        assert r.status_code == 404 and r.json()["error"] == "workflow_not_found", path


def test_malformed_input_is_a_4xx_with_a_json_body(client: TestClient) -> None:
    w = start_driven()
    cases = [
        client.post(f"/workflows/{w}/messages", json={"topic": CMD}),  # no message
        client.post(f"/workflows/{w}/messages", json={"message": 1, "topic": 7}),
        client.post(f"/workflows/{w}/messages", content=b"[", headers={"Content-Type": "application/json"}),
        client.post(f"/workflows/{w}/messages", content=b'{"message": Infinity}',
                    headers={"Content-Type": "application/json"}),
        client.get(f"/workflows/{w}/events/k", params={"timeout": -1}),
        client.get(f"/workflows/{w}/events/k", params={"timeout": "soon"}),
        client.get(f"/workflows/{w}/events/k", params={"timeout": 10_000}),
        client.get(f"/workflows/{w}/streams/s", params={"offset": -3}),
        client.get(f"/workflows/{w}/streams/s", headers={"Last-Event-ID": "seven"}),
        client.post("/workflows/no-such-workflow/messages", json={"message": 1}),
        client.get("/no/such/route"),
        client.delete(f"/workflows/{w}"),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        body = r.json()
        assert isinstance(body["error"], str) and isinstance(body["detail"], str), body
    assert [r.status_code for r in cases] == [422, 422, 422, 422, 422, 422, 422, 422, 400, 404, 404, 405]
    command(client, w, op="close")


def test_bearer_token(dbos: type[DBOS]) -> None:
    with TestClient(create_gateway(DBOS, token="s3cret")) as client:
        w = start_driven()
        anonymous = client.get(f"/workflows/{w}")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["error"] == "unauthorized"
        assert client.get(f"/workflows/{w}", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(f"/workflows/{w}", headers={"Authorization": "Basic s3cret"}).status_code == 401
        assert client.get(f"/workflows/{w}", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get(f"/workflows/{w}/streams/s", params={"access_token": "s3cret"}).status_code == 200
        assert client.get(f"/workflows/{w}", params={"access_token": "s3cret"}).status_code == 401
        sent = client.post(f"/workflows/{w}/messages", json={"message": {"op": "close"}, "topic": CMD})
        assert sent.status_code == 401
        assert client.get("/health").status_code == 200
        schema = client.get("/openapi.json").json()
        assert "HTTPBearer" in schema["components"]["securitySchemes"]
        DBOS.send(w, {"op": "close"}, CMD)


def test_gateway_without_token_needs_none_and_documents_its_routes(client: TestClient) -> None:
    w = start_driven()
    assert client.get(f"/workflows/{w}").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/workflows/{workflow_id}", "/workflows/{workflow_id}/messages", "/workflows/{workflow_id}/events",
            "/workflows/{workflow_id}/events/{key}", "/workflows/{workflow_id}/streams/{key}",
            "/workflows/{workflow_id}/result"} <= set(paths)
    command(client, w, op="close")


def test_gateway_on_a_client_in_another_role(dbos: type[DBOS], db_url: str) -> None:
    """``tether serve``: the gateway holds only a DBOSClient; the workflow runs in the application."""
    with DBOSClient(db_url) as tclient, TestClient(create_gateway(tclient, insecure=True),
                                                   base_url="http://localhost") as client:
        w = start_driven()
        command(client, w, op="write", value={"n": 1})
        command(client, w, op="event", key="k", value=[1, 2])
        assert client.get(f"/workflows/{w}/events/k", params={"timeout": 30}).json()["value"] == [1, 2]
        command(client, w, op="close")
        assert client.get(f"/workflows/{w}/result").json()["output"] == "done"
        snap = client.get(f"/workflows/{w}/streams/s").json()
        assert snap["values"] == [{"n": 1}] and snap["closed"] is True


def test_values_this_process_cannot_decode_are_marked_not_fatal(client: TestClient) -> None:
    """Like ``tether serve`` next to an application whose pickled classes it cannot import."""
    module = types.ModuleType("tether_test_vanishing")
    exec("class Gone:\n    pass\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        w = f"undecodable-{uuid.uuid4().hex[:8]}"
        with SetWorkflowID(w):
            DBOS.start_workflow(identity, module.Gone()).get_result()
    finally:
        del sys.modules[module.__name__]
    status = client.get(f"/workflows/{w}")
    assert status.status_code == 200 and status.json()["status"] == "SUCCESS"
    for field in ("input", "output", "error"):
        marker = status.json()[field]
        assert marker["$tether_error"] == "undecodable" and "tether_test_vanishing" in marker["detail"]
    assert client.get(f"/workflows/{w}/result").json()["output"]["$tether_error"] == "undecodable"
    listed = client.get("/workflows", params={"workflow_id_prefix": w}).json()["workflows"]
    assert [s["workflow_id"] for s in listed] == [w] and listed[0]["output"]["$tether_error"] == "undecodable"
