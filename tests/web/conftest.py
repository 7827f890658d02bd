"""Fixtures of the web page tests: one live app per session, one Chromium per module.

Each test gets pages in fresh browser contexts (empty ``sessionStorage``), and fails if the
page logs a script error or a Content-Security-Policy violation, even when every assertion
passed: a till must never run with a broken script.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.web.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    STEP_TIMEOUT_MS,
    LiveApp,
    PageFactory,
    start_live_app,
)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with start_live_app(tmp_path_factory.mktemp("web-app")) as app:
        yield app


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=30_000
    )
    yield browser
    browser.close()


@pytest.fixture
def open_page(browser: Browser, live_app: LiveApp) -> Iterator[PageFactory]:
    """Open ``/scanner`` in a fresh context: ``open_page(PHONE, is_mobile=True, ...)``."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []
    expect.set_options(timeout=STEP_TIMEOUT_MS)

    def on_console(message: ConsoleMessage) -> None:
        # Requests a test fails on purpose log "Failed to load resource"; nothing else may.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console error: {message.text}")

    def opener(viewport: dict[str, int] = DESKTOP, init_script: str = "", **options: Any) -> Page:
        context = browser.new_context(
            viewport=ViewportSize(width=viewport["width"], height=viewport["height"]),
            locale="en-US",
            base_url=live_app.url,
            service_workers="block",
            **options,
        )
        contexts.append(context)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
        page = context.new_page()
        if init_script:
            page.add_init_script(init_script)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", on_console)
        page.goto("/scanner")
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not problems, problems
