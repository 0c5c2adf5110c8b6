"""The browser lane: pages opened in Debian's Chromium (`apt-get install chromium`), driven by Playwright.

Playwright's pip package brings its driver, not a browser: the tests launch `/usr/bin/chromium`, so nothing
is downloaded at test time. Without that program the lane skips on a developer's machine and fails in CI
(where `.ci/run` installs it, so its absence is a broken setup, not a reason to pass).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for each module; each test gets a fresh context (profile) of its own. Not one for
    the session: while Playwright's sync API is open its event loop runs in this thread, so every async test
    run after it in the same process (`make test` runs the browser lane with the e2e and fault lanes) fails
    with "Runner.run() cannot be called from a running event loop"."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (.ci/run installs it; CI must run the browser lane)", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own: no cookies, storage or cache left by another test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()
