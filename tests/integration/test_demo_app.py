"""The seed 003 demo app, in-process (fastapi TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tether import DBOS
from tether.http.demo import WorkflowEvent, create_demo_app
from tether.http.demo.workflows import fibonacci
from tether.http.sse_client import parse_sse

FIB_BASE = 5


@pytest.fixture
def client(dbos: type[DBOS]) -> Iterator[TestClient]:
    app = create_demo_app(manage_dbos=False, fib_base=FIB_BASE, approval_timeout=30)
    with TestClient(app, base_url="http://localhost") as c:
        yield c


def wid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def result_of(client: TestClient, workflow_id: str) -> dict:
    r = client.get(f"/api/workflows/{workflow_id}/result", params={"timeout": 60})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "SUCCESS", body
    return body


def test_events_workflow_publishes_progress_status_and_result(client: TestClient) -> None:
    w = wid("ev")
    r = client.post(f"/start-workflow-events/{w}/3")
    assert r.status_code == 200
    assert r.json()["query_endpoints"]["progress"] == f"/workflow-events/{w}/progress"
    got = client.get(f"/workflow-events/{w}/result", params={"timeout": 60})
    assert got.status_code == 200, got.text
    expected_total = sum(fibonacci(FIB_BASE + i) for i in range(3))
    assert got.json() == {"workflow_id": w, "event_key": "result",
                          "value": {"total_steps": 3, "total_fibonacci": expected_total}}
    assert client.get(f"/workflow-events/{w}/progress").json()["value"] == 100
    events = client.get(f"/workflow-events/{w}/all").json()
    assert events == {"workflow_id": w, "events": {"progress": 100, "status": "completed",
                                                   "result": {"total_steps": 3, "total_fibonacci": expected_total}}}
    output = result_of(client, w)["output"]
    assert [s["n"] for s in output] == [FIB_BASE, FIB_BASE + 1, FIB_BASE + 2]


def test_str_enum_event_keys_name_the_same_event(client: TestClient, dbos: type[DBOS]) -> None:
    w = wid("enum")
    client.post(f"/start-workflow-events/{w}/1")
    assert DBOS.get_event(w, WorkflowEvent.RESULT, timeout_seconds=60) == DBOS.get_event(w, "result", 0)
    assert set(DBOS.get_all_events(w)) == {e.value for e in WorkflowEvent}


def test_event_not_published_in_time_is_a_json_404(client: TestClient) -> None:
    w = wid("wait")
    client.post(f"/start-workflow-messaging/{w}/1")
    r = client.get(f"/workflow-events/{w}/result", params={"timeout": 0.2})
    assert r.status_code == 404
    assert r.json()["error"] == "event_not_found"


def test_unknown_event_key_and_unknown_workflow_are_client_errors(client: TestClient) -> None:
    w = wid("ev")
    client.post(f"/start-workflow-events/{w}/0")
    bad_key = client.get(f"/workflow-events/{w}/nonsense")
    assert bad_key.status_code == 422 and bad_key.json()["error"] == "invalid_request"
    missing = client.get("/workflow-events/no-such-workflow/progress")
    assert missing.status_code == 404 and missing.json()["error"] == "workflow_not_found"
    assert client.get("/workflow-events/no-such-workflow/all").status_code == 404
    assert client.get("/workflow-stream/no-such-workflow").status_code == 404
    assert client.post(f"/start-workflow-events/{w}/-1").status_code == 422
    assert client.post(f"/start-workflow-events/{w}/many").status_code == 422


def test_approval_flow(client: TestClient) -> None:
    w = wid("msg")
    r = client.post(f"/start-workflow-messaging/{w}/2")
    assert r.json()["send_approval"] == f"/send-message/{w}"
    status = client.get(f"/workflow-events/{w}/status", params={"timeout": 30}).json()["value"]
    assert status == "waiting_for_approval"
    sent = client.post(f"/send-message/{w}", json={"approved": True, "message": "Approved!"})
    assert sent.status_code == 200
    assert sent.json()["payload"] == {"approved": True, "message": "Approved!"}
    output = result_of(client, w)["output"]
    assert output["status"] == "completed" and output["message"] == "Approved!"
    assert [s["fibonacci"] for s in output["results"]] == [fibonacci(FIB_BASE), fibonacci(FIB_BASE + 1)]


def test_rejection_flow(client: TestClient) -> None:
    w = wid("msg-reject")
    client.post(f"/start-workflow-messaging/{w}/2")
    client.post(f"/send-message/{w}", json={"approved": False, "reason": "Rejected by test"})
    output = result_of(client, w)["output"]
    assert output == {"status": "rejected", "reason": "Not approved", "results": []}
    assert client.get(f"/workflow-events/{w}/status").json()["value"] == "rejected"


def test_message_sent_before_the_workflow_waits_is_kept(client: TestClient) -> None:
    w = wid("msg-early")
    client.post(f"/start-workflow-messaging/{w}/0")
    client.post(f"/send-message/{w}", json={"approved": True})
    client.post(f"/send-message/{w}", json={"approved": False})  # a second message stays queued, unread
    assert result_of(client, w)["output"]["status"] == "completed"


def test_malformed_messages_are_rejected_with_json(client: TestClient) -> None:
    w = wid("msg-bad")
    client.post(f"/start-workflow-messaging/{w}/0")
    not_json = client.post(f"/send-message/{w}", content=b"{not json", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"] == "invalid_request"
    a_list = client.post(f"/send-message/{w}", json=[1, 2])
    assert a_list.status_code == 422
    nan = client.post(f"/send-message/{w}", content=b'{"approved": NaN}',
                      headers={"Content-Type": "application/json"})
    assert nan.status_code == 422 and nan.json()["error"] == "serialization"
    missing = client.post("/send-message/no-such-workflow", json={"approved": True})
    assert missing.status_code == 404 and missing.json()["error"] == "workflow_not_found"


def test_streaming_snapshot_and_offsets(client: TestClient) -> None:
    w = wid("stream")
    r = client.post(f"/start-workflow-streaming/{w}/2")
    assert r.json()["read_stream"] == f"/workflow-stream/{w}"
    result_of(client, w)
    snap = client.get(f"/workflow-stream/{w}").json()
    kinds = [v["type"] for v in snap["stream_values"]]
    assert kinds == ["start", "progress", "result", "progress", "result", "complete"]
    assert snap["total_messages"] == 6 and snap["closed"] is True and snap["next_offset"] == 6
    tail = client.get(f"/workflow-stream/{w}", params={"offset": 4}).json()
    assert tail["stream_values"] == snap["stream_values"][4:] and tail["next_offset"] == 6
    assert client.get(f"/workflow-stream/{w}", params={"offset": -1}).status_code == 422


def test_stream_as_server_sent_events_after_the_end(client: TestClient) -> None:
    w = wid("stream-sse")
    client.post(f"/start-workflow-streaming/{w}/1")
    result_of(client, w)
    with client.stream("GET", f"/workflow-stream/{w}", headers={"Accept": "text/event-stream"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(parse_sse(r.iter_text()))
    assert [e.id for e in events[:-1]] == ["0", "1", "2", "3"]
    assert [e.json()["type"] for e in events[:-1]] == ["start", "progress", "result", "complete"]
    assert events[-1].event == "end" and events[-1].json() == {"next_offset": 4}
    # A browser reconnecting after the last value is told to stop (204), not sent the end again forever.
    again = client.get(f"/workflow-stream/{w}", headers={"Accept": "text/event-stream", "Last-Event-ID": "3"})
    assert again.status_code == 204
    bad = client.get(f"/workflow-stream/{w}", headers={"Accept": "text/event-stream", "Last-Event-ID": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_argument"


def test_starting_twice_with_one_id_runs_once(client: TestClient) -> None:
    w = wid("twice")
    client.post(f"/start-workflow-events/{w}/1")
    client.post(f"/start-workflow-events/{w}/5")
    assert len(result_of(client, w)["output"]) == 1
    conflict = client.post(f"/start-workflow-streaming/{w}/1")
    assert conflict.status_code == 409 and conflict.json()["error"] == "conflicting_workflow"


def test_health_reports_memory_and_page_follows_the_stream(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["memory_mb"] > 1
    w = wid("page")
    client.post(f"/start-workflow-streaming/{w}/0")
    page = client.get(f"/stream-page/{w}")
    assert page.status_code == 200 and "new EventSource" in page.text and f'"/workflow-stream/{w}?offset=' in page.text
    missing = client.get("/stream-page/no-such-workflow")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "No workflow <code>no-such-workflow</code>" in missing.text
    assert "/start-workflow-events/{workflow_id}/{n_steps}" in client.get("/openapi.json").json()["paths"]
