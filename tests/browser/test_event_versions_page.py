"""A real browser (headless Chromium) follows a versioned event live: a page opens an EventSource on the
gateway's ``/workflows/{id}/events/{key}/versions`` and renders each version (the SSE event ID) and value as it
is set, then the end of the follow when the workflow ends."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from tests.browser.test_stream_page import SeesStreamReaders, _chromium, dump_dom  # noqa: F401  (a fixture)
from tests.integration.test_http_gateway import CMD, start_driven
from tether import DBOS
from tether.http import create_gateway
from tether.http.server import ServerThread

PAGE = """<!doctype html>
<html><body>
<h1>Following <code id="key"></code></h1>
<ol id="versions"></ol>
<p>State: <span id="state">connecting</span></p>
<script>
const params = new URLSearchParams(location.search);
const url = `/api/workflows/${encodeURIComponent(params.get("workflow"))}/events/` +
            `${encodeURIComponent(params.get("key"))}/versions`;
document.getElementById("key").textContent = params.get("key");
const source = new EventSource(url);
const state = document.getElementById("state");
source.onopen = () => { state.textContent = "live"; };
source.onmessage = (e) => {
  const li = document.createElement("li");
  li.dataset.version = e.lastEventId;
  li.dataset.value = e.data;
  li.textContent = `v${e.lastEventId}: ${e.data}`;
  document.getElementById("versions").appendChild(li);
};
source.addEventListener("end", (e) => { state.textContent = "ended " + e.data; source.close(); });
source.addEventListener("failure", (e) => { state.textContent = "failed " + e.data; source.close(); });
</script>
</body></html>
"""


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def rendered(dom: str) -> tuple[list[tuple[int, object]], str]:
    items = re.findall(r'<li data-version="(\d+)" data-value="(.*?)">', dom)
    state = re.search(r'<span id="state">(.*?)</span>', dom)
    assert state is not None, dom
    return [(int(v), json.loads(html.unescape(text))) for v, text in items], html.unescape(state.group(1))


def test_browser_follows_a_versioned_event_live(dbos: type[DBOS], tmp_path: Path) -> None:
    w = start_driven()
    DBOS.send(w, {"op": "event", "key": "progress", "value": {"pct": 0, "note": "<set before the page>"}}, CMD)
    DBOS.send(w, {"op": "event", "key": "other", "value": "not followed"}, CMD)
    got = DBOS.get_event_with_version(w, "other", timeout_seconds=60)
    assert got is not None and got.version == 1  # the workflow did both sets (in order)
    app = SeesStreamReaders(Starlette(routes=[Route("/page", page),
                                              Mount("/api", create_gateway(DBOS, insecure=True))]))
    with ServerThread(app) as server:
        browser = dump_dom(f"{server.url}/page?workflow={w}&key=progress", tmp_path / "profile")
        try:
            assert app.connected.wait(timeout=60), "the page never opened its EventSource"
            for pct in (25, 50, 100):  # set only once the page is listening: delivered live
                DBOS.send(w, {"op": "event", "key": "progress", "value": {"pct": pct}}, CMD)
            DBOS.send(w, {"op": "close"}, CMD)
            dom, _ = browser.communicate(timeout=90)
        finally:
            browser.kill()
    values, state = rendered(dom)
    assert values == [(1, {"pct": 0, "note": "<set before the page>"}), (2, {"pct": 25}), (3, {"pct": 50}),
                      (4, {"pct": 100})]
    assert state == 'ended {"next_version":5}'
