"""Rate limits: a caller who calls too often, a sender who texts too much, logins that keep
failing from one address or for one username. Counted in the real Redis, with small limits."""

from __future__ import annotations

import itertools
import logging
import re

import pytest
from sqlmodel import Session, select

from hotline import create_app
from hotline.access.accounts import create_operator
from hotline.config import ConfigError, load_settings
from hotline.models import CallSession, Contact, SmsMessage
from hotline.voice.texts import RATE_LIMITED
from tests.conftest import LEUVEN_NUMBER, ROOT, STAFF_PASSWORD, StaffClient, Twilio
from tests.test_walking_skeleton import SHOPPING_TODAY_IN_LEUVEN, next_step_url, spoken, twiml
from tests.volunteers_helpers import make_volunteer

LIMITS = {
    "enabled": True,
    "calls_per_caller": "3 per 10 minutes; 20 per day",
    "sms_per_sender": "2 per 10 minutes",
    "logins_per_ip": "4 per minute",
    "logins_per_username": "2 per minute",
}
ANNA, BERT = "+32470112233", "+32470445566"
WELCOME = "Welkom bij Leuven Helpt"
_calls = itertools.count(1)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "limits": LIMITS}


def call(twilio: Twilio, caller: str, call_sid: str | None = None):
    """``caller`` dials the line: the first webhook of a new call."""
    params = {
        "CallSid": call_sid or f"CA{next(_calls):032x}",
        "From": caller,
        "To": LEUVEN_NUMBER,
        "AccountSid": "AC" + "0" * 32,
        "CallStatus": "ringing",
    }
    return twilio.post("/twilio/voice", params)


def refused(response) -> bool:
    """Whether the caller heard the rate-limit sentence and the line hung up."""
    root = twiml(response)
    text = spoken(root)
    return RATE_LIMITED["nl"] in text and root[-1].tag == "Hangup"


def test_a_caller_who_calls_too_often_hears_a_kind_sentence_in_every_language_and_nothing_is_kept(
    twilio, db_session
):
    for _ in range(3):
        assert WELCOME in spoken(twiml(call(twilio, ANNA)))
    contacts = db_session.exec(select(Contact)).all()

    fourth = call(twilio, ANNA, call_sid="CA" + "f" * 32)

    assert fourth.status_code == 200 and refused(fourth)
    said = spoken(twiml(fourth))
    for language in ("nl", "fr", "en"):
        assert RATE_LIMITED[language] in said
    assert "1 1 2" in RATE_LIMITED["nl"] and "1 1 2" in RATE_LIMITED["fr"]
    # The city's general number follows, for someone who needs a person.
    assert "0 1 6, 2 7, 2 0, 0 0" in said
    assert "Gather" not in fourth.get_data(as_text=True)
    refused_call = select(CallSession).where(CallSession.call_sid == "CA" + "f" * 32)
    assert db_session.exec(refused_call).all() == []
    assert db_session.exec(select(Contact)).all() == contacts


def test_another_caller_is_not_affected_by_one_who_calls_too_often(twilio):
    for _ in range(4):
        call(twilio, ANNA)
    assert refused(call(twilio, ANNA))
    assert WELCOME in spoken(twiml(call(twilio, BERT)))


def test_only_the_first_webhook_of_a_call_counts_not_its_menu_steps(twilio):
    params = {"CallSid": "CA" + "1" * 32, "From": ANNA, "To": LEUVEN_NUMBER,
              "AccountSid": "AC" + "0" * 32}  # fmt: skip
    root = twiml(twilio.post("/twilio/voice", params))
    for pressed in SHOPPING_TODAY_IN_LEUVEN:  # six menu steps: a whole request
        extra = {"Digits": pressed} if pressed else {}
        root = twiml(twilio.post(next_step_url(root), {**params, **extra}))
    assert "referentienummer" in spoken(root)

    assert not refused(call(twilio, ANNA))
    assert not refused(call(twilio, ANNA))
    assert refused(call(twilio, ANNA))


def test_a_call_whose_first_webhook_comes_twice_is_counted_once_and_never_cut_off(twilio):
    """Twilio may deliver a webhook again: the call it belongs to was already taken."""
    call(twilio, ANNA)
    call(twilio, ANNA)
    third = "CA" + "3" * 32
    assert WELCOME in spoken(twiml(call(twilio, ANNA, call_sid=third)))

    again = call(twilio, ANNA, call_sid=third)  # the limit is reached, but this call is known

    assert not refused(again) and WELCOME in spoken(twiml(again))
    assert refused(call(twilio, ANNA))  # and it was counted once: the next new call is refused


def test_forged_webhooks_are_refused_and_count_for_nobody(twilio):
    for n in range(5):
        params = {"CallSid": f"CA{n:032x}", "From": ANNA, "To": LEUVEN_NUMBER}
        assert twilio.post("/twilio/voice", params, signature="Zm9yZ2Vk").status_code == 403
    for _ in range(3):
        assert not refused(call(twilio, ANNA))


