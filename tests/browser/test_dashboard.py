"""The dashboard (/ui) in headless Chromium, on both backends, with the network unreachable: every request for
a host other than this machine is aborted and recorded, and each test checks none was made.

- the list shows a workflow started after the page loaded, and its status changing, without a reload;
- a workflow's page shows its steps, an event changing, and stream values arriving live;
- cancel works with an admin token and is refused with a read token or none;
- queues and schedules render.

Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import sys
import types
import uuid
from typing import Any

import pytest

from tests.browser.conftest import OfflinePage
from tether import DBOS, DBOSContextSetAuth, Queue, SetWorkflowID
from tether.http import create_gateway
from tether.http.demo import create_demo_app
from tether.http.server import ServerThread

CMD = "cmd"
ADMIN = "ops:admin=admin-secret"
READER = "viewer:read=read-secret"


@DBOS.step(name="dashboard_test.step")
async def a_step(value: Any) -> Any:
    return {"value": value}


@DBOS.workflow(name="dashboard_test.child")
async def a_child(n: int) -> int:
    return n * 2


@DBOS.workflow(name="dashboard_test.yearly")
def yearly(scheduled_at: Any, context: Any) -> None:
    pass


@DBOS.workflow(name="dashboard_test.driven")
async def driven(tag: str) -> str:
    """Does what its messages on topic ``cmd`` say, so a test controls every write."""
    while True:
        cmd: Any = await DBOS.recv_async(CMD, timeout_seconds=120)
        if cmd is None:
            return "timed out"
        op = cmd["op"]
        if op == "step":
            await a_step(cmd["value"])
        elif op == "child":
            await DBOS.start_workflow_async(a_child, 21)
        elif op == "event":
            await DBOS.set_event_async(cmd["key"], cmd["value"])
        elif op == "write":
            await DBOS.write_stream_async("s", cmd["value"])
        elif op == "close":
            await DBOS.close_stream_async("s")
            return "done"


def start_driven(prefix: str = "dash", user: str | None = None, roles: list[str] | None = None) -> str:
    workflow_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    with SetWorkflowID(workflow_id), DBOSContextSetAuth(user, roles):
        DBOS.start_workflow(driven, "tag")
    return workflow_id


def tell(workflow_id: str, **cmd: Any) -> None:
    DBOS.send(workflow_id, cmd, CMD)


def use_token(page: Any, secret: str | None) -> None:
    if secret is not None:
        page.fill("#token-input", secret)
        page.click("#token-form button[type=submit]")
    else:
        page.click("#token-forget")


def settled(offline: OfflinePage, name: str) -> None:
    """Keep a screenshot, leave the page (closing its live feeds before the server stops), check that no
    request left this machine and that the page raised nothing."""
    offline.screenshot(name)
    offline.page.goto("about:blank")
    assert offline.left == [], f"requests left this machine: {offline.left}"
    assert offline.errors == [], offline.errors


def test_list_shows_a_workflow_started_after_the_page_loaded(dbos: type[DBOS], offline_page: OfflinePage,
                                                              backend: str) -> None:
    page = offline_page.page
    with ServerThread(create_gateway(DBOS, tokens=[ADMIN])) as server:
        page.goto(f"{server.url}/ui")
        page.wait_for_selector("#banner:not([hidden])")  # 401 without a token: the page asks for one
        assert "needs a token" in page.inner_text("#banner")
        use_token(page, ADMIN.split("=")[1])
        page.wait_for_selector('#live[data-state="live"]')
        page.wait_for_selector("main[data-loaded]")
        page.evaluate("window.notReloaded = true")
        w = start_driven()
        row = f'#workflow-rows tr[data-workflow-id="{w}"]'
        page.wait_for_selector(f'{row}[data-status="PENDING"]')
        assert page.inner_text(f"{row} td:nth-child(2)") == "dashboard_test.driven"
        tell(w, op="close")
        page.wait_for_selector(f'{row}[data-status="SUCCESS"]')
        assert page.evaluate("window.notReloaded") is True
        assert page.locator(f"{row} .status-SUCCESS").count() == 1
        # filters: a prefix that excludes it, then one that includes it
        page.fill('input[name="workflow_id_prefix"]', "nothing-")
        page.click("#filters button[type=submit]")
        page.wait_for_selector("#page-info:has-text('no workflows')")  # (the page's CSP forbids eval)
        page.fill('input[name="workflow_id_prefix"]', w[:12])
        page.select_option('select[name="status"]', ["SUCCESS"])
        page.click("#filters button[type=submit]")
        page.wait_for_selector(row)
        assert "status=SUCCESS" in page.url
        settled(offline_page, f"dashboard-list-{backend}")


def test_list_pages_through_a_filter(dbos: type[DBOS], offline_page: OfflinePage, backend: str) -> None:
    page = offline_page.page
    prefix = f"page-{uuid.uuid4().hex[:6]}-"
    for i in range(30):  # a synchronous workflow: Playwright's sync API leaves its own loop marked running in
        with SetWorkflowID(f"{prefix}{i:02d}"):  # this thread, where an async one started here would wait
            DBOS.start_workflow(opaque, i).get_result()
    with ServerThread(create_gateway(DBOS, insecure=True)) as server:
        page.goto(f"{server.url}/ui/#/?workflow_id_prefix={prefix}&limit=25")
        page.wait_for_selector("#workflow-rows tr:nth-child(25)")
        assert page.locator("#workflow-rows tr").count() == 25
        assert page.inner_text("#page-info") == "1\u201325+"
        assert page.is_enabled("#next") and not page.is_enabled("#prev")
        page.click("#next")
        page.wait_for_selector("#page-info:has-text('26\u201330')")
        ids = page.eval_on_selector_all("#workflow-rows tr", "rows => rows.map(r => r.dataset.workflowId)")
        assert ids == [f"{prefix}{i:02d}" for i in range(4, -1, -1)]  # the oldest five, newest first
        assert not page.is_enabled("#next") and page.is_enabled("#prev")
        assert "offset=25" in page.url
        settled(offline_page, f"dashboard-pages-{backend}")


def test_workflow_page_shows_steps_events_and_streams_live(dbos: type[DBOS], offline_page: OfflinePage,
                                                           backend: str) -> None:
    page = offline_page.page
    w = start_driven(user="dana", roles=["ops", "admin"])
    tell(w, op="step", value="first")
    tell(w, op="child")
    tell(w, op="event", key="progress", value=1)
    DBOS.get_event(w, "progress", timeout_seconds=60)
    with ServerThread(create_gateway(DBOS, tokens=[READER])) as server:
        page.goto(f"{server.url}/ui/#/workflow/{w}")
        use_token(page, READER.split("=")[1])
        page.wait_for_selector('#live[data-state="live"]')
        page.wait_for_selector('#steps-table tr[data-function-id]')
        page.wait_for_selector('#events [data-event-key="progress"]')
        assert page.text_content('#events [data-event-key="progress"]') == "1"
        assert "dashboard_test.step" in page.text_content("#steps")
        assert '"value": "first"' in page.text_content("#steps")
        page.wait_for_selector("#children a")  # the child, linked
        overview = page.text_content("#overview") or ""
        assert "dana" in overview and "ops, admin" in overview  # who started it, with their roles
        assert '"args": [\n    "tag"\n  ]' in page.text_content("#input")
        page.evaluate("window.notReloaded = true")
        tell(w, op="event", key="progress", value=2)  # an event changing
        page.wait_for_selector('#events [data-event-key="progress"] pre:text-is("2")')
        for n in range(3):  # stream values arriving
            tell(w, op="write", value={"n": n})
        page.wait_for_selector('ol[data-stream-key="s"] li[data-offset="2"]')
        tell(w, op="step", value="second")
        page.wait_for_selector("#steps-table pre:has-text('second')")
        tell(w, op="close")
        page.wait_for_selector('h3 .live[data-state="closed"]')
        page.wait_for_selector("#status .status-SUCCESS")
        values = page.eval_on_selector_all('ol[data-stream-key="s"] li', "els => els.map(e => e.textContent)")
        assert values == ['{"n":0}', '{"n":1}', '{"n":2}']
        assert page.evaluate("window.notReloaded") is True
        settled(offline_page, f"dashboard-detail-{backend}")


@pytest.mark.parametrize("who", ["none", "reader"])
def test_cancel_is_refused_without_an_admin_token(dbos: type[DBOS], offline_page: OfflinePage, who: str) -> None:
    page = offline_page.page
    w = start_driven()
    with ServerThread(create_gateway(DBOS, tokens=[ADMIN, READER])) as server:
        page.goto(f"{server.url}/ui/#/workflow/{w}")
        if who == "reader":
            use_token(page, READER.split("=")[1])
            page.wait_for_selector("#status .status-PENDING")
        page.click("#cancel")
        page.wait_for_selector("#action-result.error")
        expected = "401" if who == "none" else "403"
        assert "Cancel refused: " + expected in page.inner_text("#action-result")
        status = DBOS.get_workflow_status(w)
        assert status is not None and status.status == "PENDING"
        settled(offline_page, f"dashboard-cancel-refused-{who}")
    tell(w, op="close")


def test_cancel_resume_and_fork_with_the_admin_token(dbos: type[DBOS], offline_page: OfflinePage, backend: str) -> None:
    page = offline_page.page
    w = start_driven()
    with ServerThread(create_gateway(DBOS, tokens=[ADMIN, READER])) as server:
        page.goto(f"{server.url}/ui/#/workflow/{w}")
        use_token(page, ADMIN.split("=")[1])
        page.wait_for_selector("#status .status-PENDING")
        page.click("#cancel")
        page.wait_for_selector("#action-result.ok")
        assert f"Cancel: {w} is CANCELLED" in page.inner_text("#action-result")
        page.wait_for_selector("#status .status-CANCELLED")
        status = DBOS.get_workflow_status(w)
        assert status is not None and status.status == "CANCELLED"
        offline_page.screenshot(f"dashboard-cancelled-{backend}")
        page.click("#resume")  # resume, then fork from step 1: both with the admin token
        page.wait_for_selector("#action-result.ok:has-text('Resume: ')")
        page.wait_for_selector("#status .status-PENDING, #status .status-ENQUEUED")
        page.fill("#fork-step", "1")
        page.click("#fork")
        page.wait_for_selector("#action-result.ok:has-text('Fork: ') a")
        forks = DBOS.list_workflows(forked_from=w)
        assert len(forks) == 1 and forks[0].workflow_id in page.inner_text("#action-result")
        settled(offline_page, f"dashboard-resumed-forked-{backend}")
    for run in (w, forks[0].workflow_id):
        tell(run, op="close")


def test_queues_and_schedules_pages(dbos: type[DBOS], offline_page: OfflinePage, backend: str) -> None:
    page = offline_page.page
    DBOS.register_queue(f"dash-q-{backend}", global_concurrency=3, worker_concurrency=1)
    queue = Queue(f"dash-q-{backend}")
    queue.enqueue(driven, "queued")
    DBOS.create_schedule(schedule_name=f"dash-yearly-{backend}", workflow_fn=yearly, schedule="0 0 1 1 *")
    with ServerThread(create_gateway(DBOS, insecure=True)) as server:
        page.goto(f"{server.url}/ui/#/queues")
        row = f'#queues tr[data-queue="dash-q-{backend}"]'
        page.wait_for_selector(row)
        text = page.inner_text(row)
        assert "3 / 1" in text and "database" in text, text
        page.goto(f"{server.url}/ui/#/schedules")
        schedule = f'#schedules tr[data-schedule="dash-yearly-{backend}"]'
        page.wait_for_selector(schedule)
        text = page.inner_text(schedule)
        assert "dashboard_test.yearly" in text and "0 0 1 1 *" in text and "ACTIVE" in text, text
        assert "tether-test" in text, text  # the application that owns it
        settled(offline_page, f"dashboard-queues-{backend}")
    for status in DBOS.list_workflows(queue_name=f"dash-q-{backend}", status=["PENDING", "ENQUEUED"]):
        tell(status.workflow_id, op="close")


def test_demo_lands_on_links_to_the_dashboard_and_docs(dbos: type[DBOS], offline_page: OfflinePage) -> None:
    page = offline_page.page
    with ServerThread(create_demo_app(manage_dbos=False, fib_base=5)) as server:
        page.goto(f"{server.url}/")
        for href in ("/api/ui/", "/docs", "/api/docs"):
            assert page.locator(f'a[href="{href}"]').count() >= 1, href
        page.click('a[href="/api/ui/"]')
        page.wait_for_selector('#live[data-state="live"]')
        page.goto(f"{server.url}/ui")  # the demo's /ui is the dashboard too
        page.wait_for_selector('#live[data-state="live"]')
        assert page.url.endswith("/api/ui/")
        settled(offline_page, "dashboard-demo")


class Opaque:
    """Pickled under a module only this test process has: ``tether serve`` cannot decode it."""

    def __init__(self, n: int) -> None:
        self.n = n


_ONLY_HERE = types.ModuleType("dashboard_test_only_here")
Opaque.__module__ = _ONLY_HERE.__name__
_ONLY_HERE.Opaque = Opaque  # type: ignore[attr-defined]
sys.modules[_ONLY_HERE.__name__] = _ONLY_HERE


@DBOS.workflow(name="dashboard_test.opaque")
def opaque(value: Any) -> Any:
    return value


def test_tether_serve_dashboard_shows_undecodable_pickles_as_such(dbos: type[DBOS], db_url: str,
                                                                    offline_page: OfflinePage, backend: str) -> None:
    """``tether serve`` (a gateway over a DBOSClient, in another process) serves /ui; a workflow's pickled input
    and output of a class it cannot import are shown as such, and the list follows workflows that another
    process starts."""
    from tests.integration.test_cli_serve import serving

    page = offline_page.page
    done = f"opaque-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(done):
        DBOS.start_workflow(opaque, Opaque(1)).get_result()
    with serving("serve", "--db", db_url, "--token", ADMIN) as (url, printed):
        assert any(f"dashboard at {url}/ui" in line for line in printed), printed
        page.goto(f"{url}/ui/#/workflow/{done}")
        use_token(page, ADMIN.split("=")[1])
        page.wait_for_selector('#input [data-marker="undecodable"]')
        page.wait_for_selector('#output [data-marker="undecodable"]')
        assert "cannot decode" in page.inner_text("#input")
        page.goto(f"{url}/ui/#/")
        page.wait_for_selector('#live[data-state="live"]')
        page.wait_for_selector("main[data-loaded]")
        w = start_driven("served")
        page.wait_for_selector(f'#workflow-rows tr[data-workflow-id="{w}"]')
        tell(w, op="close")
        page.wait_for_selector(f'#workflow-rows tr[data-workflow-id="{w}"][data-status="SUCCESS"]')
        settled(offline_page, f"dashboard-serve-{backend}")
