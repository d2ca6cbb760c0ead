"""Mailboxes on the CLI (``tether workflow messages ID``, ``workflow get``) and the gateway
(``GET /workflows/{id}/messages``, read scope, prefix-limited tokens), both backends."""

from __future__ import annotations

import json
import sys
import threading
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tether import DBOS, DBOSClient, SetWorkflowID, WorkflowSerializationFormat
from tether.cli import main
from tether.http import create_gateway


@DBOS.workflow()
def mailbox_owner() -> str:
    """Waits for "go", so that the other messages sent to it stay queued."""
    DBOS.recv("go", timeout_seconds=60)
    return "done"


def _started() -> str:
    wfid = f"mbs-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(mailbox_owner)
    return wfid


def _end(wfid: str) -> None:
    DBOS.send(wfid, "go", "go")
    DBOS.retrieve_workflow(wfid).get_result()
    for _ in range(600):  # "go" taken: only the others are left
        if "go" not in DBOS.pending_message_counts(wfid):
            return
        threading.Event().wait(0.05)


def _fill(wfid: str) -> None:
    DBOS.send(wfid, {"amount": 12}, "payment", serialization_type=WorkflowSerializationFormat.PORTABLE)
    DBOS.send(wfid, "second", "payment")
    DBOS.send(wfid, "no topic", None, idempotency_key="k-1")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_lists_a_workflows_mailbox(capsys: pytest.CaptureFixture[str], dbos: type[DBOS], db_url: str) -> None:
    wfid = _started()
    _fill(wfid)
    code, out, _ = run(capsys, "workflow", "messages", wfid, "--db", db_url)
    assert code == 0
    head, *table = out.splitlines()
    assert head.startswith(f"{wfid} (PENDING): 3 messages waiting: ") and "payment 2" in head
    assert "(no topic) 1" in head and "ended" not in head
    assert table[0].split() == ["ID", "TOPIC", "SENT", "BYTES", "IDEMPOTENCY_KEY"]
    assert sum("payment" in line for line in table) == 2 and "k-1" in out and "second" not in out

    code, out, _ = run(capsys, "workflow", "messages", wfid, "--db", db_url, "--topic", "payment", "--values")
    assert code == 0 and '{"amount":12}' in out and "second" in out and "no topic\n" not in out.split("\n", 1)[1]

    code, out, _ = run(capsys, "workflow", "messages", wfid, "--db", db_url, "--json", "--values", "--limit", "2")
    doc = json.loads(out)
    assert code == 0 and doc["workflow_id"] == wfid and doc["status"] == "PENDING"
    assert doc["pending"] == 3 and doc["unread_messages_at_end"] is None and doc["values_loaded"] is True
    assert sorted(doc["counts"], key=lambda c: str(c["topic"])) == [{"topic": None, "count": 1},
                                                                    {"topic": "payment", "count": 2}]
    assert len(doc["messages"]) == 2 and doc["limit"] == 2 and doc["offset"] == 0
    first = doc["messages"][0]
    assert set(first) == {"message_id", "topic", "sent_at_epoch_ms", "size_bytes", "idempotency_key", "value"}

    _end(wfid)
    code, out, _ = run(capsys, "workflow", "messages", wfid, "--db", db_url)
    assert code == 0 and out.startswith(f"{wfid} (SUCCESS): 3 messages waiting") and "ended with 3 unread" in out
    code, out, _ = run(capsys, "workflow", "get", wfid, "--db", db_url)
    assert code == 0 and "unread_messages_at_end" in out and f"tether workflow messages {wfid}" in out
    code, out, _ = run(capsys, "workflow", "get", wfid, "--db", db_url, "--json")
    assert json.loads(out)["unread_messages_at_end"] == 3


def test_cli_errors_and_help(capsys: pytest.CaptureFixture[str], dbos: type[DBOS], db_url: str) -> None:
    code, out, _ = run(capsys, "workflow", "messages", "no-such-workflow", "--db", db_url, "--json")
    assert code == 1 and json.loads(out)["error"] == "workflow_not_found"
    wfid = _started()
    code, out, _ = run(capsys, "workflow", "messages", wfid, "--db", db_url)
    assert code == 0 and out.strip() == f"{wfid} (PENDING): 0 messages waiting"
    assert run(capsys, "workflow", "messages", wfid, "--db", db_url, "--limit", "0")[0] == 2
    code, out, _ = run(capsys, "workflow", "messages", "a\x00b", "--db", db_url, "--json")
    assert code == 1 and json.loads(out)["error"] == "InvalidArgumentError"
    code, out, _ = run(capsys, "workflow", "messages", "--help")
    assert code == 0 and "no recv has taken yet" in out and "--values" in out
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "tether workflow messages ID" in out
    _end(wfid)


