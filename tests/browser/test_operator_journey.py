"""An operator's shift in a real browser: a call arrives, is triaged and handed to a volunteer."""

from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from hotline.access.accounts import create_operator
from hotline.models import Volunteer, utcnow
from hotline.privacy import store_contact
from tests.conftest import LEUVEN_NUMBER, STAFF_PASSWORD

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("HOTLINE_SCREENSHOTS")  # a folder: also save README screenshots


def post_signed(app, path: str, params: dict[str, str]) -> ET.Element:
    """POST a webhook to the live server exactly as Twilio would, signature included."""
    url = app.base_url + path
    token = app.extensions["hotline.settings"].secrets.twilio_auth_token
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return ET.fromstring(response.read())


def phone_in(app, keys: list[str]) -> str:
    """A resident calls and presses ``keys``; returns the reference the IVR read out."""
    params = {"CallSid": "CA" + "7" * 32, "From": "+32470123456", "To": LEUVEN_NUMBER}
    answer = post_signed(app, "/twilio/voice", params)
    for pressed in keys:
        action = [e.get("action") for e in answer.iter() if e.get("action")][-1]
        answer = post_signed(app, action, {**params, **({"Digits": pressed} if pressed else {})})
    spoken = " ".join(t.strip() for t in answer.itertext() if t.strip())
    return "".join(re.search(r"((?:\d[ ,.]*){6})", spoken).group(1).split()).replace(",", "")


def shoot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def test_an_operator_sees_a_call_arrive_triages_it_and_assigns_a_suggested_volunteer(
    live_app, page
):
    with Session(live_app.extensions["hotline.engine"]) as session:
        create_operator(session, username="olga", display_name="Olga Peeters",
                        password=STAFF_PASSWORD, locale="en")  # fmt: skip
        from hotline.db import line_row

        line = line_row(session, live_app.extensions["hotline.settings"], "leuven")
        contact = store_contact(session, live_app.extensions["hotline.settings"].secrets,
                                "+32470555666")  # fmt: skip
        session.add(Volunteer(line_id=line.id, name="Marie Claes", contact_id=contact.id,
                              postcode="3000", languages=["nl", "fr"], skills=["groceries", "meal"],
                              safety_accepted_at=utcnow()))  # fmt: skip
        session.commit()

    # The browser speaks Flemish, so the login page does; after logging in, the pages
    # follow Olga's own choice (English).
    page.goto(live_app.base_url + "/login")
    page.get_by_label("Gebruikersnaam").fill("olga")
    page.get_by_label("Wachtwoord").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url("**/requests/")
    assert page.get_by_text("Nothing waiting.").is_visible()

    # A resident phones in: Dutch, I need help, groceries, 3000, today, no message.
    reference = phone_in(live_app, ["1", "1", "1", "3000", "1", ""])
    row = page.locator(f'tr[data-reference="{reference}"]')
    row.wait_for(timeout=10_000)  # appears by itself: nobody pressed reload
    assert "today" in row.inner_text()
    shoot(page, "queue")

    row.get_by_role("link", name=reference).click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    page.get_by_label("Notes").fill("Needs bread and her prescription from the pharmacy.")
    page.get_by_role("button", name="Save triage").click()
    page.get_by_text("Saved.").wait_for()
    assert page.locator("h1 .badge").first.inner_text() == "triaged"

    suggestion = page.locator(".suggestion", has_text="Marie Claes")
    assert "same postcode" in suggestion.inner_text()
    suggestion.get_by_role("button", name="Assign").click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    assert page.locator("h1 .badge").first.inner_text() == "assigned"
    assert "Olga Peeters" in page.locator(".history").inner_text()
    shoot(page, "request")
    assert "470123456" not in page.content() and "470555666" not in page.content()

    page.goto(live_app.base_url + "/dashboard/")
    shoot(page, "dashboard")


def test_an_operator_finds_a_volunteer_beyond_the_suggestions_and_assigns_them(live_app, page):
    from hotline.db import line_row
    from hotline.intake import create_help_request

    settings = live_app.extensions["hotline.settings"]
    with Session(live_app.extensions["hotline.engine"]) as session:
        create_operator(session, username="olga", display_name="Olga Peeters",
                        password=STAFF_PASSWORD, locale="en")  # fmt: skip
        line = line_row(session, settings, "leuven")
        for number in range(20):  # the neighbours fill the suggestions
            session.add(Volunteer(line_id=line.id, name=f"Neighbour {number:02d}",
                                  postcode="3000", languages=["nl"], skills=["groceries"],
                                  safety_accepted_at=utcnow()))  # fmt: skip
        contact = store_contact(session, settings.secrets, "+32470555777")
        session.add(Volunteer(line_id=line.id, name="Zeno Vandenberghe", contact_id=contact.id,
                              postcode="2000", languages=["fr"], skills=["dog"],
                              safety_accepted_at=utcnow()))  # fmt: skip
        help_request = create_help_request(session, line=line, contact=None,
                                           postcode="3000", category="groceries")  # fmt: skip
        session.commit()
        request_id = help_request.id

    page.goto(live_app.base_url + "/login")
    page.get_by_label("Gebruikersnaam").fill("olga")
    page.get_by_label("Wachtwoord").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url("**/requests/")
    page.goto(f"{live_app.base_url}/requests/{request_id}")
    assert page.locator(".suggestion").count() == 5
    assert "Zeno" not in page.content()

    page.get_by_text("more suggestions, or find any volunteer").click()
    page.get_by_label("Find a volunteer").fill("vanden")  # htmx asks while she types
    found = page.locator("#volunteer-search-results .suggestion", has_text="Zeno Vandenberghe")
    found.wait_for()
    assert "lives elsewhere (2000)" in found.inner_text()
    found.get_by_role("button", name="Assign").click()
    page.wait_for_url(re.compile(rf".*/requests/{request_id}$"))
    assert page.locator("h1 .badge").first.inner_text() == "assigned"
    assert "Zeno Vandenberghe" in page.locator(".assignments").inner_text()
    assert "470555777" not in page.content()
