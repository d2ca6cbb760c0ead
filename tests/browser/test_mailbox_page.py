"""The dashboard's workflow page shows its pending messages from ``GET /workflows/{id}/messages`` (issue 16,
item 4), in headless Chromium with the network unreachable, on both backends: topic, send time and value of
messages nobody received, a message arriving while the page is open, and the mailbox after the workflow ended
with them unread."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from tests.browser.conftest import OfflinePage
from tether import DBOS, SetWorkflowID
from tether.http import create_gateway
from tether.http.server import ServerThread

READER = "viewer:read=read-secret"


@DBOS.workflow(name="mailbox_page.checkout")
async def checkout() -> str:
    """Waits on "payment" while the sender writes to "payment_status": the mistake a mailbox makes visible."""
    await DBOS.recv_async("go", timeout_seconds=120)
    return "done"


def _shown(epoch_ms: int) -> str:
    """A time as the dashboard's fmtTime shows it."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")[:23] \
        .replace("T", " ") + " UTC"


def test_workflow_page_lists_pending_messages(dbos: type[DBOS], offline_page: OfflinePage, backend: str) -> None:
    page = offline_page.page
    w = f"mailbox-page-{uuid.uuid4().hex[:10]}"
    with SetWorkflowID(w):
        DBOS.start_workflow(checkout)
    DBOS.send(w, {"status": "paid"}, "payment_status")
    DBOS.send(w, "no topic here", None)
    sent = {m.topic: m.sent_at_epoch_ms for m in DBOS.list_pending_messages(w)}
    with ServerThread(create_gateway(DBOS, tokens=[READER])) as server:
        page.goto(f"{server.url}/ui/#/workflow/{w}")
        page.fill("#token-input", READER.split("=")[1])
        page.click("#token-form button[type=submit]")
        page.wait_for_selector('#live[data-state="live"]')
        page.wait_for_selector("#messages-table tr")
        rows = page.eval_on_selector_all("#messages-table tr",
                                         "rs => rs.map(r => [...r.cells].map(c => c.textContent))")
        by_topic = {r[0]: r for r in rows}
        assert set(by_topic) == {"payment_status", "(no topic)"}
        assert by_topic["payment_status"][1] == _shown(sent["payment_status"])
        assert by_topic["(no topic)"][1] == _shown(sent[None])
        assert '"paid"' in by_topic["payment_status"][2] and "no topic here" in by_topic["(no topic)"][2]
        assert "2 pending" in page.text_content("#messages")
        page.evaluate("window.notReloaded = true")
        DBOS.send(w, "arrives live", "payment_status")  # pushed to the open page (its changes feed)
        page.wait_for_selector("#messages-table tr:nth-child(3)")
        assert "arrives live" in page.text_content("#messages-table")
        DBOS.send(w, "go", "go")  # (the workflow runs on Playwright's loop here: wait through the page)
        page.wait_for_selector("#status .status-SUCCESS")
        page.wait_for_selector("#messages:has-text('3 pending')")  # ended with them unread: still listed
        assert page.evaluate("window.notReloaded") is True
        offline_page.screenshot(f"dashboard-mailbox-{backend}")
        page.goto("about:blank")
    assert offline_page.left == [], f"requests left this machine: {offline_page.left}"
    assert offline_page.errors == [], offline_page.errors
