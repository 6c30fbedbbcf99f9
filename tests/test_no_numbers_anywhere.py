"""After a full run of the hotline, no phone number is anywhere but encrypted in the vault.

A resident calls the IVR (signed webhooks) and leaves a message whose transcript holds
another number and an e-mail address; an operator logs a call typing numbers in a dozen
written forms and an e-mail address, notes more on the request, adds her own phone and
calls a resident back; a volunteer is offered the request by SMS, texts JA, calls the
resident through the line (a masked call) and texts KLAAR, the jobs run by a real rq
worker against the local Twilio-compatible server; the JSON API is read with a token.

Then every place the hotline keeps or shows anything is searched: the database (every
column of every table but the vault's encrypted one, and the raw SQLite files), Redis
(every key and value, rq's compressed job data unpacked), the captured logs, every page
(app.url_map's GET routes with every id filled in) and every API answer. The search finds
the run's numbers however written (+32 470 12 34 56, 0470/12.34.56, 0032470123456, ...):
it is first shown to find every form that ``written_forms`` generates.
"""

from __future__ import annotations

import html
import logging
import re
import zlib
from itertools import product
from pathlib import Path

import pytest
from flask import url_for
from sqlmodel import Session, SQLModel, select

from hotline.access.api_tokens import create_token
from hotline.models import (
    ApiToken,
    Assignment,
    AuditEvent,
    Contact,
    HelpRequest,
    Operator,
    RequestStatus,
    SmsMessage,
    Volunteer,
    VolunteerLead,
)
from hotline.privacy import NUMBER_REVEALED, install_log_redaction, redact_personal_details
from tests.conftest import LEUVEN_NUMBER
from tests.log_audit import KEEPER
from tests.operator_phones import OperatorPhones
from tests.test_ivr_webhooks import (
    ALWAYS_OPEN,
    OPERATORS,
    OPERATORS_E164,
    Call,
    Hotline,
    at_main,
    at_message,
    new_sid,
    transcription,
    write_config,
)
from tests.test_masked_calls import dial_over, screen
from tests.volunteers_helpers import make_volunteer

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

RESIDENT = "+32470123456"  # calls the IVR
DAUGHTER = "+32478987654"  # said in the resident's message
LIVE_CALLER = "+32471223344"  # phoned an operator, who logs the call
SON = "+32472334455"  # typed into the logged call's message, in many forms
VOLUNTEER = "+32499112233"  # Mia
OLGAS_PHONE = "+32475667788"  # the operator's own phone, for call-backs
NUMBERS = (RESIDENT, DAUGHTER, LIVE_CALLER, SON, VOLUNTEER, OLGAS_PHONE)
EMAILS = ("jan.peeters@telenet.be", "zoon.claes@example.be")
LINE_SMS = "+32470272772"  # sms_from of the Leuven line (config.toml)

# How Belgians write a mobile number: with +32, 0032, the trunk 0 or nothing in front,
# the nine digits whole or in groups, spaces, dots, slashes or dashes between the groups
# (one kind after the zone, another between the pairs: 0470/12.34.56), URL-encoded.
PREFIXES = ("+32", "+32 ", "0032", "0032 ", "0", "", "+32 (0)", "+32(0)", "%2B32")
GROUPINGS = ((9,), (3, 2, 2, 2), (3, 3, 3), (3, 6))
SEPARATORS = (" ", ".", "/", "-", "")


def written_forms(e164: str) -> list[str]:
    """Every way ``e164`` (a Belgian mobile number) is written by PREFIXES x GROUPINGS x
    SEPARATORS (the separator after the zone and the one between the others)."""
    national = e164.removeprefix("+32")
    forms = set()
    for prefix, grouping, (first, rest) in product(
        PREFIXES, GROUPINGS, product(SEPARATORS, SEPARATORS)
    ):
        groups, start = [], 0
        for size in grouping:
            groups.append(national[start : start + size])
            start += size
        forms.add(prefix + groups[0] + (first + rest.join(groups[1:]) if groups[1:] else ""))
    return sorted(forms)


# The search: digits with what people and URLs put between them, compared without it.
CANDIDATE = re.compile(r"(?:\+|%2B)?\d[\d\s./()\-]{5,}\d")
NATIONAL = {number: number.removeprefix("+32") for number in NUMBERS}


def numbers_in(text: str) -> list[str]:
    """The run's numbers found in ``text``, however written (as written there)."""
    found = []
    for candidate in CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", candidate.group().replace("%2B", "+"))
        if any(national in digits for national in NATIONAL.values()):
            found.append(candidate.group())
    return found


def details_in(text: str) -> list[str]:
    """The run's numbers and e-mail addresses in ``text`` (HTML entities read as characters)."""
    text = html.unescape(text)
    lowered = text.lower()
    return numbers_in(text) + [email for email in EMAILS if email in lowered]


