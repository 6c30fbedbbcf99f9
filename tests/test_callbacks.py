"""Operators call residents back through their own phone and listen to recorded messages."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import pytest
from flask import render_template_string
from sqlmodel import Session, select

from hotline.db import line_row
from hotline.models import AuditEvent, HelpRequest, Operator, utcnow
from hotline.privacy import store_contact
from tests.conftest import LEUVEN_NUMBER, StaffClient
from tests.fake_twilio import SAMPLE_AUDIO

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

RESIDENT = "+32470555666"
OLGAS_PHONE = "+32470999888"
NUMBER_DIGITS = ("470555666", "470999888", "0470 55", "0470 99")


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


@pytest.fixture
def engine(app):
    return app.extensions["hotline.engine"]


def a_request(app, *, with_number=True, recording_sid=None, transcript=None) -> int:
    """Request 482913 (groceries in 3000) from a resident whose number is in the vault."""
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        contact = store_contact(session, settings.secrets, RESIDENT) if with_number else None
        help_request = HelpRequest(
            line_id=line_row(session, settings, "leuven").id,
            reference="482913",
            category="groceries",
            postcode="3000",
            urgency="today",
            contact_id=contact.id if contact else None,
            recording_sid=recording_sid,
            transcript=transcript,
        )
        session.add(help_request)
        session.commit()
        return help_request.id


def give_phone(app, operator_id: int, number: str = OLGAS_PHONE) -> None:
    """What the profile page does: the operator's own number goes into the vault."""
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        operator = session.get(Operator, operator_id)
        operator.contact_id = store_contact(session, settings.secrets, number).id
        session.add(operator)
        session.commit()


def flashes(client) -> list[str]:
    with client.client.session_transaction() as browser_session:
        return [message for _category, message in browser_session.get("_flashes", [])]


def audit(engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def shows_no_number(text: str) -> bool:
    return not any(digits in text for digits in (RESIDENT, OLGAS_PHONE, *NUMBER_DIGITS))


def test_an_operator_calls_a_resident_back_through_their_own_phone(
    app, engine, operator, staff, fake_twilio
):
    request_id = a_request(app)
    give_phone(app, staff["olga"])

    response = operator.post(f"/requests/{request_id}/call-back")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/requests/{request_id}"
    [call] = fake_twilio.calls
    assert call.form["To"] == OLGAS_PHONE  # the operator's phone rings first
    assert call.form["From"] == LEUVEN_NUMBER
    twiml = ET.fromstring(call.form["Twiml"])
    # Nobody is dialled yet: the operator must press 1, so a voicemail is never put through.
    assert [child.tag for child in twiml] == ["Gather", "Say", "Hangup"]
    gather = twiml.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == (
        f"https://hotline.example.org/twilio/voice/call-back/{request_id}/{staff['olga']}/confirm"
    )
    assert "4, 8, 2, 9, 1, 3" in "".join(gather.itertext())  # digit by digit
    assert "Press 1" in "".join(gather.itertext())  # olga works in English
    assert twiml.find("Dial") is None and RESIDENT not in call.form["Twiml"]
    [event] = audit(engine, "call_back")
    assert event.operator_id == staff["olga"] and event.help_request_id == request_id
    assert event.detail == {"call_sid": event.detail["call_sid"]}
    assert event.detail["call_sid"].startswith("CA")
    [message] = flashes(operator)
    assert "Your phone will ring" in message and "482913" in message
    assert shows_no_number(message)
    page = operator.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "Your phone will ring" in page
    assert shows_no_number(page)


def call_back_step(twilio, request_id: int, operator_id: int, step: str, **form: str):
    """Twilio posts one of the call-back's webhooks (signed, like every other)."""
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "1" * 32, **form}
    response = twilio.post(f"/twilio/voice/call-back/{request_id}/{operator_id}/{step}", params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.get_data())


def test_pressing_1_rings_the_resident_who_first_hears_who_is_calling(
    app, engine, operator, staff, fake_twilio, twilio
):
    request_id = a_request(app)
    give_phone(app, staff["olga"])
    operator.post(f"/requests/{request_id}/call-back")

    dial_twiml = call_back_step(twilio, request_id, staff["olga"], "confirm", Digits="1")

    dial = dial_twiml.find("Dial")
    assert dial.get("callerId") == LEUVEN_NUMBER  # the resident sees the hotline
    assert dial.get("action").endswith(f"/call-back/{request_id}/{staff['olga']}/ended")
    [number] = dial.iter("Number")
    assert number.text == RESIDENT  # only in the TwiML handed to Twilio
    assert number.get("url").endswith(f"/call-back/{request_id}/{staff['olga']}/whisper")
    whisper = call_back_step(twilio, request_id, staff["olga"], "whisper")
    assert [child.tag for child in whisper] == ["Say"]
    assert "Leuven Helpt" in "".join(whisper.itertext())
    assert "belt u terug" in "".join(whisper.itertext())  # the request was made in Dutch
    ended = call_back_step(
        twilio, request_id, staff["olga"], "ended", DialCallStatus="completed", DialBridged="true"
    )
    assert [child.tag for child in ended] == ["Say", "Hangup"]
    [result] = audit(engine, "call_back_result")
    assert result.detail == {"outcome": "connected"}
    assert result.help_request_id == request_id