def test_cli_marks_a_value_it_cannot_decode(capsys: pytest.CaptureFixture[str], dbos: type[DBOS],
                                            db_url: str) -> None:
    mod = types.ModuleType("tether_test_cli_mailbox_gone")
    exec("class Gone:\n    pass\n", mod.__dict__)
    sys.modules[mod.__name__] = mod
    wfid = _started()
    DBOS.send(wfid, mod.Gone(), "t")
    DBOS.send(wfid, "readable", "t")
    del sys.modules[mod.__name__]
    code, out, _ = run(capsys, "workflow", "messages", wfid, "--db", db_url, "--json", "--values")
    values = [m["value"] for m in json.loads(out)["messages"]]
    assert code == 0 and values[0]["$tether_error"] == "undecodable" and values[1] == "readable"
    _end(wfid)


@pytest.fixture(params=["dbos", "client"])
def gateway(request: pytest.FixtureRequest, dbos: type[DBOS], db_url: str) -> Iterator[TestClient]:
    """The gateway mounted on DBOS, and the one of ``tether serve`` (over a DBOSClient)."""
    if request.param == "dbos":
        with TestClient(create_gateway(DBOS, insecure=True), base_url="http://localhost") as c:
            yield c
        return
    with DBOSClient(db_url) as tclient, TestClient(create_gateway(tclient, insecure=True),
                                                   base_url="http://localhost") as c:
        yield c


def test_gateway_serves_the_mailbox_as_documented(gateway: TestClient) -> None:
    wfid = _started()
    _fill(wfid)
    doc = gateway.get(f"/workflows/{wfid}/messages").json()
    assert doc["workflow_id"] == wfid and doc["status"] == "PENDING" and doc["pending"] == 3
    assert doc["values_loaded"] is False and doc["limit"] == 100 and doc["offset"] == 0
    assert doc["unread_messages_at_end"] is None
    assert {(c["topic"], c["count"]) for c in doc["counts"]} == {("payment", 2), (None, 1)}
    assert [m["value"] for m in doc["messages"]] == [None, None, None]
    payment = [m for m in doc["messages"] if m["topic"] == "payment"]
    assert payment[0]["sent_at_epoch_ms"] <= payment[1]["sent_at_epoch_ms"] and payment[0]["size_bytes"] > 0
    assert [m["idempotency_key"] for m in doc["messages"] if m["topic"] is None] == ["k-1"]

    doc = gateway.get(f"/workflows/{wfid}/messages",
                      params={"topic": "payment", "load_values": "true", "limit": 1, "offset": 1}).json()
    assert [m["value"] for m in doc["messages"]] == ["second"] and doc["pending"] == 3

    _end(wfid)
    doc = gateway.get(f"/workflows/{wfid}/messages").json()
    assert doc["status"] == "SUCCESS" and doc["unread_messages_at_end"] == 3 and doc["pending"] == 3
    assert gateway.get(f"/workflows/{wfid}").json()["unread_messages_at_end"] == 3

    assert gateway.get("/workflows/no-such-workflow/messages").json()["error"] == "workflow_not_found"
    bad: dict[str, Any] = {"limit": 0}
    assert gateway.get(f"/workflows/{wfid}/messages", params=bad).status_code == 422
    assert gateway.get(f"/workflows/{wfid}/messages", params={"limit": 1001}).status_code == 422
    answer = gateway.get(f"/workflows/{wfid}/messages", params={"topic": "a\x00"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_argument"


def test_gateway_mailbox_is_guarded_like_other_reads(dbos: type[DBOS]) -> None:
    tokens = ["reader:read=r-secret", "sender:send=s-secret", "tenant:read:tenant-=t-secret"]
    mine, other = f"tenant-{uuid.uuid4()}", _started()
    with SetWorkflowID(mine):
        DBOS.start_workflow(mailbox_owner)
    DBOS.send(mine, "hi", "t")
    with TestClient(create_gateway(DBOS, tokens=tokens), base_url="http://localhost") as client:
        def call(secret: str | None, wfid: str) -> int:
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            return client.get(f"/workflows/{wfid}/messages", headers=headers).status_code

        assert call(None, mine) == 401
        assert call("wrong", mine) == 401
        assert call("r-secret", mine) == 200
        assert call("s-secret", mine) == 403  # send scope may send messages, not read the mailbox
        assert call("t-secret", mine) == 200
        assert call("t-secret", other) == 403  # outside the token's prefix
        answer = client.get(f"/workflows/{mine}/messages", params={"access_token": "r-secret"})
        assert answer.status_code == 401  # ?access_token is for the streams' EventSource only
    _end(mine)
    _end(other)
