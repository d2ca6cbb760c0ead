"""The gateway's defences, both backends: a token unless told otherwise, Host and Origin checks, a body limit
before parsing and auth, no secret in the access log, scoped tokens, and 4xx (never 500/503) for hostile or
mistaken input."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tether import DBOS, ConfigError, DBOSClient, SetWorkflowID
from tether.engine.validation import MAX_TEXT_BYTES
from tether.http import create_gateway
from tether.http.server import ServerThread
from tether.http.tokens import parse_token, parse_tokens

from .test_http_gateway import CMD, command, start_driven, stored_messages


def status_of(workflow_id: str) -> str:
    found = DBOS.get_workflow_status(workflow_id)
    assert found is not None
    return found.status


def finish(workflow_id: str) -> None:
    DBOS.send(workflow_id, {"op": "close"}, CMD)
    DBOS.retrieve_workflow(workflow_id).get_result()


@pytest.fixture
def open_client(dbos: type[DBOS]) -> Iterator[TestClient]:
    """A gateway without tokens (``insecure=True``), reached as http://localhost."""
    with TestClient(create_gateway(DBOS, insecure=True), base_url="http://localhost") as c:
        yield c


def test_a_gateway_needs_a_token_unless_told_otherwise(dbos: type[DBOS]) -> None:
    with pytest.raises(ConfigError, match="insecure=True"):
        create_gateway(DBOS)
    with pytest.raises(ConfigError, match="unknown scope"):
        create_gateway(DBOS, tokens=["ci:write=abc"])  # a typo never becomes a full-access token
    with pytest.raises(ConfigError, match="same secret"):
        create_gateway(DBOS, tokens=["a:read=x", "b:admin=x"])
    with TestClient(create_gateway(DBOS, insecure=True), base_url="http://127.0.0.1") as client:
        assert client.get("/workflows").status_code == 200


def test_token_specs_parse_as_documented() -> None:
    assert parse_token("s3cret").scopes == {"admin"} and parse_token("s3cret").name == "default"
    billing = parse_token("billing:read+send:invoice-=a=b")
    assert (billing.name, billing.scopes, billing.prefix, billing.secret) == (
        "billing", {"read", "send"}, "invoice-", "a=b")
    assert billing.allows("read") and billing.allows("send") and not billing.allows("admin")
    assert billing.covers("invoice-7") and not billing.covers("receipt-7")
    assert "a=b" not in repr(billing) and "a=b" not in billing.describe()
    assert [t.name for t in parse_tokens("ro:read=1\n ops:admin=2 ")] == ["ro", "ops"]
    for bad in ("bad name:read=x", "x:read=", "x:=y", ""):
        with pytest.raises(ConfigError):
            parse_token(bad)


