"""A real browser (headless Chromium) follows a workflow's stream with EventSource on a page of the demo.

Chromium comes from Debian's ``chromium`` package: ``scripts/ensure_chromium.sh`` installs it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import IN_CI
from tests.integration.test_http_gateway import CMD, start_driven
from tether import DBOS
from tether.http.demo import create_demo_app
from tether.http.server import ServerThread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    """Like PostgreSQL: where Chromium is missing the browser tests skip with the reason shown, except under
    CI=true (where .ci/run installs it), where a missing browser is an error."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("CI=true requires Chromium: run scripts/ensure_chromium.sh")
        pytest.skip("Chromium is not installed (scripts/ensure_chromium.sh installs Debian's package)")


class SeesStreamReaders:
    """ASGI wrapper that signals when a client opens an SSE stream (so the test knows the page connected)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.connected = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"accept", b"text/event-stream") in scope.get("headers", []):
            self.connected.set()
        await self.app(scope, receive, send)


def dump_dom(url: str, profile: Path) -> subprocess.Popen[str]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/ensure_chromium.sh"
    return subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=20000",
         "--dump-dom", url],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def rendered(dom: str) -> tuple[list[tuple[str, object]], str]:
    items = re.findall(r'<li data-offset="(\d+)" data-value="(.*?)">', dom)
    state = re.search(r'<span id="state">(.*?)</span>', dom)
    assert state is not None, dom
    return [(offset, json.loads(html.unescape(text))) for offset, text in items], html.unescape(state.group(1))


def shown_times(dom: str) -> list[str]:
    return re.findall(r"<time>(.*?)</time>", dom)


def test_browser_eventsource_renders_values_as_they_are_written(dbos: type[DBOS], tmp_path: Path) -> None:
    app = SeesStreamReaders(create_demo_app(manage_dbos=False))
    w = start_driven()
    DBOS.send(w, {"op": "write", "value": {"n": 0, "text": "<before the page>"}}, CMD)
    with ServerThread(app) as server:
        browser = dump_dom(f"{server.url}/stream-page/{w}?key=s", tmp_path / "profile")
        try:
            assert app.connected.wait(timeout=60), "the page never opened its EventSource"
            for n in range(1, 4):  # written only once the page is listening: delivered live
                DBOS.send(w, {"op": "write", "value": {"n": n, "text": f"live {n}"}}, CMD)
            DBOS.send(w, {"op": "close"}, CMD)
            dom, _ = browser.communicate(timeout=90)
        finally:
            browser.kill()
    values, state = rendered(dom)
    assert values == [("0", {"n": 0, "text": "<before the page>"})] + [
        (str(n), {"n": n, "text": f"live {n}"}) for n in range(1, 4)]
    assert state == 'closed {"next_offset":4}'


def test_browser_follows_a_demo_streaming_workflow(dbos: type[DBOS], tmp_path: Path) -> None:
    app = create_demo_app(manage_dbos=False, fib_base=5)
    with ServerThread(app) as server:
        w = f"browser-{uuid.uuid4().hex[:8]}"
        assert httpx.post(f"{server.url}/start-workflow-streaming/{w}/3", timeout=30).status_code == 200
        browser = dump_dom(f"{server.url}/stream-page/{w}", tmp_path / "profile")
        try:
            dom, _ = browser.communicate(timeout=90)
        finally:
            browser.kill()
    values, state = rendered(dom)
    assert [offset for offset, _ in values] == [str(i) for i in range(8)]
    assert [v["type"] for _, v in values] == ["start"] + ["progress", "result"] * 3 + ["complete"]
    assert state == 'closed {"next_offset":8}'
    # timestamps shown as a time of day, not as epoch seconds
    times = shown_times(dom)
    assert len(times) == 8 and all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} UTC", t) for t in times), times
    assert '"timestamp"' not in re.sub(r'data-value="[^"]*"', "", dom)


def test_page_shows_the_values_so_far_from_the_server_then_follows_live(dbos: type[DBOS], tmp_path: Path) -> None:
    """The HTML itself carries the values written so far (nothing waits for the script); the script then
    follows from the next offset, so live values are appended once, in order."""
    app = SeesStreamReaders(create_demo_app(manage_dbos=False))
    w = start_driven()
    for n in range(2):
        DBOS.send(w, {"op": "write", "value": {"n": n, "timestamp": 1.5e9 + n}}, CMD)
    DBOS.send(w, {"op": "event", "key": "written", "value": True}, CMD)
    assert DBOS.get_event(w, "written", timeout_seconds=60) is True
    with ServerThread(app) as server:
        served = httpx.get(f"{server.url}/stream-page/{w}?key=s", timeout=30).text
        assert rendered(served) == ([("0", {"n": 0, "timestamp": 1.5e9}), ("1", {"n": 1, "timestamp": 1.5e9 + 1})],
                                    "connecting")
        assert shown_times(served) == ["02:40:00.000 UTC", "02:40:01.000 UTC"]
        browser = dump_dom(f"{server.url}/stream-page/{w}?key=s", tmp_path / "profile")
        try:
            assert app.connected.wait(timeout=60), "the page never opened its EventSource"
            DBOS.send(w, {"op": "write", "value": {"n": 2, "timestamp": 1.5e9 + 2}}, CMD)
            DBOS.send(w, {"op": "close"}, CMD)
            dom, _ = browser.communicate(timeout=90)
        finally:
            browser.kill()
        values, state = rendered(dom)
        assert values == [(str(n), {"n": n, "timestamp": 1.5e9 + n}) for n in range(3)]
        assert shown_times(dom) == ["02:40:00.000 UTC", "02:40:01.000 UTC", "02:40:02.000 UTC"]
        assert state == 'closed {"next_offset":3}'
        # once closed, the page is complete as served and opens no stream
        again = httpx.get(f"{server.url}/stream-page/{w}?key=s", timeout=30).text
        assert rendered(again) == (values, 'closed {"next_offset":3}')


def test_unknown_workflow_and_landing_page(dbos: type[DBOS], tmp_path: Path) -> None:
    app = create_demo_app(manage_dbos=False, fib_base=5)
    with ServerThread(app) as server:
        missing = httpx.get(f"{server.url}/stream-page/no-such-workflow", timeout=30)
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        assert "No workflow <code>no-such-workflow</code>" in missing.text
        w = f"landing-{uuid.uuid4().hex[:8]}"
        assert httpx.post(f"{server.url}/start-workflow-streaming/{w}/1", timeout=30).status_code == 200
        home = httpx.get(f"{server.url}/", timeout=30)
        assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
        for link in (f'href="/stream-page/{w}"', 'href="/docs"', 'href="/api/docs"', 'href="/openapi.json"'):
            assert link in home.text, link
        assert "/start-workflow-streaming/{id}/{n}" in home.text and "fibonacci(base + i)" in home.text
        for path in ("/docs", "/api/docs", f"/stream-page/{w}"):
            assert httpx.get(f"{server.url}{path}", timeout=30).status_code == 200, path
        browser = dump_dom(f"{server.url}/", tmp_path / "profile")
        try:
            dom, _ = browser.communicate(timeout=90)
        finally:
            browser.kill()
        assert f'<a href="/stream-page/{w}">stream page</a>' in dom
