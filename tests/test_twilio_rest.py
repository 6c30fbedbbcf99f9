"""The real twilio client, pointed at a local fake of Twilio's REST API by configuration."""

from __future__ import annotations

import logging
import socket
import xml.etree.ElementTree as ET

import pytest

from hotline import create_app
from hotline.telephony import TelephonyError, Voice
from tests.conftest import LEUVEN_NUMBER
from tests.fake_twilio import ACCOUNT_SID, SAMPLE_AUDIO

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

VOLUNTEER = "+32470111222"
OPERATOR = "+32470999888"


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


@pytest.fixture
def provider(app):
    return app.extensions["hotline.telephony"]


def test_an_sms_reaches_the_configured_twilio_server_with_the_account_credentials(
    provider, fake_twilio
):
    sid = provider.send_sms(to=VOLUNTEER, from_=LEUVEN_NUMBER, body="Leuven Helpt: test")

    [sms] = fake_twilio.messages
    assert sid.startswith("SM") and len(sid) == 34
    assert sms.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sms.form["To"] == VOLUNTEER
    assert sms.form["From"] == LEUVEN_NUMBER
    assert sms.form["Body"] == "Leuven Helpt: test"
    assert sms.headers["User-Agent"].startswith("twilio-python/")  # the real client


def test_a_call_is_started_with_the_twiml_it_should_run(provider, fake_twilio):
    twiml = "<Response><Say>Hallo</Say></Response>"

    sid = provider.create_call(to=OPERATOR, from_=LEUVEN_NUMBER, twiml=twiml, timeout=25)

    [call] = fake_twilio.calls
    assert sid.startswith("CA")
    assert call.form == {"To": OPERATOR, "From": LEUVEN_NUMBER, "Twiml": twiml, "Timeout": "25"}


def test_an_operator_phone_is_rung_with_a_url_to_fetch_and_a_status_callback(
    provider, fake_twilio
):
    sid = provider.create_call(
        to=OPERATOR,
        from_=LEUVEN_NUMBER,
        url="https://hotline.example.org/twilio/voice/operator/answered?ring=7",
        timeout=65,
        status_callback="https://hotline.example.org/twilio/voice/operator/status?ring=7",
    )

    [call] = fake_twilio.calls
    assert call.form == {
        "To": OPERATOR,
        "From": LEUVEN_NUMBER,
        "Url": "https://hotline.example.org/twilio/voice/operator/answered?ring=7",
        "Method": "POST",
        "Timeout": "65",
        "StatusCallback": "https://hotline.example.org/twilio/voice/operator/status?ring=7",
        "StatusCallbackMethod": "POST",
    }
    assert fake_twilio.call_status(sid) == "queued"


def test_a_ringing_call_is_cancelled_and_an_answered_one_left_alone(provider, fake_twilio):
    ringing = provider.create_call(to=OPERATOR, from_=LEUVEN_NUMBER, twiml="<Response/>")
    answered = provider.create_call(to=VOLUNTEER, from_=LEUVEN_NUMBER, twiml="<Response/>")
    fake_twilio.answer_call(answered)

    provider.cancel_call(ringing)
    provider.cancel_call(answered)
    provider.cancel_call(ringing)  # over already: nothing to do, no error

    assert fake_twilio.call_status(ringing) == "canceled"
    assert fake_twilio.call_status(answered) == "in-progress"
    assert fake_twilio.canceled_calls == [ringing]
    update = [r for r in fake_twilio.requests if r.resource == f"{ringing}.json"][0]
    assert (update.method, update.form) == ("POST", {"Status": "canceled"})


def test_cancelling_a_call_twilio_does_not_know_is_no_error(provider, fake_twilio):
    provider.cancel_call("CA" + "0" * 32)


def test_a_twilio_that_fails_to_cancel_says_so(provider, fake_twilio):
    sid = provider.create_call(to=OPERATOR, from_=LEUVEN_NUMBER, twiml="<Response/>")
    fake_twilio.fail_next(f"Calls/{sid}", status=503, code=20003, message="Service unavailable")
    with pytest.raises(TelephonyError) as refused:
        provider.cancel_call(sid)
    assert (refused.value.status, refused.value.permanent) == (503, False)