def test_host_allow_list_stops_dns_rebinding(open_client: TestClient, dbos: type[DBOS]) -> None:
    w = start_driven()
    for host in ("localhost", "localhost:8000", "127.0.0.1:9", "[::1]:8000"):
        assert open_client.get(f"/workflows/{w}", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", ""):
        r = open_client.post(f"/workflows/{w}/cancel", headers={"Host": host})
        assert r.status_code == 400 and r.json()["error"] == "host_not_allowed", host
    assert status_of(w) == "PENDING"
    named = create_gateway(DBOS, insecure=True, allowed_hosts=["api.example"])
    with TestClient(named, base_url="http://api.example") as client:
        assert client.get(f"/workflows/{w}").status_code == 200
        assert client.get(f"/workflows/{w}", headers={"Host": "localhost"}).status_code == 400
    with TestClient(create_gateway(DBOS, token="t"), base_url="http://any.example") as client:  # tokens: any
        assert client.get(f"/workflows/{w}", headers={"Authorization": "Bearer t"}).status_code == 200
    finish(w)


def test_cross_site_requests_cannot_change_anything(open_client: TestClient, dbos: type[DBOS]) -> None:
    w = start_driven()
    evil = {"Origin": "http://evil.example"}
    form = open_client.post(f"/workflows/{w}/cancel", content=b"x=1",
                            headers={**evil, "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 403 and form.json()["error"] == "origin_not_allowed"
    for origin in ("null", "http://localhost:1", "https://localhost"):
        r = open_client.post(f"/workflows/{w}/messages", json={"message": {"op": "close"}, "topic": CMD},
                             headers={"Origin": origin})
        assert r.status_code == 403, origin
    assert status_of(w) == "PENDING"
    assert open_client.get(f"/workflows/{w}", headers=evil).status_code == 200  # reading changes nothing
    command(open_client, w, op="write", value=1)  # no Origin: a script, not a browser
    same = open_client.post(f"/workflows/{w}/messages", json={"message": {"op": "write", "value": 2},
                                                             "topic": CMD}, headers={"Origin": "http://localhost"})
    assert same.status_code == 202
    allowed = create_gateway(DBOS, insecure=True, allowed_origins=["https://app.example"])
    with TestClient(allowed, base_url="http://localhost") as client:
        r = client.post(f"/workflows/{w}/cancel", headers={"Origin": "https://app.example"})
        assert r.status_code == 200 and r.json()["status"] == "CANCELLED"


def raw_request(port: int, head: str, body: bytes = b"") -> str:
    """Send ``head`` (and ``body``) on a fresh connection; the response's first line and JSON."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def test_body_limit_comes_before_parsing_and_auth(dbos: type[DBOS]) -> None:
    w = start_driven()
    app = create_gateway(DBOS, token="tok", max_body_bytes=1000)
    with ServerThread(app) as server:
        # 200 MB announced and never sent: refused at once, before the token, without waiting for the body.
        answer = raw_request(server.port, f"POST /workflows/{w}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                          f"Content-Type: application/json\r\nContent-Length: {200 * 1024 * 1024}")
        assert answer.startswith("HTTP/1.1 413") and '"body_too_large"' in answer, answer
        chunk = b"x" * 600
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
        answer = raw_request(server.port, f"POST /workflows/{w}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                          "Transfer-Encoding: chunked\r\nAuthorization: Bearer tok", chunked)
        assert answer.startswith("HTTP/1.1 413"), answer
        with httpx.Client(base_url=server.url, timeout=30) as http:
            small = http.post(f"/workflows/{w}/messages", json={"message": 1})
            assert small.status_code == 401  # under the limit: then the token
            ok = http.post(f"/workflows/{w}/messages", json={"message": {"op": "close"}, "topic": CMD},
                           headers={"Authorization": "Bearer tok"})
            assert ok.status_code == 202
    assert DBOS.retrieve_workflow(w).get_result() == "done"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_tokens_never_reach_the_access_log(dbos: type[DBOS]) -> None:
    w = start_driven()
    records = Records()
    access = logging.getLogger("uvicorn.access")
    with ServerThread(create_gateway(DBOS, token="t0p-s3cret"), log_level="info") as server:
        access.addHandler(records)
        try:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                got = http.get(f"/workflows/{w}/streams/s", params={"offset": 0, "access_token": "t0p-s3cret"})
                assert got.status_code == 200 and got.json()["offset"] == 0
                bad = http.get(f"/workflows/{w}/streams/s", params={"access_token": "wr0ng-guess"})
                assert bad.status_code == 401
        finally:
            access.removeHandler(records)
    logged = "\n".join(records.lines)
    assert f"/workflows/{w}/streams/s?offset=0" in logged, logged
    assert "t0p-s3cret" not in logged and "wr0ng-guess" not in logged and "access_token" not in logged
    finish(w)


def test_scoped_tokens(dbos: type[DBOS], db_url: str) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:6]}-"
    mine, other = start_in(tenant + "1"), start_driven()
    tokens = ["ro:read=R", "tx:send=S", f"ta:read+send:{tenant}=T", "ops:admin=A", f"tops:admin:{tenant}=P"]
    with TestClient(create_gateway(DBOS, tokens=tokens), base_url="http://localhost") as client:
        def call(secret: str, method: str, path: str, **kwargs: Any) -> int:
            auth = {"Authorization": f"Bearer {secret}"}
            return client.request(method, path, headers=auth, **kwargs).status_code

        message = {"message": {"op": "write", "value": 1}, "topic": CMD}
        assert call("R", "GET", f"/workflows/{other}") == 200
        assert call("R", "GET", f"/workflows/{other}/streams/s") == 200
        assert call("R", "POST", f"/workflows/{other}/messages", json=message) == 403
        assert call("R", "POST", f"/workflows/{other}/cancel") == 403
        assert call("S", "POST", f"/workflows/{other}/messages", json=message) == 202
        assert call("S", "GET", f"/workflows/{other}") == 403
        assert call("S", "POST", f"/workflows/{other}/cancel") == 403
        assert call("T", "GET", f"/workflows/{mine}") == 200
        assert call("T", "POST", f"/workflows/{mine}/messages", json=message) == 202
        assert call("T", "GET", f"/workflows/{other}") == 403
        assert call("T", "POST", f"/workflows/{other}/messages", json=message) == 403
        assert call("T", "GET", f"/workflows/{tenant}1%00/events") == 400  # NUL cannot stretch a prefix
        listed = client.get("/workflows", headers={"Authorization": "Bearer T"}).json()["workflows"]
        assert [s["workflow_id"] for s in listed] == [mine]
        assert call("T", "GET", "/workflows", params={"workflow_id_prefix": "tenant-"}) == 403
        assert call("P", "POST", f"/workflows/{mine}/fork", json={"start_step": 1}) == 403  # needs an ID
        assert call("P", "POST", f"/workflows/{mine}/fork", json={"start_step": 1, "workflow_id": "x"}) == 403
        assert call("P", "POST", f"/workflows/{mine}/fork",
                    json={"start_step": 1, "workflow_id": tenant + "fork"}) == 201
        assert call("P", "POST", f"/workflows/{other}/cancel") == 403
        assert call("A", "POST", f"/workflows/{other}/cancel") == 200
        assert call("nope", "GET", f"/workflows/{mine}") == 401
        assert call("R", "GET", "/schedules") == 200
        assert call("T", "GET", "/schedules") == 403  # schedules belong to no prefix
        assert call("R", "POST", "/schedules/none/pause") == 403
        assert call("P", "POST", "/schedules/none/pause") == 403
        assert call("A", "POST", "/schedules/none/pause") == 404
        assert client.get("/health").status_code == 200
    assert status_of(other) == "CANCELLED"
    for w in (mine, tenant + "fork"):
        DBOS.cancel_workflow(w)
    with DBOSClient(db_url) as tclient, TestClient(create_gateway(tclient, tokens=tokens),
                                                   base_url="http://localhost") as client:
        enqueue = {"workflow_name": "test_http.identity", "args": [1]}
        assert client.post("/queues/q/workflows", json=enqueue, headers={"Authorization": "Bearer T"}
                           ).status_code == 403
        assert client.post("/queues/q/workflows", json=enqueue, headers={"Authorization": "Bearer P"}
                           ).status_code == 403
        r = client.post("/queues/q/workflows", json={**enqueue, "workflow_id": tenant + "q"},
                        headers={"Authorization": "Bearer P"})
        assert r.status_code == 201 and r.json()["workflow_id"] == tenant + "q"
        foreign = client.post("/queues/q/workflows", headers={"Authorization": "Bearer P"},  # another tenant's
                              json={**enqueue, "workflow_id": tenant + "d1", "deduplication_id": "other-once"})
        assert foreign.status_code == 403 and "deduplication_id" in foreign.json()["detail"], foreign.text
        assert DBOS.get_workflow_status(tenant + "d1") is None
        own = {**enqueue, "workflow_id": tenant + "d2", "deduplication_id": tenant + "once"}
        assert client.post("/queues/q/workflows", json=own, headers={"Authorization": "Bearer P"}
                           ).status_code == 201
        DBOS.cancel_workflow(tenant + "d2")
        queued = client.get("/queues/q/workflows", headers={"Authorization": "Bearer P"}).json()["workflows"]
        assert [s["workflow_id"] for s in queued] == [tenant + "q"]
        DBOS.cancel_workflow(tenant + "q")


def start_in(workflow_id: str) -> str:
    from .test_http_gateway import driven

    with SetWorkflowID(workflow_id):
        DBOS.start_workflow(driven)
    return workflow_id


def test_nul_surrogates_and_long_ids_are_a_400_and_write_nothing(open_client: TestClient, db_url: str) -> None:
    victim = start_driven()
    long_id = "v" * (MAX_TEXT_BYTES + 1)
    for path in (f"/workflows/{victim}%00x/cancel", f"/workflows/{victim}%00x/messages",
                 f"/workflows/{long_id}/cancel", f"/workflows/{long_id}/messages"):
        r = open_client.post(path, json={"message": {"op": "close"}, "topic": CMD})
        assert r.status_code == 400 and r.json()["error"] == "invalid_argument", (path, r.text)
    for path in (f"/workflows/{victim}%00x", f"/workflows/{long_id}", f"/workflows/{victim}/events/k%00",
                 f"/workflows/{victim}/streams/s%00", f"/workflows/{victim}/events/{'k' * (MAX_TEXT_BYTES + 1)}",
                 f"/workflows/{victim}%00x/result", f"/workflows/{victim}%00x/steps"):
        r = open_client.get(path)
        assert r.status_code == 400 and r.json()["error"] == "invalid_argument", (path, r.text)
    bodies: list[dict[str, Any]] = [
        {"message": {"op": "close"}, "topic": "cmd\x00"},
        {"message": {"op": "close"}, "topic": "cmd\ud800"},
        {"message": {"op": "close"}, "topic": CMD, "idempotency_key": "k\x00"},
        {"message": {"op": "close"}, "topic": CMD, "idempotency_key": "k" * (MAX_TEXT_BYTES + 1)},
    ]
    for body in bodies:
        r = open_client.post(f"/workflows/{victim}/messages", content=_json(body),
                             headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_argument", (body, r.text)
    fork = open_client.post(f"/workflows/{victim}/fork", json={"start_step": 1, "workflow_id": "f\x00"})
    assert fork.status_code == 400
    assert stored_messages(db_url, victim) == []
    assert status_of(victim) == "PENDING"
    assert DBOS.list_workflows(forked_from=victim) == []
    finish(victim)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()  # keeps lone surrogates as \\ud800 escapes, as a hostile client would


def test_client_mistakes_with_numbers_are_4xx(open_client: TestClient, db_url: str) -> None:
    w = start_driven()
    huge = str(10**30)
    cases = {
        "Last-Event-ID huge": open_client.get(f"/workflows/{w}/streams/s", headers={"Last-Event-ID": huge}),
        "Last-Event-ID max": open_client.get(f"/workflows/{w}/streams/s",
                                             headers={"Last-Event-ID": str(2**63 - 1)}),
        "Last-Event-ID 5000 digits": open_client.get(f"/workflows/{w}/streams/s",
                                                     headers={"Last-Event-ID": "9" * 5000}),
        "stream offset": open_client.get(f"/workflows/{w}/streams/s", params={"offset": huge}),
        "steps offset": open_client.get(f"/workflows/{w}/steps", params={"offset": huge}),
        "steps limit": open_client.get(f"/workflows/{w}/steps", params={"limit": huge}),
        "list offset": open_client.get("/workflows", params={"offset": huge}),
        "fork start_step": open_client.post(f"/workflows/{w}/fork", json={"start_step": 10**30}),
        "result timeout nan": open_client.get(f"/workflows/{w}/result", params={"timeout": "nan"}),
        "result timeout inf": open_client.get(f"/workflows/{w}/result", params={"timeout": "inf"}),
        "event timeout nan": open_client.get(f"/workflows/{w}/events/k", params={"timeout": "nan"}),
        "int idempotency key": open_client.post(f"/workflows/{w}/messages",
                                                json={"message": 1, "idempotency_key": 42}),
        "int topic": open_client.post(f"/workflows/{w}/messages", json={"message": 1, "topic": 42}),
        "list prefix NUL": open_client.get("/workflows", params={"workflow_id_prefix": "a\x00"}),
    }
    for name, r in cases.items():
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str), name
    assert DBOS.list_workflows(forked_from=w) == []
    assert stored_messages(db_url, w) == []
    finish(w)
