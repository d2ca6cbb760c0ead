"""Playwright (from PyPI) driving Debian's headless Chromium, for the dashboard and API docs tests.

Where Chromium or the ``playwright`` package is missing the tests using these fixtures skip with the reason
shown, except under CI=true, where that is an error. Screenshots go to ``tests/artifacts/`` (gitignored), or to
``$TETHER_TEST_ARTIFACTS`` when set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import IN_CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TETHER_TEST_ARTIFACTS") or Path(__file__).parent.parent / "artifacts")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed (scripts/ensure_chromium.sh installs Debian's package)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's binary, driven by Playwright) for one test.

    Playwright's sync API leaves its event loop marked as running in this thread while it is open, so
    Tether's synchronous calls made meanwhile go through the bridge's helper threads (see
    :func:`tether.engine.bridge.run_sync`); closing it after each test leaves the thread as it found it.
    An async workflow started from the test's thread meanwhile runs on that loop, so only while Playwright
    is waiting on something: start synchronous workflows there when the test must wait for their end.
    """
    missing = _missing()
    if missing is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser tests to run: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


class OfflinePage:
    """A page in a fresh browser context where every request for a host other than this machine is aborted
    (as if the network were unreachable) and recorded in ``left``."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.left: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.set_default_timeout(30_000)

    def _route(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.left.append(url)
            route.abort("internetdisconnected")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def offline_page(chromium: Any) -> Iterator[OfflinePage]:
    page = OfflinePage(chromium)
    try:
        yield page
    finally:
        page.close()