def sample(forms: list[str], count: int) -> list[str]:
    """``count`` forms spread over the whole list (every prefix and separator gets its turn)."""
    step = len(forms) / count
    return [forms[int(index * step)] for index in range(count)]


@pytest.mark.parametrize("number", NUMBERS)
def test_the_search_finds_every_written_form_of_every_number(number):
    forms = written_forms(number)
    assert len(forms) > 300
    for form in forms:
        for text in (f"bel {form} aub", f'{{"note": "{form}"}}', f"<td>{form}</td>", form):
            assert numbers_in(text), f"the search misses {form!r}"


@pytest.mark.parametrize("number", NUMBERS)
def test_every_written_form_is_redacted_from_free_text(number):
    for form in written_forms(number):
        redacted = redact_personal_details(f"bel mijn zoon op {form}, dank u")
        assert redacted == "bel mijn zoon op [number], dank u", form


@pytest.mark.parametrize(
    ("written", "redacted"),
    [
        ("mail jan.peeters@telenet.be aub", "mail [e-mail] aub"),
        ("JAN.PEETERS@TELENET.BE.", "[e-mail]."),
        ("zoon (at) example (dot) be", "[e-mail]"),
        ("zoon [at] example.be", "[e-mail]"),
        ("jan punt peeters apenstaartje telenet punt be", "[e-mail]"),
        ("jan at gmail dot com", "[e-mail]"),
        ("e=jan%40telenet.be", "e=[e-mail]"),
        ("0470 12 34 56 of jan@telenet.be", "[number] of [e-mail]"),
    ],
)
def test_e_mail_addresses_are_redacted_however_they_are_written(written, redacted):
    assert redact_personal_details(written) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "see https://hotline.example.org/requests/5?page=2",
        "look at hotline.example.org after 10:00",
        "she is at home, reference 482913, since 2026-11-26",
        "written by @olga in #leuven",
        "operator@ left a note",
        "user@localhost",
    ],
)
def test_text_without_an_e_mail_address_is_left_alone(text):
    assert redact_personal_details(text) == text


def test_log_records_lose_their_e_mail_addresses(caplog):
    install_log_redaction()  # as every process of the hotline does on start
    logger = logging.getLogger("hotline.test.emails")
    with caplog.at_level(logging.INFO, logger="hotline.test.emails"):
        logger.info("reply from %s", "jan.peeters@telenet.be")
    assert "telenet" not in caplog.text and "reply from [e-mail]" in caplog.text


# -- the full run ---------------------------------------------------------------------------------


@pytest.fixture
def app_config(app_config, fake_twilio, tmp_path):
    """Open day and night, operator phones, transcripts on; Twilio is the local server."""
    config_file = write_config(
        tmp_path / "open", hours=ALWAYS_OPEN, operators=OPERATORS, transcribe=True
    )
    return fake_twilio.configure({**app_config, "config_file": config_file})


TRANSCRIPT = (
    "Ik heb boodschappen nodig voor morgen. Bel mijn dochter op 0478 98 76 54 "
    "of stuur een mail naar jan.peeters@telenet.be, dank u."
)


def resident_leaves_a_message(hotline: Hotline, fake_twilio) -> HelpRequest:
    call = Call(hotline.twilio, RESIDENT)
    at_message(call, "nl")
    recording_sid = fake_twilio.add_recording()
    call.record(recording_sid)
    call.answer.assert_hangs_up()
    hotline.twilio.post("/twilio/voice/status", {**call.params, "CallStatus": "completed"})
    assert transcription(hotline, recording_sid, TRANSCRIPT).status_code == 204
    return hotline.one(HelpRequest)


