"""Versioned events through the HTTP gateway (both backends): the latest value with its version as JSON, the
versions as JSON, and a live SSE follow whose event IDs are versions, resumable with Last-Event-ID."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from tether import DBOS, DBOSClient
from tether.http import create_gateway

from .test_http_gateway import CMD, client, command, start_driven  # noqa: F401  (client: a fixture)


def parse_sse(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """SSE events as dicts of their fields (comments and the retry hint skipped)."""
    event: dict[str, str] = {}
    for line in lines:
        if line == "":
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            if name != "retry":
                event[name] = value


def set_and_wait(workflow_id: str, key: str, value: Any) -> None:
    DBOS.send(workflow_id, {"op": "event", "key": key, "value": value}, CMD)
    while (got := DBOS.get_event_with_version(workflow_id, key, timeout_seconds=60)) is None or got.value != value:
        time.sleep(0.001)


def follow(http: TestClient, url: str, on_event: Any = None, **headers: str) -> list[dict[str, str]]:
    """Every SSE event of a follow until ``end``, calling ``on_event`` on each as it arrives."""
    got: list[dict[str, str]] = []
    with http.stream("GET", url, headers={"Accept": "text/event-stream", **headers}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for event in parse_sse(r.iter_lines()):
            got.append(event)
            if on_event is not None:
                on_event(event)
            if event.get("event") in ("end", "failure"):
                break
    return got


def test_latest_value_with_its_version(client: TestClient) -> None:  # noqa: F811
    w = start_driven()
    missing = client.get(f"/workflows/{w}/events/progress/latest", params={"timeout": 0})
    assert missing.json() == {"workflow_id": w, "key": "progress", "found": False, "version": None,
                              "value": None, "created_at_epoch_ms": None}
    for pct in (10, 20):
        set_and_wait(w, "progress", {"pct": pct})
    got = client.get(f"/workflows/{w}/events/progress/latest", params={"timeout": 5}).json()
    assert (got["found"], got["version"], got["value"]) == (True, 2, {"pct": 20})
    assert got["created_at_epoch_ms"] > 0
    # the existing route is unchanged
    assert client.get(f"/workflows/{w}/events/progress").json() == {
        "workflow_id": w, "key": "progress", "found": True, "value": {"pct": 20}}
    listed = client.get(f"/workflows/{w}/events/progress/versions", params={"from_version": 2}).json()
    assert [(v["version"], v["value"]) for v in listed["versions"]] == [(2, {"pct": 20})]
    assert listed["next_version"] == 3
    command(client, w, op="close")


def test_sse_follows_live_ends_with_the_workflow_and_resumes_by_last_event_id(client: TestClient) -> None:  # noqa: F811
    w = start_driven()
    set_and_wait(w, "p", "one")
    url = f"/workflows/{w}/events/p/versions"

    def drive(event: dict[str, str]) -> None:
        if event.get("id") == "1":  # the follower is live: set the next versions now, then end the workflow
            DBOS.send(w, {"op": "event", "key": "p", "value": "two"}, CMD)
            DBOS.send(w, {"op": "event", "key": "p", "value": {"three": 3}}, CMD)
            DBOS.send(w, {"op": "close"}, CMD)

    events = follow(client, url, drive)
    assert [(e.get("id"), e.get("event"), e["data"]) for e in events] == [
        ("1", None, '"one"'), ("2", None, '"two"'), ("3", None, '{"three":3}'), (None, "end", '{"next_version":4}')]
    # a reconnecting EventSource resumes after the last version it saw
    resumed = follow(client, url, **{"Last-Event-ID": "1"})
    assert [e.get("id") for e in resumed] == ["2", "3", None]
    assert [e["data"] for e in follow(client, f"{url}?from_version=3")][:1] == ['{"three":3}']
    # nothing left after the last version of an ended workflow: 204 stops the browser's reconnects
    done = client.get(url, headers={"Accept": "text/event-stream", "Last-Event-ID": "3"})
    assert done.status_code == 204
    bad = client.get(url, headers={"Accept": "text/event-stream", "Last-Event-ID": "three"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_argument"
    assert client.get(f"/workflows/nobody-{w}/events/p/versions").status_code == 404


def test_sse_on_a_client_gateway_with_a_prefix_limited_token(dbos: type[DBOS], db_url: str) -> None:
    w = start_driven()
    set_and_wait(w, "k", [1])
    with DBOSClient(db_url) as db_client:
        gateway = create_gateway(db_client, tokens=["reader:read:driven-=s3cret", "other:read:else-=other"])
        with TestClient(gateway, base_url="http://localhost") as http:
            url = f"/workflows/{w}/events/k/versions"
            forbidden = http.get(url, headers={"Authorization": "Bearer other", "Accept": "text/event-stream"})
            assert forbidden.status_code == 403

            def finish(event: dict[str, str]) -> None:
                if event.get("id") == "1":
                    DBOS.send(w, {"op": "close"}, CMD)

            events = follow(http, f"{url}?access_token=s3cret", finish)
            assert [(e.get("id"), e["data"]) for e in events] == [("1", "[1]"), (None, '{"next_version":2}')]


def test_a_follower_that_disconnects_stops_waiting(dbos: type[DBOS]) -> None:
    """Over a real server: a browser that goes away mid-follow leaves nothing parked on the key."""
    import httpx

    from tether.http.server import ServerThread

    w = start_driven()
    set_and_wait(w, "k", 1)
    rt = DBOS._runtime
    assert rt is not None
    parked_before = rt.hub.count("event")
    with ServerThread(create_gateway(DBOS, insecure=True)) as server:
        url = f"{server.url}/workflows/{w}/events/k/versions"
        with httpx.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=60) as r:
            lines = r.iter_lines()
            first = next(e for e in parse_sse(lines))
            assert (first["id"], first["data"]) == ("1", "1")
            while rt.hub.count("event") == parked_before:  # the follower is parked for version 2
                time.sleep(0.001)
        while rt.hub.count("event") != parked_before:  # gone with the connection
            time.sleep(0.001)
    DBOS.send(w, {"op": "close"}, CMD)