def test_a_voicemail_that_picks_up_the_operators_phone_never_reaches_the_resident(
    app, engine, operator, staff, fake_twilio, twilio
):
    request_id = a_request(app)
    give_phone(app, staff["olga"])
    operator.post(f"/requests/{request_id}/call-back")

    for digits in ("", "2", "#"):  # a voicemail greeting presses nothing, or noise
        answer = call_back_step(twilio, request_id, staff["olga"], "confirm", Digits=digits)
        assert answer.find("Dial") is None
        assert [child.tag for child in answer] == ["Say", "Hangup"]
    assert [e.detail["outcome"] for e in audit(engine, "call_back_result")] == ["not_confirmed"] * 3
    assert fake_twilio.calls[0].form["To"] == OLGAS_PHONE and len(fake_twilio.calls) == 1


def test_an_unanswered_call_back_stays_on_the_list_with_its_attempts_counted(
    app, engine, operator, staff, fake_twilio, twilio
):
    from hotline.voice.callbacks import attempts

    request_id = a_request(app)
    give_phone(app, staff["olga"])
    operator.post(f"/requests/{request_id}/call-back")
    call_back_step(twilio, request_id, staff["olga"], "confirm", Digits="1")
    # Twilio cannot tell "no answer" from "declined during the whisper" by status: DialBridged.
    call_back_step(
        twilio, request_id, staff["olga"], "ended", DialCallStatus="completed", DialBridged="false"
    )
    with Session(engine) as session:
        found = attempts(session, [request_id])[request_id]
    assert (found.count, found.last_outcome) == (1, "not_answered")
    assert found.last_at.tzinfo is not None


def test_call_back_webhooks_need_twilios_signature_and_a_real_request(app, twilio, staff):
    request_id = a_request(app)
    path = f"/twilio/voice/call-back/{request_id}/{staff['olga']}/confirm"
    assert twilio.post(path, {"Digits": "1"}, signature="forged").status_code == 403
    response = twilio.post(f"/twilio/voice/call-back/999999/{staff['olga']}/confirm", {})
    assert response.status_code == 404


def test_an_operator_without_a_phone_on_file_is_sent_to_their_profile_page(
    app, engine, operator, fake_twilio
):
    request_id = a_request(app)

    response = operator.post(f"/requests/{request_id}/call-back")

    assert response.status_code == 302
    [message] = flashes(operator)
    assert "Add it on your profile page" in message
    assert fake_twilio.requests == []
    assert audit(engine, "call_back") == []


def test_a_request_without_a_number_cannot_be_called_back(
    app, engine, operator, staff, fake_twilio
):
    request_id = a_request(app, with_number=False)
    give_phone(app, staff["olga"])

    operator.post(f"/requests/{request_id}/call-back")

    [message] = flashes(operator)
    assert "no phone number on file" in message
    assert fake_twilio.requests == []


def test_twilio_refusing_the_call_gives_a_clear_message_not_an_error_page(
    app, engine, operator, staff, fake_twilio
):
    request_id = a_request(app)
    give_phone(app, staff["olga"])
    fake_twilio.fail_next(
        "Calls.json",
        status=400,
        code=21215,
        message=f"Account not authorized to call {OLGAS_PHONE}. Check your geo permissions.",
    )

    response = operator.post(f"/requests/{request_id}/call-back")

    assert response.status_code == 302
    [message] = flashes(operator)
    assert "could not be started" in message and "21215" in message
    assert shows_no_number(message)
    assert audit(engine, "call_back") == []


def test_a_telephone_service_that_cannot_be_reached_gives_a_clear_message(
    app, engine, operator, staff, fake_twilio
):
    request_id = a_request(app)
    give_phone(app, staff["olga"])
    fake_twilio.disconnect_next("Calls.json")

    response = operator.post(f"/requests/{request_id}/call-back")

    assert response.status_code == 302
    [message] = flashes(operator)
    assert "cannot be reached" in message
    assert audit(engine, "call_back") == []


def test_pressing_call_back_twice_rings_the_operator_once(
    app, engine, operator, staff, fake_twilio
):
    request_id = a_request(app)
    give_phone(app, staff["olga"])

    operator.post(f"/requests/{request_id}/call-back")
    operator.post(f"/requests/{request_id}/call-back")

    assert len(fake_twilio.calls) == 1
    assert "already being called" in flashes(operator)[-1]