def operator_logs_a_call(operator, db_session) -> HelpRequest:
    son = sample(written_forms(SON), 12)
    message = (
        f"Mevrouw wil boodschappen. Haar zoon: {', '.join(son)}; "
        f"mail zoon.claes@example.be. Zelf: {written_forms(LIVE_CALLER)[7]}."
    )
    response = operator.post(
        "/requests/new",
        {
            "phone_number": "0471/22.33.44",
            "language": "nl",
            "category": "groceries",
            "postcode": "3000",
            "urgency": "today",
            "message": message,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return db_session.exec(select(HelpRequest).where(HelpRequest.source == "live")).one()


def text(hotline: Hotline, body: str):
    params = {
        "MessageSid": new_sid("SM"),
        "AccountSid": "AC" + "a1" * 16,
        "From": VOLUNTEER,
        "To": LINE_SMS,
        "Body": body,
        "NumMedia": "0",
    }
    response = hotline.twilio.post("/twilio/sms", params)
    assert response.status_code == 200, response.get_data(as_text=True)


def full_run(app, hotline, db_session, operator, staff, work, fake_twilio) -> str:
    """Everything a day on the line does with numbers; returns an API token."""
    from_ivr = resident_leaves_a_message(hotline, fake_twilio)
    live = operator_logs_a_call(operator, db_session)
    notes = f"Dochter: {' of '.join(sample(written_forms(DAUGHTER), 4))}"
    triaged = operator.post(
        f"/requests/{from_ivr.id}/triage",
        {"category": "groceries", "postcode": "3000", "urgency": "today", "language": "nl",
         "notes": notes},
    )  # fmt: skip
    assert triaged.status_code in (200, 302)

    # The caller phones again and presses 0: they wait in the queue while the operators'
    # phones ring by REST; the desk phone answers, the other phone stops ringing.
    waiting = Call(hotline.twilio, LIVE_CALLER)
    at_main(waiting, "nl")
    waiting.press("0")
    waiting.waits(position=1)
    assert work() is True
    phones = OperatorPhones(hotline.twilio, fake_twilio)
    desk = phones.leg_for(OPERATORS_E164[0])
    picked_up = phones.picks_up(desk)
    phones.puts_through(picked_up, desk, waiting.sid)
    work()
    assert len(fake_twilio.canceled_calls) == 1
    waiting.queue_ends("bridged")
    waiting.record_nothing()
    hotline.twilio.post("/twilio/voice/status", {**waiting.params, "CallStatus": "completed"})
    rung = len(fake_twilio.calls)

    # Olga's own phone, then a call-back: her phone rings, she presses 1, the resident rings.
    profile = operator.post(
        "/accounts/me",
        {"display_name": "Olga Peeters", "locale": "en", "phone_number": "0475 66 77 88"},
    )
    assert profile.status_code == 302, profile.get_data(as_text=True)
    assert operator.post(f"/requests/{live.id}/call-back").status_code == 302
    assert [c.form["To"] for c in fake_twilio.calls[rung:]] == [OLGAS_PHONE]
    confirm = hotline.twilio.post(
        f"/twilio/voice/call-back/{live.id}/{staff['olga']}/confirm",
        {"CallSid": new_sid("CA"), "AccountSid": "AC" + "0" * 32, "Digits": "1",
         "From": LEUVEN_NUMBER, "To": OLGAS_PHONE},
    )  # fmt: skip
    assert LIVE_CALLER in confirm.get_data(as_text=True)  # only in what Twilio gets

    # Mia is offered the IVR request, accepts by SMS, calls the resident, reports done.
    mia = make_volunteer(app, db_session, name="Mia Claes", mobile_number=VOLUNTEER)
    assigned = operator.post(f"/requests/{from_ivr.id}/assign", {"volunteer_id": mia.id})
    assert assigned.status_code == 302
    assert work() is True
    code = db_session.exec(select(Assignment)).one().code
    text(hotline, f"JA {code}")
    work()
    call = Call(hotline.twilio, VOLUNTEER)
    call.dial()
    dialling = call.press("1")
    assert [n.text for n in dialling.only("Dial").iter("Number")] == [RESIDENT]
    screen(hotline, call, answer="1")
    dial_over(call, bridged=True)
    text(hotline, f"KLAAR {code}")
    work()
    assert {m.form["To"] for m in fake_twilio.messages} == {VOLUNTEER}

    with Session(app.extensions["hotline.engine"]) as session:
        return create_token(session, operator_id=staff["cor"], name="weekly report")


# Ids for the routes' arguments, by name; any other int argument gets a few small numbers.
ROUTE_IDS = {
    "request_id": HelpRequest,
    "volunteer_id": Volunteer,
    "lead_id": VolunteerLead,
    "assignment_id": Assignment,
    "operator_id": Operator,
    "token_id": ApiToken,
    "sms_id": SmsMessage,
}
# Lists shown only when asked for: closed requests, inactive volunteers, every page of an API.
EXTRA_QUERIES = {
    "requests.queue": [f"status={status}" for status in RequestStatus],
    "volunteers.index": ["status=all"],
    "api.list_requests": ["limit=100", *(f"status={status}" for status in RequestStatus)],
    "api.list_volunteers": ["limit=100"],
    "api.list_assignments": ["limit=100"],
}


def readable_urls(app, session: Session) -> list[str]:
    """Every GET route of the app (but static files and Twilio's webhooks), ids filled in."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint.endswith("static"):
                continue
            if rule.rule.startswith("/twilio"):
                continue  # Twilio's, answered with TwiML to Twilio only
            choices = []
            for argument in sorted(rule.arguments):
                if argument in ROUTE_IDS:
                    model = ROUTE_IDS[argument]
                    choices.append([row.id for row in session.exec(select(model))])
                elif type(rule._converters[argument]).__name__.endswith("IntegerConverter"):
                    choices.append([1, 2, 3])
                else:
                    choices.append(["anything"])
            for values in product(*choices):
                url = url_for(
                    rule.endpoint, **dict(zip(sorted(rule.arguments), values, strict=True))
                )
                urls.append(url)
                urls += [f"{url}?{query}" for query in EXTRA_QUERIES.get(rule.endpoint, [])]
    return sorted(set(urls))


def redis_values(redis_conn) -> list[tuple[str, bytes]]:
    """Every key of Redis with its value(s); rq's job data (zlib'd pickles) unpacked."""
    found = []
    for key in redis_conn.scan_iter(count=1000):
        kind = redis_conn.type(key).decode()
        if kind == "string":
            values = [redis_conn.get(key)]
        elif kind == "hash":
            values = [b"%s=%s" % pair for pair in redis_conn.hgetall(key).items()]
        elif kind == "list":
            values = redis_conn.lrange(key, 0, -1)
        elif kind == "set":
            values = list(redis_conn.smembers(key))
        elif kind == "zset":
            values = redis_conn.zrange(key, 0, -1)
        elif kind == "stream":
            values = [repr(entry).encode() for entry in redis_conn.xrange(key)]
        else:
            values = []
        for value in [key, *values]:
            value = value or b""
            found.append((key.decode(errors="replace"), value))
            for start in range(len(value)):  # a compressed value, possibly after "data="
                if value[start : start + 1] == b"\x78":
                    try:
                        found.append((key.decode(errors="replace"), zlib.decompress(value[start:])))
                    except zlib.error:
                        continue
                    break
    return found


def database_problems(app) -> list[str]:
    """The run's details in the database: every column of every row but the vault's
    encrypted one, then the raw files, where an overwritten or deleted value may linger."""
    problems = []
    with app.extensions["hotline.engine"].connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    if (table.name, column) == ("contact", "encrypted_number") or value is None:
                        continue
                    for found in details_in(str(value)):
                        problems.append(f"database {table.name}.{column}: {found!r}")
        database = Path(connection.engine.url.database)
    for path in (database, Path(f"{database}-wal")):
        if path.exists():
            for found in details_in(path.read_bytes().decode("latin-1")):
                problems.append(f"file {path.name}: {found!r}")
    return problems


def redis_problems(redis_conn) -> list[str]:
    """The run's details in Redis."""
    return [
        f"redis {key}: {found!r}"
        for key, value in redis_values(redis_conn)
        for found in details_in(value.decode("latin-1"))
    ]


def test_after_a_full_run_no_number_or_e_mail_address_is_anywhere_but_the_vault(
    app, twilio, db_session, redis_conn, operator, coordinator, staff, work, fake_twilio, caplog
):
    caplog.set_level(logging.DEBUG)
    hotline = Hotline(app, twilio, db_session)
    token = full_run(app, hotline, db_session, operator, staff, work, fake_twilio)
    db_session.rollback()

    # The numbers did go through the system: four in the vault, each decryption audited.
    assert len(db_session.exec(select(Contact)).all()) == 4  # resident, caller, Mia, Olga
    reasons = {
        event.detail["reason"]
        for event in db_session.exec(select(AuditEvent).where(AuditEvent.action == NUMBER_REVEALED))
    }
    assert {"sms_to_volunteer", "operator_phone", "call_back", "masked_call"} <= reasons

    problems = database_problems(app) + redis_problems(redis_conn)
    for line in [*caplog.text.splitlines(), *KEEPER.lines]:
        for found in details_in(line):
            problems.append(f"log: {found!r} in {line[:200]}")
    pages = readable_urls(app, db_session)
    assert len(pages) > 40
    for url in pages:
        if url.startswith("/api/"):
            response = coordinator.client.get(url, headers={"Authorization": f"Bearer {token}"})
        else:
            response = coordinator.get(url)
        if response.status_code >= 500 and url != "/ready":  # /ready: 503 without workers
            problems.append(f"page {url}: {response.status_code}")
        for found in details_in(response.get_data().decode("latin-1")):
            problems.append(f"page {url}: {found!r}")
    # The transcript and the notes were shown, redacted (not left out).
    shown = coordinator.get("/requests/1").get_data(as_text=True)
    assert "[number]" in shown and "[e-mail]" in shown
    assert problems == []

    # The search is not blind: a number left in a note, or in a job's arguments, is found.
    db_session.add(HelpRequest(line_id=1, reference="999999", notes="bel 0470/12.34.56"))
    db_session.commit()
    redis_conn.hset("rq:job:control", "data", zlib.compress(b"to=0032 499 11 22 33"))
    assert any("help_request.notes" in problem for problem in database_problems(app))
    if app.extensions["hotline.settings"].database_url.startswith("sqlite"):  # the raw file too
        assert any(problem.startswith("file hotline.sqlite3") for problem in database_problems(app))
    assert redis_problems(redis_conn) == ["redis rq:job:control: '0032 499 11 22 33'"]