def test_a_recording_comes_back_byte_for_byte(provider, fake_twilio):
    recording_sid = fake_twilio.add_recording()

    audio, content_type = provider.fetch_recording(recording_sid)

    assert audio == SAMPLE_AUDIO
    assert content_type == "audio/mpeg"
    [download] = fake_twilio.requests
    assert download.method == "GET" and download.authenticated
    assert download.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}.mp3"


def test_a_recording_twilio_does_not_have_is_not_found(provider, fake_twilio):
    with pytest.raises(TelephonyError) as raised:
        provider.fetch_recording("RE" + "0" * 32)
    assert raised.value.not_found


def test_a_malformed_recording_sid_never_reaches_twilio(provider, fake_twilio):
    with pytest.raises(TelephonyError) as raised:
        provider.fetch_recording("../Calls")
    assert raised.value.not_found
    assert fake_twilio.requests == []


def test_twilio_refusing_a_number_gives_one_clear_error_without_the_number(provider, fake_twilio):
    # Twilio's own message quotes the number it did not accept.
    with pytest.raises(TelephonyError) as raised:
        provider.send_sms(to="0470111222", from_=LEUVEN_NUMBER, body="test")

    error = raised.value
    assert (error.status, error.code) == (400, 21211)
    assert "refused to send an SMS" in str(error)
    assert "0470111222" not in str(error) and "[number]" in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # no number in a traceback


def test_a_twilio_error_carries_its_status_and_code(provider, fake_twilio):
    fake_twilio.fail_next("Calls.json", status=503, code=20503, message="Service unavailable")

    with pytest.raises(TelephonyError) as raised:
        provider.create_call(to=OPERATOR, from_=LEUVEN_NUMBER, twiml="<Response/>")

    assert (raised.value.status, raised.value.code) == (503, 20503)
    assert "Service unavailable" in str(raised.value)


def test_wrong_credentials_are_refused_like_twilio_does(app_config, fake_twilio):
    config = {**app_config, "secrets": {**app_config["secrets"], "twilio_auth_token": "0" * 32}}
    app = create_app(config)
    try:
        with pytest.raises(TelephonyError) as raised:
            app.extensions["hotline.telephony"].send_sms(
                to=VOLUNTEER, from_=LEUVEN_NUMBER, body="test"
            )
    finally:
        app.extensions["hotline.engine"].dispose()
    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert fake_twilio.messages == []


def test_a_twilio_that_cannot_be_reached_is_a_clear_error(app_config):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app = create_app({**app_config, "twilio_api_base_url": f"http://127.0.0.1:{port}"})
    try:
        with pytest.raises(TelephonyError) as raised:
            app.extensions["hotline.telephony"].send_sms(
                to=VOLUNTEER, from_=LEUVEN_NUMBER, body="test"
            )
    finally:
        app.extensions["hotline.engine"].dispose()
    assert "could not be reached" in str(raised.value)
    assert raised.value.status is None


def test_twilio_request_logging_stays_off(provider, fake_twilio, caplog):
    caplog.set_level(logging.DEBUG)

    provider.send_sms(to=VOLUNTEER, from_=LEUVEN_NUMBER, body="Leuven Helpt: test")

    assert [r for r in caplog.records if r.name.startswith("twilio")] == []
    assert VOLUNTEER not in caplog.text
    assert "Leuven Helpt: test" not in caplog.text


def test_connect_says_who_then_dials_with_the_line_number_and_a_screen(provider):
    twiml = provider.connect(
        intro="Een ogenblik, we bellen de bewoner.",
        voice=Voice(language="nl-BE", voice="Google.nl-BE-Wavenet-A"),
        caller_id=LEUVEN_NUMBER,
        number=VOLUNTEER,
        screen_url="https://hotline.example.org/twilio/voice/screen",
        action_url="https://hotline.example.org/twilio/voice/ended",
        timeout=45,
    )

    root = ET.fromstring(twiml)
    assert [child.tag for child in root] == ["Say", "Dial"]
    say, dial = root[0], root[1]
    assert say.get("language") == "nl-BE" and say.get("voice") == "Google.nl-BE-Wavenet-A"
    assert dial.get("callerId") == LEUVEN_NUMBER
    assert (dial.get("timeout"), dial.get("answerOnBridge")) == ("45", "true")
    [number] = dial.iter("Number")
    assert number.text == VOLUNTEER
    assert number.get("url") == "https://hotline.example.org/twilio/voice/screen"