def test_two_clicks_at_the_same_moment_ring_the_operator_once(
    app, engine, operator, staff, fake_twilio
):
    """Two web processes, each with a click, while Twilio takes its time to answer."""
    request_id = a_request(app)
    give_phone(app, staff["olga"])
    fake_twilio.answer_delay = 0.5
    same_operator_in_another_tab = StaffClient(app, "olga")
    clicks = [
        threading.Thread(target=client.post, args=(f"/requests/{request_id}/call-back",))
        for client in (operator, same_operator_in_another_tab)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()

    assert len(fake_twilio.calls) == 1
    assert len(audit(engine, "call_back")) == 1


def test_a_call_back_that_failed_can_be_tried_again_at_once(
    app, engine, operator, staff, fake_twilio
):
    request_id = a_request(app)
    give_phone(app, staff["olga"])
    fake_twilio.disconnect_next("Calls.json")
    operator.post(f"/requests/{request_id}/call-back")

    operator.post(f"/requests/{request_id}/call-back")

    assert len(fake_twilio.calls) == 1
    assert len(audit(engine, "call_back")) == 1


def test_a_call_back_needs_the_csrf_token(app, operator, staff, fake_twilio):
    request_id = a_request(app)
    give_phone(app, staff["olga"])

    response = operator.post(f"/requests/{request_id}/call-back", {"csrf_token": None})

    assert response.status_code == 400
    assert fake_twilio.requests == []


def test_the_recorded_message_plays_in_the_browser_and_is_never_cached(app, operator, fake_twilio):
    request_id = a_request(app, recording_sid=fake_twilio.add_recording())

    response = operator.get(f"/requests/{request_id}/recording")

    assert response.status_code == 200
    assert response.data == SAMPLE_AUDIO
    assert response.mimetype == "audio/mpeg"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_the_player_can_seek_in_the_recording(app, operator, fake_twilio):
    request_id = a_request(app, recording_sid=fake_twilio.add_recording())

    response = operator.get(f"/requests/{request_id}/recording", headers={"Range": "bytes=10-"})

    assert response.status_code == 206
    assert response.data == SAMPLE_AUDIO[10:]


def test_there_is_no_recording_page_without_a_recording(app, operator, fake_twilio):
    request_id = a_request(app)

    assert operator.get(f"/requests/{request_id}/recording").status_code == 404
    assert operator.get("/requests/999999/recording").status_code == 404
    assert fake_twilio.requests == []


def test_a_recording_deleted_at_twilio_is_not_found(app, operator, fake_twilio):
    request_id = a_request(app, recording_sid="RE" + "0" * 32)

    assert operator.get(f"/requests/{request_id}/recording").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(app, fake_twilio):
    request_id = a_request(app, recording_sid=fake_twilio.add_recording())
    browser = app.test_client()

    recording = browser.get(f"/requests/{request_id}/recording")
    login_page = browser.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    call_back = browser.post(f"/requests/{request_id}/call-back", data={"csrf_token": token})

    for response in (recording, call_back):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert fake_twilio.requests == []


def test_a_purged_request_whose_recording_is_still_at_twilio_cannot_be_played(
    app, operator, fake_twilio
):
    """The purge keeps a recording_sid whose deletion failed, to retry it; nobody listens."""
    request_id = a_request(app, recording_sid=fake_twilio.add_recording())
    assert operator.get(f"/requests/{request_id}/recording").status_code == 200
    with Session(app.extensions["hotline.engine"]) as session:
        help_request = session.get(HelpRequest, request_id)
        help_request.purged_at = utcnow()
        session.add(help_request)
        session.commit()

    assert operator.get(f"/requests/{request_id}/recording").status_code == 404
    page = operator.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "<audio" not in page


def test_the_request_page_offers_call_back_and_plays_the_message_without_numbers(
    app, operator, fake_twilio
):
    request_id = a_request(
        app,
        recording_sid=fake_twilio.add_recording(),
        transcript="Ik heb boodschappen nodig, bel me op 0470 55 56 66 alstublieft.",
    )
    panel = operator.get(f"/requests/{request_id}").get_data(as_text=True)

    assert f'action="/requests/{request_id}/call-back"' in panel
    assert 'name="csrf_token"' in panel
    assert '<audio controls preload="none"' in panel
    assert f'src="/requests/{request_id}/recording"' in panel
    assert "Ik heb boodschappen nodig, bel me op [number] alstublieft." in panel
    assert shows_no_number(panel)
    page = operator.get(f"/requests/{request_id}").get_data(as_text=True)
    assert f'src="/requests/{request_id}/recording"' in page  # the panel is on the real page
    assert shows_no_number(page)


def test_a_request_without_a_number_offers_no_call_back_button(app):
    request_id = a_request(app, with_number=False)
    with Session(app.extensions["hotline.engine"]) as session:
        help_request = session.get(HelpRequest, request_id)
    with app.test_request_context(f"/requests/{request_id}", headers={"Accept-Language": "en"}):
        panel = render_template_string(
            '{% include "calls/_panel.html" %}', help_request=help_request
        )

    assert "/call-back" not in panel
    assert "cannot be called back" in panel
    assert "<audio" not in panel
