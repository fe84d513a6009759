"""Fixtures of the console tests: a real server per test module and Debian's Chromium driven by
Playwright, with every page's console errors collected and a screenshot kept of every test."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from support import Api, Server, free_port, settings_for_test

if TYPE_CHECKING:
    from console_page import ConsolePage  # imports playwright, which may be missing: see below

CHROMIUM = os.environ.get("TAXIWAY_TEST_CHROMIUM", "/usr/bin/chromium")


def _browser_unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set TAXIWAY_TEST_CHROMIUM)"
    return None


_BROWSER_UNAVAILABLE = _browser_unavailable()
if _BROWSER_UNAVAILABLE and os.environ.get("TAXIWAY_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"TAXIWAY_REQUIRE_BROWSER=1 but {_BROWSER_UNAVAILABLE}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module. Not per session: Playwright's sync API keeps an asyncio
    loop running on this thread while it is open, and later tests in the same xdist process that
    call asyncio.run() would fail."""
    if _BROWSER_UNAVAILABLE:
        pytest.skip(_BROWSER_UNAVAILABLE)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a test module: two worker slots, live previews every second, and a configured
    model whose weights are missing (the model picker shows it, not ready). A model configured on
    a machine without a GPU leaves the classic engines the defaults."""
    data_dir = tmp_path_factory.mktemp("console-data")
    settings = settings_for_test(
        data_dir,
        port=free_port(),
        workers=2,
        neural_workers=0,
        run_neural=False,
        preview_interval_seconds=1.0,
        models={"x4plus": {"engine": "spandrel", "path": "missing-x4plus.pth", "operations": ["upscale"]}},
    )
    server = Server(settings).start()
    yield server
    server.stop()


@pytest.fixture
def user(console_server: Server) -> Api:
    """A new user with one account (unlimited plan, 1000 credits, maxJobs 5)."""
    api = console_server.new_user()
    api.create_account(email=f"{os.urandom(3).hex()}@example.com")
    return api


@pytest.fixture
def make_page(browser: Any, console_server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Opens console pages (a fresh browser context each, so a fresh sessionStorage); after the
    test, screenshots each and checks that none logged a console error it did not expect."""
    from console_page import ConsolePage, artifact_path

    opened: list[ConsolePage] = []

    def open_page(width: int = 1280, height: int = 900) -> ConsolePage:
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        page = ConsolePage(context.new_page(), console_server.base_url)
        opened.append(page)
        return page

    yield open_page
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    problems = []
    for index, page in enumerate(opened):
        suffix = f"-{index}" if index else ""
        try:
            page.page.screenshot(path=str(artifact_path(f"{name}{suffix}.png")), full_page=True)
        except Exception as exc:  # a page the test broke still gets its errors checked
            problems.append(f"no screenshot: {exc}")
        problems.extend(page.unexpected_errors())
        page.page.context.close()
    assert not problems, "console errors:\n" + "\n".join(problems)
