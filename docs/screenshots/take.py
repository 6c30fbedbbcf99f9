"""The README's screenshots, from the demo as a new user sees it (the demo account speaks
Dutch): `.venv/bin/python docs/screenshots/take.py` (Debian's Chromium, Playwright).

Starts `hotline demo` on a free port with an instance folder of its own, logs in with the
demo account, and saves queue.png, request.png and dashboard.png beside this file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the demo stopped (exit {process.returncode})")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the demo did not answer {url} within {seconds} s")


def main() -> None:
    """Run the demo, log in, take the three pictures, stop the demo."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as instance:
        environment = {**os.environ, "HOTLINE_INSTANCE_PATH": instance}
        demo = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "demo", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"{base}/health", demo)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "demo")
                page.fill("input[name=password]", "leuven-helpt-demo")
                page.locator("form:has(input[name=password]) [type=submit]").click()
                page.wait_for_url(f"{base}/requests/**")
                page.screenshot(path=HERE / "queue.png")
                page.locator("main a[href^='/requests/']").first.click()
                page.wait_for_load_state("networkidle")
                page.screenshot(path=HERE / "request.png", full_page=True)
                page.goto(f"{base}/dashboard/")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=HERE / "dashboard.png", full_page=True)
                browser.close()
        finally:
            demo.terminate()
            demo.wait(timeout=30)


if __name__ == "__main__":
    main()
