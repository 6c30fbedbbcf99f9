"""A live server and Debian's Chromium driven by Playwright (it cannot download its own here)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from hotline import create_app

CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM") or shutil.which("chromium") or ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_app(app_config):
    """The app served on a real port; webhooks are signed for this address."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app({**app_config, "public_base_url": base_url})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.base_url = base_url
    yield app
    server.shutdown()
    app.extensions["hotline.engine"].dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium from Debian's package."""
    if not CHROMIUM:
        message = "the browser tests need Debian's chromium: sudo apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser there is a failure
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (own cookies) at a laptop's size."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="nl-BE")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
