"""A call an operator answers, in a real browser: the card comes by itself, the form keeps up.

Olga works in the queue; a resident phones, walks the menu and presses 0; her phone
rings and she answers. The card appears on her page without a reload, she types notes
while the caller talks (the polling never steals her keyboard, not even when the
caller hangs up), corrects the form and saves: the request is in the queue.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from hotline.access.accounts import create_operator
from hotline.models import Operator
from hotline.privacy import store_contact
from tests.browser.test_operator_journey import post_signed, shoot
from tests.conftest import LEUVEN_NUMBER, STAFF_PASSWORD
from tests.test_live_calls_ui import CALLER, OLGAS_PHONE, shows_no_number, write_config

pytestmark = pytest.mark.browser
CALL_SID = "CA" + "5" * 32


@pytest.fixture
def app_config(app_config, tmp_path):
    """The line open day and night, ringing Olga's phone when a caller presses 0."""
    return {**app_config, "config_file": write_config(tmp_path / "open")}


def olga_with_her_phone(app) -> None:
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        olga = create_operator(session, username="olga", display_name="Olga Peeters",
                               password=STAFF_PASSWORD, locale="en")  # fmt: skip
        olga = session.get(Operator, olga.id)
        olga.contact_id = store_contact(session, settings.secrets, OLGAS_PHONE).id
        session.add(olga)
        session.commit()


def a_caller_presses_0_and_olga_answers(app) -> None:
    """Dutch, I need help, groceries, 3000, then 0 at the urgency; Olga's phone picks up."""
    params = {"CallSid": CALL_SID, "From": CALLER, "To": LEUVEN_NUMBER}
    answer = post_signed(app, "/twilio/voice", params)
    for pressed in ["1", "1", "1", "3000", "0"]:
        action = [e.get("action") for e in answer.iter() if e.get("action")][-1]
        answer = post_signed(app, action, {**params, "Digits": pressed})
    assert answer.find("Enqueue") is not None  # the caller waits; the line rings the phones
    # Olga's phone (the line's first, ring 1) picks up: Twilio fetches the leg's Url (the
    # REST call itself is tests/test_gentle_wait.py's), then puts her through to the caller.
    leg = {"CallSid": "CA" + "6" * 32, "From": LEUVEN_NUMBER, "To": OLGAS_PHONE,
           "Direction": "outbound-api"}  # fmt: skip
    whisper = post_signed(app, "/twilio/voice/operator/answered?ring=1", leg)
    queue = whisper.find("Dial/Queue")
    post_signed(app, queue.get("url"), {**params, "DequeingCallSid": leg["CallSid"]})


def hangs_up(app) -> None:
    """The resident puts the phone down: Twilio's status callback, signed."""
    url = app.base_url + "/twilio/voice/status"
    params = {"CallSid": CALL_SID, "From": CALLER, "To": LEUVEN_NUMBER, "CallStatus": "completed"}
    token = app.extensions["hotline.settings"].secrets.twilio_auth_token
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def test_an_operator_answers_a_call_and_saves_it_from_the_card_without_a_reload(live_app, page):
    olga_with_her_phone(live_app)
    page.goto(live_app.base_url + "/login")
    page.get_by_label("Gebruikersnaam").fill("olga")
    page.get_by_label("Wachtwoord").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url("**/requests/")
    page.evaluate("window.stillTheSamePage = true")
    # htmx read the page's settings: a form sent back with its mistakes (422) is shown.
    assert page.evaluate("htmx.config.responseHandling.some(r => r.code === '422' && r.swap)")

    a_caller_presses_0_and_olga_answers(live_app)

    card = page.locator("article.live-call")
    card.wait_for(timeout=10_000)  # by itself: nobody pressed reload
    assert page.evaluate("window.stillTheSamePage") is True
    assert card.get_by_role("heading", name="Live call").is_visible()
    facts = card.locator("dl.facts").inner_text()
    assert "Dutch" in facts and "groceries or pharmacy" in facts and "3000 Leuven" in facts
    # (A locator, not wait_for_function: that evals in the page, which the CSP forbids.)
    page.locator("#live-calls-news", has_text="Live call:").wait_for(state="attached")
    assert page.get_by_role("region", name="Calls you answered").is_visible()
    shoot(page, "live-call")

    # Olga types while the resident talks; the page polls every 2 seconds meanwhile.
    notes = card.get_by_label("Notes")
    notes.click()
    page.keyboard.type("Needs bread, milk ", delay=20)
    page.wait_for_timeout(4_500)
    page.keyboard.type("and ", delay=20)  # into whatever has the focus: still her notes
    # The resident hangs up while she is still typing: the card says so, her text stays.
    hangs_up(live_app)
    card.get_by_role("heading", name="Call taken, not logged").wait_for(timeout=10_000)
    assert page.evaluate("document.activeElement.id") == notes.get_attribute("id")
    page.keyboard.type("her prescription.", delay=20)
    assert notes.input_value() == "Needs bread, milk and her prescription."
    assert card.get_by_role("button", name="Dismiss").is_visible()

    # She corrects what the menu collected and completes the request.
    card.get_by_label("Area").select_option("3010")
    card.get_by_label("Urgency").select_option("today")
    card.get_by_role("button", name="Complete").click()

    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    saved = page.locator(".flash").first.inner_text()
    reference = re.search(r"Request (\d{6}) saved\.", saved).group(1)
    assert "3010 Kessel-Lo" in page.locator("dl.facts").first.inner_text()
    assert page.get_by_label("Notes").input_value() == "Needs bread, milk and her prescription."
    shoot(page, "live-call-saved")

    page.get_by_role("link", name="Queue").click()
    row = page.locator(f'tr[data-reference="{reference}"]')
    row.wait_for()
    assert "taken live" in row.inner_text() and "today" in row.inner_text()
    page.wait_for_timeout(2_500)  # a poll or two: the card of the saved call is gone
    assert page.locator("article.live-call").count() == 0
    assert shows_no_number(page.content())
