"""Hypothesis against every Twilio webhook: hostile forms never get a 5xx or store anything.

Twilio signs what it sends, but a signed request can still carry anything: a field
missing, a megabyte of text, emoji, numbers out of any range, a CallSid of the wrong
shape, a status nobody knows, a query string on an action URL. Every such request
is answered with TwiML (or an empty 2xx) or with a 4xx, and a 4xx leaves every table
as it was: no call, no message, no outbox row. A request that is not signed gets 403
and writes nothing. The routes come from ``app.url_map``: a new webhook is fuzzed too.
"""

from __future__ import annotations

import re
import string
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel
from twilio.request_validator import RequestValidator

from hotline.http_bounds import MAX_ID
from tests.conftest import PUBLIC_BASE_URL

SETTINGS = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

HEX = "0123456789abcdef"
# Text of every kind but lone surrogates (no HTTP client can send those).
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
HOSTILE = st.one_of(
    ANY_TEXT,
    st.just(""),
    st.integers(-(2**80), 2**80).map(str),
    st.sampled_from(["²", "١٢", "1e400", "NaN", "-0", " 1", "0x10", "\x00", "%00", "<Say>"]),
    st.sampled_from(["9" * 20, "x" * 5_000, "é" * 20_000, "<" * 1_000]),
)


def _sid(prefix: str):
    """Well-formed sids (a few, so that requests meet again) and malformed ones."""
    good = st.sampled_from([prefix + c * 32 for c in "0a1f"])
    return st.one_of(
        good,
        good,
        good,
        good,
        st.text(HEX, min_size=31, max_size=33).map(lambda rest: prefix + rest),
        st.text(HEX.upper(), min_size=32, max_size=32).map(lambda rest: prefix.lower() + rest),
        st.just(prefix + "g" * 32),
        HOSTILE,
    )


def _form(line_numbers: list[str]):
    number = st.one_of(st.sampled_from(line_numbers), HOSTILE)
    statuses = [
        "queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
        "canceled", "sent", "delivered", "undelivered", "received", "read", "accepted",
    ]  # fmt: skip
    known = st.sampled_from(statuses)
    status = st.one_of(known, known, known, known.map(str.upper), HOSTILE)
    fields = {
        "CallSid": _sid("CA"),
        "ParentCallSid": _sid("CA"),
        "MessageSid": _sid("SM"),
        "SmsSid": _sid("SM"),
        "RecordingSid": _sid("RE"),
        "RecordingUrl": st.one_of(
            _sid("RE").map(lambda sid: f"https://api.twilio.com/Recordings/{sid}"), HOSTILE
        ),
        "From": number,
        "To": number,
        "Digits": st.one_of(st.text("0123456789*#", max_size=12), HOSTILE),
        "SpeechResult": HOSTILE,
        "CallStatus": status,
        "DialCallStatus": status,
        "DialBridged": st.one_of(st.sampled_from(["true", "false", "True"]), HOSTILE),
        "TranscriptionStatus": st.one_of(st.sampled_from(["completed", "failed"]), HOSTILE),
        "TranscriptionText": HOSTILE,
        "Body": st.one_of(
            st.sampled_from(["JA 4821", "NEE 4821", "KLAAR 4821", "STOP", "HULP", "ja"]), HOSTILE
        ),
        "MessageStatus": status,
        "SmsStatus": status,
        "ErrorCode": HOSTILE,
        "MessagingServiceSid": _sid("MG"),
        "OptOutType": st.one_of(st.sampled_from(["STOP", "START", "HELP"]), HOSTILE),
    }
    # Half of the forms look like Twilio's (the sids and numbers a webhook needs are well
    # formed), so that the fuzzing gets past the first checks into the use cases.
    plausible = {
        "CallSid": st.sampled_from(["CA" + c * 32 for c in "0a"]),
        "MessageSid": st.sampled_from(["SM" + c * 32 for c in "0a"]),
        "From": number,
        "To": st.sampled_from(line_numbers),
        "MessageStatus": known,
        "CallStatus": known,
    }
    others = {name: value for name, value in fields.items() if name not in plausible}
    extra = st.dictionaries(
        st.text(string.ascii_letters, min_size=1, max_size=12), HOSTILE, max_size=2
    )
    form = st.one_of(
        st.fixed_dictionaries({}, optional=fields),
        st.fixed_dictionaries(plausible, optional=others),
    )
    return st.tuples(form, extra).map(lambda both: {**both[1], **both[0]})


