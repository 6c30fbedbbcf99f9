"""axe-core on every page of the call centre, in every language (issue #11).

A coordinator of the demo call centre opens every staff page (the app's own URL map, as
the CSP walk does), the login page and an error page, in Dutch, French and English;
axe-core (the copy shipped in the ``axe-playwright-python`` package, injected into each
page by Playwright) must report no violation on any of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hotline import vocabulary
from hotline.demo_data import DEMO_LOGIN
from tests.browser.test_csp_browser import demo_call_centre, staff_pages, until

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

# What axe checks: WCAG 2.1 A and AA, and its best practices (landmarks, headings, ...).
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's script, from the test extra ``axe-playwright-python`` (no download)."""
    axe_playwright = pytest.importorskip("axe_playwright_python")
    return (Path(axe_playwright.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


def violations(page, axe_source: str) -> list[str]:
    """axe-core's violations on the page as it is now: "rule (impact): element, ..."."""
    # Evaluated through the DevTools protocol, so the page's CSP (no eval) does not apply.
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    found = page.evaluate(f"axe.run(document, {json.dumps(AXE_OPTIONS)})")
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']}: "
        + ", ".join(" ".join(node["target"]) for node in rule["nodes"][:5])
        for rule in found["violations"]
    ]


def log_in(page, base_url: str) -> None:
    page.goto(base_url + "/login")
    username, password = DEMO_LOGIN
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("button.primary[type=submit]").click()
    page.wait_for_url("**/requests/")


def test_axe_finds_nothing_on_any_page_in_any_language(live_app, page, fake_twilio, axe_source):
    ids = demo_call_centre(live_app, fake_twilio)
    pages = staff_pages(live_app, ids)
    assert len(pages) > 15
    found: dict[str, list[str]] = {}

    page.goto(live_app.base_url + "/login")
    found["login (nl)"] = violations(page, axe_source)
    log_in(page, live_app.base_url)
    for language in vocabulary.LANGUAGES:
        page.goto(live_app.base_url + "/requests/")
        if page.locator(f"button[name=language][value={language}]").count():
            page.locator(f"button[name=language][value={language}]").click()
            page.wait_for_url("**/requests/")
        assert page.evaluate("document.documentElement.lang") == language
        for path in [*pages, "/no-such-page"]:
            page.goto(live_app.base_url + path)
            until(page, "window.htmx !== undefined", what=path)
            page.wait_for_timeout(200)  # the first polls of the page have been answered
            problems = violations(page, axe_source)
            if problems:
                found[f"{path} ({language})"] = problems

        # States a page is in after some work: the skip link in view, a form sent back with
        # its mistakes marked, the volunteers panel with an offer and its SMS, the search.
        page.goto(live_app.base_url + "/requests/new")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        found[f"skip link (in view, {language})"] = violations(page, axe_source)
        page.locator("form.card button.primary[type=submit]").click()
        page.locator("form.card .flash.error").first.wait_for()
        found[f"/requests/new sent back ({language})"] = violations(page, axe_source)
        page.goto(f"{live_app.base_url}/requests/{ids['request_id']}")
        if page.locator(".suggestion button.primary").count():
            page.locator(".suggestion button.primary").first.click()
        page.locator("#assignment-panel .assignment").first.wait_for()
        page.locator("details.other-volunteers summary").click()
        page.locator("#volunteer-search").fill("a")
        page.wait_for_timeout(800)
        found[f"request with an offer ({language})"] = violations(page, axe_source)

    found = {where: problems for where, problems in found.items() if problems}
    assert found == {}, "\n".join(f"{where}: {problems}" for where, problems in found.items())