def test_a_withheld_number_is_never_refused(twilio):
    for _ in range(5):
        assert WELCOME in spoken(twiml(call(twilio, "anonymous")))


def test_a_sender_over_the_limit_gets_no_answer_nothing_is_kept_and_it_is_logged_once(
    app, twilio, db_session, caplog
):
    make_volunteer(app, db_session, mobile_number=ANNA)

    def text(n: int):
        params = {"MessageSid": f"SM{n:032x}", "From": ANNA, "To": "+32470272772",
                  "Body": "HULP", "AccountSid": "AC" + "a1" * 16}  # fmt: skip
        return twilio.post("/twilio/sms", params)

    answered = [text(1), text(2)]
    assert all("<Message" in response.get_data(as_text=True) for response in answered)
    kept = len(db_session.exec(select(SmsMessage)).all())

    with caplog.at_level(logging.INFO):
        over = [text(3), text(4), text(5)]

    for response in over:
        assert response.status_code == 200
        assert "<Message" not in response.get_data(as_text=True)
    assert len(db_session.exec(select(SmsMessage)).all()) == kept
    warnings = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert warnings == ["rate limit sms (2 per 10 minute) reached: refused until it resets"]
    assert not any(re.search(r"470\D?11", r.getMessage()) for r in caplog.records)


def test_another_sender_is_not_affected(app, twilio, db_session):
    make_volunteer(app, db_session, mobile_number=BERT)
    for n in range(3):
        twilio.post("/twilio/sms", {"MessageSid": f"SM{n:032x}", "From": ANNA,
                                    "To": "+32470272772", "Body": "HULP"})  # fmt: skip
    bert = twilio.post("/twilio/sms", {"MessageSid": "SM" + "b" * 32, "From": BERT,
                                       "To": "+32470272772", "Body": "HULP"})  # fmt: skip
    assert "<Message" in bert.get_data(as_text=True)


def login(client, username: str, password: str, address: str = "127.0.0.1"):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
        headers={"Accept-Language": "en"},
    )


def test_failed_logins_from_one_address_are_refused_for_a_while_whoever_they_try(app, staff):
    client = app.test_client()
    for name in ("ann", "bob", "cas", "dirk"):
        assert login(client, name, "not the password").status_code == 401

    refused_login = login(client, "olga", STAFF_PASSWORD)

    assert refused_login.status_code == 429
    assert "Too many failed logins. Please wait a minute" in refused_login.get_data(as_text=True)
    # The same operator, from another address, logs in.
    assert login(app.test_client(), "olga", STAFF_PASSWORD, "10.0.0.7").status_code == 302


def test_failed_logins_for_one_username_are_refused_from_any_address(app, staff):
    assert login(app.test_client(), "Olga", "wrong password", "10.0.0.1").status_code == 401
    assert login(app.test_client(), "olga", "wrong password", "10.0.0.2").status_code == 401

    assert login(app.test_client(), "olga", STAFF_PASSWORD, "10.0.0.3").status_code == 429
    assert login(app.test_client(), "cor", STAFF_PASSWORD, "10.0.0.3").status_code == 302


def test_good_logins_do_not_count(app, staff):
    for _ in range(6):  # a shift starting behind one address
        assert login(app.test_client(), "olga", STAFF_PASSWORD).status_code == 302


def test_when_redis_is_down_callers_are_answered_and_operators_log_in(app_config):
    down = create_app({**app_config, "redis_url": "redis://127.0.0.1:1/0"})
    with Session(down.extensions["hotline.engine"]) as session:
        create_operator(session, username="olga", display_name="Olga", password=STAFF_PASSWORD)
    twilio = Twilio(down)

    assert WELCOME in spoken(twiml(call(twilio, ANNA)))
    StaffClient(down, "olga")  # logs in (302) or fails the test
    # Counted in memory meanwhile: a caller calling over and over still hears the sentence.
    call(twilio, ANNA)
    call(twilio, ANNA)
    assert refused(call(twilio, ANNA))
    down.extensions["hotline.engine"].dispose()


def test_a_rate_that_cannot_be_read_is_refused_naming_the_key_and_the_file(tmp_path):
    config = tmp_path / "config.toml"
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    config.write_text(
        text.replace('sms_per_sender = "20 per 10 minutes"', 'sms_per_sender = "lots"')
    )

    with pytest.raises(ConfigError) as error:
        load_settings({"config_file": config, "instance_path": str(tmp_path)}, environ={})

    assert str(config) in str(error.value)
    assert re.search(r"line \d+: key 'limits.sms_per_sender': must be a rate", str(error.value))


def test_rate_limits_can_be_switched_off_from_the_environment(tmp_path):
    settings = load_settings(
        {"config_file": ROOT / "config.toml", "instance_path": str(tmp_path)},
        environ={"HOTLINE_RATE_LIMITS": "false"},
    )
    assert settings.limits.enabled is False
    assert settings.limits.calls_per_caller == "10 per 10 minutes; 30 per day"
