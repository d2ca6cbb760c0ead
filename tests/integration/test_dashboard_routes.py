"""The gateway routes the dashboard added, on both backends: the live feeds (SSE), streams by key, queues, the
list's attributes and parent filters, and which paths are public."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.test_dashboard import CMD, driven, start_driven, tell
from tether import DBOS, Queue, SetWorkflowID
from tether.api.binding import _runtime_of
from tether.http import create_gateway
from tether.http.server import ServerThread

ADMIN = "ops:admin=admin-secret"
LIMITED = "part:read:dash-=limited-secret"


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class Feed:
    """Reads an SSE route on a thread, collecting (event, data) pairs; ``close`` drops the connection as a
    browser leaving the page does."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: list[tuple[str, Any]] = []
        self.ready = threading.Event()
        self.changed = threading.Condition()
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.netloc, timeout=120)
        self._conn.request("GET", parts.path, headers={**headers, "Accept": "text/event-stream"})
        self._response = self._conn.getresponse()
        assert self._response.status == 200, self._response.read()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event, data = "message", ""
        try:
            while True:
                raw = self._response.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    with self.changed:
                        self.events.append((event, json.loads(data)))
                        self.changed.notify_all()
                    if event == "ready":
                        self.ready.set()
                    event, data = "message", ""
        except Exception:  # closed under it by close(): the page left
            return

    def wait_for(self, predicate: Any, timeout: float = 60) -> Any:
        with self.changed:
            found = self.changed.wait_for(
                lambda: next(((e, d) for e, d in self.events if predicate(e, d)), None), timeout)
        assert found is not None, self.events
        return found[1]

    def close(self) -> None:
        sock = self._conn.sock
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self._thread.join(timeout=10)


@pytest.fixture
def server(dbos: type[DBOS]) -> Iterator[ServerThread]:
    with ServerThread(create_gateway(DBOS, tokens=[ADMIN, LIMITED])) as s:
        yield s


def test_ui_pages_are_public_and_data_is_not(server: ServerThread) -> None:
    redirect = httpx.get(f"{server.url}/ui", timeout=30)
    assert redirect.status_code == 308 and redirect.headers["location"] == "ui/"
    page = httpx.get(f"{server.url}/ui/", timeout=30)
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="assets/app.js">' in page.text
    for asset in ("app.js", "api.js", "list.js", "detail.js", "queues.js", "dom.js", "app.css"):
        got = httpx.get(f"{server.url}/ui/assets/{asset}", timeout=30)
        assert got.status_code == 200, asset
        assert "http://" not in got.text and "https://" not in got.text, asset  # nothing from elsewhere
    for path in ("/changes", "/queues", "/workflows/x/streams", "/workflows/x/changes", "/ui/assets/../queues"):
        assert httpx.get(f"{server.url}{path}", timeout=30).status_code in (401, 404), path


def test_list_feed_pushes_new_workflows_and_status_changes_to_every_page(server: ServerThread) -> None:
    rt = _runtime_of(DBOS)
    pages = [Feed(f"{server.url}/changes", auth("admin-secret")) for _ in range(3)]
    limited = Feed(f"{server.url}/changes", auth("limited-secret"))
    try:
        for feed in [*pages, limited]:
            assert feed.ready.wait(60)
        assert len(rt.hub._taps) == 1  # one watcher for every page
        w = start_driven("other")
        for feed in pages:
            feed.wait_for(lambda e, d: e == "workflows" and any(
                r["workflow_id"] == w and r["status"] == "PENDING" for r in d["workflows"]))
        tell(w, op="close")
        for feed in pages:
            row = feed.wait_for(lambda e, d: e == "workflows" and any(
                r["workflow_id"] == w and r["status"] == "SUCCESS" for r in d["workflows"]))
            assert all(r["input"] is None for r in row["workflows"])  # rows without inputs and outputs
        mine = start_driven("dash")
        limited.wait_for(lambda e, d: e == "workflows" and any(r["workflow_id"] == mine for r in d["workflows"]))
        assert not any(r["workflow_id"] == w for e, d in limited.events if e == "workflows"
                       for r in d["workflows"])  # a token limited to a prefix sees only its workflows
        tell(mine, op="close")
    finally:
        for feed in [*pages, limited]:
            feed.close()
    rt.hub.notify("wf", "nobody", "SUCCESS")  # nothing fails once the pages left
    with httpx.Client() as c:  # the server notices the pages left: the tap goes
        for _ in range(600):
            if not rt.hub._taps:
                break
            c.get(f"{server.url}/health")
            threading.Event().wait(0.05)
    assert rt.hub._taps == ()


