"""The gateway and demo over a real socket (uvicorn on a thread): live SSE, resumption after a forced
disconnect, readers at different offsets, auth; both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tether import DBOS, DBOSClient
from tether.http import StreamFanout, create_gateway
from tether.http.demo import create_demo_app
from tether.http.server import ServerThread
from tether.http.sse_client import SSEEvent, parse_sse

from .test_http_gateway import CMD, start_driven

SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def gateway(dbos: type[DBOS]) -> Iterator[ServerThread]:
    with ServerThread(create_gateway(DBOS, token="tok")) as server:
        yield server


@pytest.fixture
def http(gateway: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30, headers={"Authorization": "Bearer tok"}) as c:
        yield c


def write(workflow_id: str, value: object) -> None:
    DBOS.send(workflow_id, {"op": "write", "value": value}, CMD)


class Reader:
    """One SSE connection, read event by event."""

    def __init__(self, http: httpx.Client, url: str, **kwargs: object) -> None:
        self._cm = http.stream("GET", url, **kwargs)  # type: ignore[arg-type]
        self.response = self._cm.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self._events = parse_sse(self.response.iter_text())

    def next(self) -> SSEEvent:
        return next(self._events)

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


def test_sse_delivers_each_value_while_the_workflow_runs(http: httpx.Client) -> None:
    w = start_driven()
    reader = Reader(http, f"/workflows/{w}/streams/s", headers=SSE)
    try:
        for i in range(4):
            write(w, {"i": i})
            event = reader.next()  # arrives before the next value is even written
            assert (event.event, event.id, event.json()) == ("message", str(i), {"i": i})
        DBOS.send(w, {"op": "close"}, CMD)
        end = reader.next()
        assert (end.event, end.id, end.json()) == ("end", None, {"next_offset": 4})
    finally:
        reader.close()


def test_sse_resumes_after_a_forced_disconnect_without_loss_or_repeats(http: httpx.Client) -> None:
    w = start_driven()
    seen: list[tuple[str | None, object]] = []
    first = Reader(http, f"/workflows/{w}/streams/s", headers=SSE)
    for i in range(3):
        write(w, i)
        e = first.next()
        seen.append((e.id, e.json()))
    first.close()  # the connection drops mid-stream
    write(w, 3)
    write(w, 4)
    last_id = seen[-1][0]
    assert last_id == "2"
    second = Reader(http, f"/workflows/{w}/streams/s", headers={**SSE, "Last-Event-ID": last_id})
    try:
        for _ in range(2):
            e = second.next()
            seen.append((e.id, e.json()))
        write(w, 5)
        e = second.next()
        seen.append((e.id, e.json()))
        DBOS.send(w, {"op": "close"}, CMD)
        assert second.next().event == "end"
    finally:
        second.close()
    assert seen == [(str(i), i) for i in range(6)]
    # Resuming after the end: 204, so an EventSource stops reconnecting.
    assert http.get(f"/workflows/{w}/streams/s", headers={**SSE, "Last-Event-ID": "5"}).status_code == 204


def sync(http: httpx.Client, workflow_id: str) -> None:
    """Wait until the workflow has handled every command sent so far (it handles them in order)."""
    key = f"sync-{uuid.uuid4().hex[:6]}"
    DBOS.send(workflow_id, {"op": "event", "key": key, "value": True}, CMD)
    assert http.get(f"/workflows/{workflow_id}/events/{key}", params={"timeout": 30}).json()["found"] is True


def test_readers_at_different_offsets_each_get_their_own_sequence(http: httpx.Client) -> None:
    w = start_driven()
    write(w, 0)
    write(w, 1)
    sync(http, w)
    url = f"/workflows/{w}/streams/s"
    ahead = Reader(http, url, params={"offset": 5}, headers=SSE)  # beyond the end: the shared follower starts at 5
    behind = Reader(http, url, headers=SSE)  # catches up from the table, then follows on its own
    try:
        got_behind = [behind.next().json() for _ in range(2)]
        for i in range(2, 7):
            write(w, i)
            got_behind.append(behind.next().json())
        got_ahead = [ahead.next().json() for _ in range(2)]
        middle = Reader(http, url, params={"offset": 3}, headers=SSE)  # 3, 4 from the table, 5, 6 shared
        got_middle = [middle.next() for _ in range(4)]
        DBOS.send(w, {"op": "close"}, CMD)
        for reader in (ahead, behind, middle):
            assert reader.next().json() == {"next_offset": 7}
        middle.close()
    finally:
        ahead.close()
        behind.close()
    assert got_behind == list(range(7)) and got_ahead == [5, 6]
    assert [(e.id, e.json()) for e in got_middle] == [("3", 3), ("4", 4), ("5", 5), ("6", 6)]


def test_many_readers_share_one_follower(gateway: ServerThread, http: httpx.Client) -> None:
    w = start_driven()
    readers = [Reader(http, f"/workflows/{w}/streams/s", headers=SSE) for _ in range(20)]
    try:
        write(w, "x")
        assert [r.next().json() for r in readers] == ["x"] * 20
        assert http.get("/health").json()["streams_followed"] == 1
        DBOS.send(w, {"op": "close"}, CMD)
        assert {r.next().event for r in readers} == {"end"}
    finally:
        for r in readers:
            r.close()


def test_auth_over_the_socket(gateway: ServerThread) -> None:
    w = start_driven()
    with httpx.Client(base_url=gateway.url, timeout=30) as anonymous:
        assert anonymous.get(f"/workflows/{w}").status_code == 401
        assert anonymous.get(f"/workflows/{w}/streams/s", headers=SSE).status_code == 401
        with anonymous.stream("GET", f"/workflows/{w}/streams/s", params={"access_token": "tok", "offset": 0},
                              headers=SSE) as r:
            assert r.status_code == 200
            events = parse_sse(r.iter_text())
            write(w, "token via query")
            assert next(events).json() == "token via query"
    DBOS.send(w, {"op": "close"}, CMD)


def test_demo_stream_followed_live_over_the_socket(dbos: type[DBOS]) -> None:
    app = create_demo_app(manage_dbos=False, fib_base=5)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        w = f"sock-{uuid.uuid4().hex[:8]}"
        assert http.post(f"/start-workflow-streaming/{w}/2").status_code == 200
        with http.stream("GET", f"/workflow-stream/{w}", headers=SSE) as r:
            events = list(parse_sse(r.iter_text()))
        assert [e.json()["type"] for e in events[:-1]] == ["start", "progress", "result", "progress", "result",
                                                            "complete"]
        assert events[-1].event == "end"
        assert http.get(f"/workflow-stream/{w}").json()["total_messages"] == 6
        # the stream closes just before the workflow returns: wait for its end rather than race it
        assert http.get(f"/api/workflows/{w}/result", params={"timeout": 60}).json()["status"] == "SUCCESS"


def test_idle_streams_send_keepalive_comments(dbos: type[DBOS]) -> None:
    app = create_gateway(DBOS, insecure=True, fanout=StreamFanout(keepalive_seconds=0.05))
    w = start_driven()
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as http, \
            http.stream("GET", f"/workflows/{w}/streams/s", headers=SSE) as r:
        text = ""
        chunks = r.iter_text()
        while ": keepalive" not in text:  # nothing is written: the server keeps the connection alive
            text += next(chunks)
        write(w, "after the keepalive")
        while "after the keepalive" not in text:
            text += next(chunks)
    assert text.startswith("retry: 1000\n\n: keepalive\n\n")
    assert 'id: 0\ndata: "after the keepalive"\n\n' in text
    DBOS.send(w, {"op": "close"}, CMD)


def test_sse_through_a_client_gateway_sees_the_applications_writes(dbos: type[DBOS], db_url: str) -> None:
    """``tether serve``: the gateway's DBOSClient learns of writes through the database's wake-ups."""
    w = start_driven()
    with DBOSClient(db_url) as client, ServerThread(create_gateway(client, insecure=True)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        reader = Reader(http, f"/workflows/{w}/streams/s", headers=SSE)
        try:
            for i in range(3):
                write(w, i)
                assert reader.next().json() == i
            DBOS.send(w, {"op": "close"}, CMD)
            assert reader.next().event == "end"
        finally:
            reader.close()
