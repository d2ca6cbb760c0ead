"""The OpenAPI pages render in a browser that cannot reach the internet: Swagger UI and ReDoc come from the
package (fastapi-offline's files served under /docs-assets), and no request leaves this machine."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import OfflinePage
from tether import DBOS
from tether.http import create_gateway
from tether.http.demo import create_demo_app
from tether.http.server import ServerThread


def _apps() -> dict[str, tuple[object, str]]:
    return {
        "gateway": (create_gateway(DBOS, token="s3cret"), ""),  # with a token: the pages stay public
        "demo": (create_demo_app(manage_dbos=False), ""),
        "demo-api": (create_demo_app(manage_dbos=False), "/api"),
    }


@pytest.mark.parametrize("which", ["gateway", "demo", "demo-api"])
def test_docs_pages_name_no_other_host(which: str) -> None:
    app, base = _apps()[which]
    with ServerThread(app) as server:  # type: ignore[arg-type]
        for page in ("/docs", "/redoc"):
            got = httpx.get(f"{server.url}{base}{page}", timeout=30)
            assert got.status_code == 200, (page, got.text)
            urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", got.text)
            assert urls, got.text
            assert all(u.startswith(base + "/") for u in urls), urls
            assert "https://" not in got.text and "http://" not in got.text, got.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
            got = httpx.get(f"{server.url}{base}/docs-assets/{asset}", timeout=30)
            assert got.status_code == 200 and len(got.content) > 1000, asset
        if which == "gateway":  # data still needs the token
            assert httpx.get(f"{server.url}/workflows", timeout=30).status_code == 401
            assert httpx.get(f"{server.url}/docs-assets/../workflows", timeout=30).status_code in (401, 404)


@pytest.mark.parametrize("which", ["gateway", "demo-api"])
def test_swagger_and_redoc_render_offline(which: str, offline_page: OfflinePage) -> None:
    app, base = _apps()[which]
    page = offline_page.page
    with ServerThread(app) as server:  # type: ignore[arg-type]
        page.goto(f"{server.url}{base}/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-summary-path")  # the operations, from /openapi.json
        assert "/workflows" in page.inner_text(".swagger-ui")
        offline_page.screenshot(f"docs-swagger-{which}")
        page.goto(f"{server.url}{base}/redoc")
        page.wait_for_selector("h1")
        page.wait_for_function("document.body.innerText.includes('/workflows')")
        offline_page.screenshot(f"docs-redoc-{which}")
    assert offline_page.left == []
    assert offline_page.errors == []