def test_workflow_feed_names_what_changed(server: ServerThread) -> None:
    w = start_driven()
    feed = Feed(f"{server.url}/workflows/{w}/changes", auth("admin-secret"))
    try:
        assert feed.ready.wait(60)
        tell(w, op="event", key="progress", value=1)
        feed.wait_for(lambda e, d: e == "changed" and "event:progress" in d["kinds"])
        tell(w, op="write", value=1)
        feed.wait_for(lambda e, d: e == "changed" and "stream:s" in d["kinds"])
        DBOS.send(w, "hello", "other-topic")
        feed.wait_for(lambda e, d: e == "changed" and "msg" in d["kinds"])
        tell(w, op="close")
        feed.wait_for(lambda e, d: e == "changed" and "status" in d["kinds"])
    finally:
        feed.close()
    got = httpx.get(f"{server.url}/workflows/{w}/streams", headers=auth("admin-secret"), timeout=30).json()
    assert got == {"workflow_id": w, "streams": [{"key": "s", "values": 1, "closed": True}]}
    assert httpx.get(f"{server.url}/workflows/nope/changes", headers=auth("admin-secret"),
                     timeout=30).status_code == 404


def test_queues_show_limits_and_load(server: ServerThread, backend: str) -> None:
    name = f"dash-rq-{uuid.uuid4().hex[:6]}"
    from tether import QueueRateLimit

    DBOS.register_queue(name, global_concurrency=5, limiter=QueueRateLimit(limit=10, period=2.0))
    started = [Queue(name).enqueue(driven, "q") for _ in range(2)]
    got = httpx.get(f"{server.url}/queues", headers=auth("admin-secret"), timeout=30).json()
    q = next(q for q in got["queues"] if q["name"] == name)
    assert q["source"] == "database"
    assert q["enqueued"] + q["running"] == 2
    assert q["limits"]["global_concurrency"] == 5
    assert q["limits"]["rate_limit"] == {"limit": 10, "period_ms": 2000}
    assert httpx.get(f"{server.url}/queues", headers=auth("limited-secret"), timeout=30).status_code == 403
    for handle in started:
        tell(handle.workflow_id, op="close")


def test_list_filters_by_parent_and_attributes(server: ServerThread, backend: str) -> None:
    w = start_driven()
    tell(w, op="child")
    tell(w, op="event", key="child", value=True)
    assert DBOS.get_event(w, "child", timeout_seconds=60) is True
    child = next(s["child_workflow_id"] for s in DBOS.list_workflow_steps(w) if s["child_workflow_id"])
    got = httpx.get(f"{server.url}/workflows", params={"parent_workflow_id": w}, headers=auth("admin-secret"),
                    timeout=30).json()
    assert [r["workflow_id"] for r in got["workflows"]] == [child]
    tell(w, op="close")
    tagged = f"attr-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(tagged):
        DBOS.start_workflow(driven, "x")
    DBOS.update_workflow_attributes(tagged, {"tenant": tagged})
    answer = httpx.get(f"{server.url}/workflows", params={"attributes": json.dumps({"tenant": tagged})},
                       headers=auth("admin-secret"), timeout=30)
    assert [r["workflow_id"] for r in answer.json()["workflows"]] == [tagged]
    bad = httpx.get(f"{server.url}/workflows", params={"attributes": "[1]"}, headers=auth("admin-secret"),
                    timeout=30)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_argument"
    DBOS.send(tagged, {"op": "close"}, CMD)


def test_a_burst_of_changes_asks_pages_to_reload(server: ServerThread) -> None:
    """More changed workflows in one batch than the watcher reads at once: list pages are told to reload
    (resync) rather than sent a partial batch, and the feed goes on afterwards."""
    from tether.http.dashboard.watch import MAX_BATCH_IDS

    rt = _runtime_of(DBOS)
    feed = Feed(f"{server.url}/changes", auth("admin-secret"))
    try:
        assert feed.ready.wait(60)
        for i in range(MAX_BATCH_IDS + 10):
            rt.hub.notify("wf", f"burst-{i}", "SUCCESS")
        feed.wait_for(lambda e, d: e == "resync")
        w = start_driven()
        feed.wait_for(lambda e, d: e == "workflows" and any(r["workflow_id"] == w for r in d["workflows"]))
        tell(w, op="close")
    finally:
        feed.close()
