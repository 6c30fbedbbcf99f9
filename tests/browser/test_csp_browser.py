"""The call centre under its Content-Security-Policy, in a real Chromium.

A coordinator opens every staff page of a demo-like call centre: no page may make the
browser report a policy violation, and the live parts still work: the queue refreshes
itself, a form is sent, the recorded message loads, the volunteers panel waits while used.
"""

from __future__ import annotations

import io
import re
import time
import wave

import pytest
from sqlmodel import Session, select

from hotline.db import line_row
from hotline.demo_data import DEMO_LOGIN, create_demo_data, create_demo_login
from hotline.intake import create_help_request
from hotline.models import HelpRequest, Volunteer

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

# Blueprints that answer JSON, text or files, not pages.
NOT_PAGES = ("api", "observability", "static", "ui")
# Every violation, also those of elements that htmx swaps in later, reaches the console.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


def until(page, expression: str, timeout: float = 10.0, what: str = "") -> None:
    """Wait until ``expression`` is true in the page. (Playwright's wait_for_function evals
    its predicate inside the page, which this very policy forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"{what} still not true after {timeout} s: {expression}"
        page.wait_for_timeout(100)


def a_second_of_sound() -> bytes:
    """A real (silent) WAV file, so that Chromium can read the recording's length."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 8000)
    return buffer.getvalue()


def demo_call_centre(app, fake_twilio) -> dict[str, int]:
    """What `hotline demo` shows, plus a request with a recorded message."""
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        create_demo_login(session)
        create_demo_data(session, settings)
        recorded = create_help_request(
            session,
            line=line_row(session, settings, "leuven"),
            contact=None,
            language="nl",
            category="talk",
            postcode="3000",
            urgency="soon",
        )
        recorded.recording_sid = fake_twilio.add_recording(a_second_of_sound())
        session.add(recorded)
        session.commit()
        return {
            "request_id": recorded.id,
            "volunteer_id": session.exec(select(Volunteer.id)).first(),
        }


def staff_pages(app, ids: dict[str, int]) -> list[str]:
    """Every page a logged-in coordinator can open, from the app's own URL map."""
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.split(".")[0] in NOT_PAGES:
            continue
        if rule.endpoint in ("auth.login", "calls.recording", "live_calls.taken", "favicon"):
            continue  # the login page is opened first; the others are no pages
        if set(rule.arguments) <= set(ids):
            pages.append(rule.build({name: ids[name] for name in rule.arguments})[1])
    return sorted(pages)


def test_every_staff_page_runs_under_the_policy_and_its_live_parts_still_work(
    live_app, page, fake_twilio
):
    ids = demo_call_centre(live_app, fake_twilio)
    reports: list[str] = []
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and ("Content Security Policy" in message.text or "CSP violation" in message.text)
            and reports.append(f"{page.url}: {message.text}")
        ),
    )
    page.on("pageerror", lambda error: reports.append(f"{page.url}: {error}"))
    page.add_init_script(REPORT_VIOLATIONS)

    page.goto(live_app.base_url + "/login")
    username, password = DEMO_LOGIN
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("button.primary[type=submit]").click()  # not the language switch
    page.wait_for_url("**/requests/")
    # The demo account speaks Dutch; this walk reads the English words (one click, a form).
    page.locator("button[name=language][value=en]").click()
    page.wait_for_url("**/requests/")

    pages = staff_pages(live_app, ids)
    assert "/requests/" in pages and f"/requests/{ids['request_id']}" in pages
    for path in pages:
        page.goto(live_app.base_url + path)
        until(page, "window.htmx !== undefined", what=path)
        page.wait_for_timeout(300)  # the first polls of the page have been answered
        # htmx put no <style> of its own into the page: its indicator styles are in ours.
        assert page.evaluate("document.querySelectorAll('style').length") == 0, path
    assert reports == []

    # The queue refreshes itself: a call that arrives now shows up without a reload.
    page.goto(live_app.base_url + "/requests/")
    page.evaluate("window.stillTheSamePage = true")
    settings = live_app.extensions["hotline.settings"]
    with Session(live_app.extensions["hotline.engine"]) as session:
        arrived = create_help_request(
            session,
            line=line_row(session, settings, "leuven"),
            contact=None,
            language="fr",
            category="meal",
            postcode="3010",
            urgency="today",
        )
        session.commit()
        reference = arrived.reference
    page.locator(f'tr[data-reference="{reference}"]').wait_for(timeout=10_000)
    assert page.evaluate("window.stillTheSamePage") is True

    # The recorded message loads in the <audio> element, through the app's own proxy.
    page.goto(live_app.base_url + f"/requests/{ids['request_id']}")
    page.evaluate("document.querySelector('audio.recording').load()")
    until(page, "document.querySelector('audio.recording').readyState >= 1")
    assert page.evaluate("document.querySelector('audio.recording').duration") == pytest.approx(1)

    # A form is sent (form-action 'self'): the triage notes, under their reminder.
    notes = page.get_by_label("Notes")
    assert "no names, addresses or phone numbers" in page.locator("#t-notes-hint").inner_text()
    notes.fill("Wil graag een praatje, liefst in de voormiddag.")
    page.get_by_role("button", name="Save triage").click()
    page.locator(".flash", has_text="Saved.").wait_for()
    with Session(live_app.extensions["hotline.engine"]) as session:
        saved = session.get(HelpRequest, ids["request_id"])
        assert saved.notes == "Wil graag een praatje, liefst in de voormiddag."

    # The volunteers panel refreshes every 5 s, but not while the operator is in it.
    panel = page.locator("#assignment-panel")
    page.evaluate("document.getElementById('assignment-panel').dataset.drawn = 'first'")
    panel.get_by_role("button", name=re.compile("Assign")).first.focus()
    page.wait_for_timeout(6_500)
    assert page.evaluate("document.getElementById('assignment-panel').dataset.drawn") == "first"
    page.evaluate("document.activeElement.blur()")
    until(page, "document.getElementById('assignment-panel').dataset.drawn === undefined", 8)
    assert reports == []