QUERY = st.dictionaries(
    st.sampled_from(["call", "to", "sms", "step", "x"]),
    st.one_of(_sid("CA"), st.sampled_from(["resident", "volunteer", "operator"]), HOSTILE),
    max_size=3,
)
PATH_NUMBER = st.one_of(
    st.integers(0, 5), st.integers(0, MAX_ID), st.integers(MAX_ID + 1, 2**80)
).map(str)


@pytest.fixture
def app_config(app_config) -> dict:
    """Rate limits off: fuzzing sends hundreds of requests from few callers on purpose."""
    return {**app_config, "limits": {"enabled": False}}


def _webhook_rules(app) -> list:
    rules = [r for r in app.url_map.iter_rules() if (r.endpoint or "").startswith("twilio.")]
    assert {"/twilio/voice", "/twilio/voice/status", "/twilio/sms", "/twilio/sms/status"} <= {
        r.rule for r in rules
    }
    return rules


def _request(rule, draw) -> tuple[str, dict[str, str]]:
    """A path for ``rule`` (its numbers drawn), with a drawn query string on it."""
    path = re.sub(r"<int:\w+>", lambda _: draw(PATH_NUMBER), rule.rule)
    query = draw(QUERY)
    return (path + "?" + urlencode(query) if query else path), query


def _row_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in SQLModel.metadata.sorted_tables
        }


def _is_twiml(body: bytes) -> bool:
    return ElementTree.fromstring(body).tag == "Response"


def _line_numbers(app) -> list[str]:
    lines = app.extensions["hotline.settings"].lines.values()
    numbers = {line.phone_number for line in lines}
    numbers |= {getattr(line, "sms_number", None) or line.phone_number for line in lines}
    return sorted(numbers)


def _fuzz_signed(app, rule, seen: dict[str, set[int]]):
    """Hostile forms, correctly signed, to one webhook."""
    engine = app.extensions["hotline.engine"]
    client = app.test_client()
    validator = RequestValidator(app.extensions["hotline.settings"].secrets.twilio_auth_token)
    forms = _form(_line_numbers(app))

    @given(data=st.data())
    @SETTINGS
    def post(data):
        url, _query = _request(rule, data.draw)
        form = data.draw(forms)
        signature = validator.compute_signature(PUBLIC_BASE_URL + url, form)
        before = _row_counts(engine)
        response = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
        seen.setdefault(rule.rule, set()).add(response.status_code)

        assert response.status_code < 500, (url, form, response.get_data(as_text=True))
        if response.status_code >= 400:
            assert _row_counts(engine) == before, (url, form, response.status_code)
        elif response.get_data():
            assert response.mimetype == "text/xml", (url, form)
            assert _is_twiml(response.get_data()), (url, form)

    post()


def _fuzz_unsigned(app, rule):
    """Hostile forms without a signature, or with a wrong one, to one webhook."""
    engine = app.extensions["hotline.engine"]
    client = app.test_client()
    validator = RequestValidator(app.extensions["hotline.settings"].secrets.twilio_auth_token)
    forms = _form(_line_numbers(app))
    signatures = st.one_of(st.none(), st.just(""), ANY_TEXT.filter(str.isprintable))

    @given(data=st.data())
    @settings(SETTINGS, max_examples=15)
    def post(data):
        url, _query = _request(rule, data.draw)
        form = data.draw(forms)
        signature = data.draw(signatures)
        if signature == validator.compute_signature(PUBLIC_BASE_URL + url, form):
            return  # hypothesis is not that lucky, but a test must not lie
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        before = _row_counts(engine)
        response = client.post(url, data=form, headers=headers)

        # 404 only for a path that routes nowhere (an id out of range): no view ran.
        assert response.status_code in (403, 404), (url, response.status_code)
        if response.status_code == 404:
            assert max(int(n) for n in re.findall(r"/(\d+)", url.split("?")[0])) > MAX_ID
        assert _row_counts(engine) == before

    post()


@pytest.mark.slow
def test_signed_but_hostile_webhooks_get_twiml_or_a_4xx_and_a_4xx_stores_nothing(app):
    seen: dict[str, set[int]] = {}
    for rule in _webhook_rules(app):
        _fuzz_signed(app, rule, seen)

    # The fuzzing reached past the checks: webhooks answered with TwiML too, not only 4xx.
    answered = {path for path, codes in seen.items() if any(c < 300 for c in codes)}
    assert {"/twilio/voice", "/twilio/sms", "/twilio/sms/status"} <= answered, seen


def test_unsigned_or_missigned_webhooks_get_403_and_write_nothing(app):
    for rule in _webhook_rules(app):
        _fuzz_unsigned(app, rule)
