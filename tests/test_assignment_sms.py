"""A volunteer is asked by SMS: one message, from the line's number, in their language."""

from __future__ import annotations

import pytest
from rq.job import Job
from sqlmodel import Session, select

from hotline.db import line_row
from hotline.dispatch import offer_volunteer
from hotline.messaging.texts import CATEGORIES, LANGUAGES, URGENCIES, assignment_offer_text
from hotline.models import (
    Assignment,
    AuditEvent,
    HelpRequest,
    OutboxMessage,
    SmsMessage,
    Volunteer,
    utcnow,
)
from hotline.outbox import add_work, job_id, relay_pending
from hotline.privacy import store_contact

LEUVEN_SMS_NUMBER = "+32470272772"  # sms_from in config.toml

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

VOLUNTEER_NUMBER = "+32470111222"
RESIDENT_NUMBER = "+32470555666"
SEND_SMS = "hotline.jobs.send_sms"
# The GSM 03.38 basic alphabet: texts in it cost one segment per 160 characters.
GSM_7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


@pytest.fixture
def engine(app):
    return app.extensions["hotline.engine"]


def offer(app, *, languages=("nl",), status="offered", with_number=True) -> int:
    """Mia (volunteer, 3000) is offered request 482913 (groceries in 3000, today); her SMS
    is written to the outbox. Returns the assignment's id."""
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        line = line_row(session, settings, "leuven")
        contact = (
            store_contact(session, settings.secrets, VOLUNTEER_NUMBER) if with_number else None
        )
        resident = store_contact(session, settings.secrets, RESIDENT_NUMBER)
        volunteer = Volunteer(
            line_id=line.id,
            name="Mia Claes",
            contact_id=contact.id if contact else None,
            postcode="3000",
            languages=list(languages),
            skills=["groceries"],
            safety_accepted_at=utcnow(),
        )
        help_request = HelpRequest(
            line_id=line.id,
            reference="482913",
            category="groceries",
            postcode="3000",
            urgency="today",
            contact_id=resident.id,
        )
        session.add_all([volunteer, help_request])
        session.flush()
        assignment = offer_volunteer(
            session,
            help_request=help_request,
            volunteer=volunteer,
            operator_id=None,
            line=settings.lines["leuven"],
        )
        assignment.status = status
        session.add(assignment)
        session.commit()
        return assignment.id


def code_of(engine, assignment_id: int) -> str:
    with Session(engine) as session:
        return session.get(Assignment, assignment_id).code


def relay(engine, redis_conn) -> int:
    with Session(engine) as session:
        return relay_pending(session, redis_conn)


def the_job(engine, redis_conn) -> Job:
    """The rq job that sends the offer."""
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage).where(OutboxMessage.job == SEND_SMS)).all()
    return Job.fetch(job_id(row), connection=redis_conn)


def sms_events(engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == "sms_sent")))


def test_a_volunteer_gets_one_sms_from_the_line_number_even_when_the_job_runs_twice(
    app, engine, redis_conn, work, fake_twilio
):
    assignment_id = offer(app)
    assert relay(engine, redis_conn) == 2  # the SMS, and the timer that expires the offer
    work()

    [sms] = fake_twilio.messages
    assert sms.form["To"] == VOLUNTEER_NUMBER
    assert sms.form["From"] == LEUVEN_SMS_NUMBER  # the line's mobile: 016... cannot text
    assert sms.form["StatusCallback"].startswith(
        "https://hotline.example.org/twilio/sms/status?sms="
    )
    assert sms.form["Body"] == (
        "Leuven Helpt: nieuwe hulpvraag 482913 - boodschappen of apotheek in 3000 Leuven, "
        "vandaag. Antwoord JA {code} om te aanvaarden of NEE {code} om te weigeren."
    ).format(code=code_of(engine, assignment_id))
    assert RESIDENT_NUMBER not in sms.form["Body"]
    [event] = sms_events(engine)
    assert event.detail == {
        "assignment_id": assignment_id,
        "message_sid": event.detail["message_sid"],
        "kind": "offer",
    }
    assert event.detail["message_sid"].startswith("SM")

    # The same work again (a second relay, a retried job): nothing more is sent.
    with Session(engine) as session:
        sms = session.exec(select(SmsMessage)).one()
        assert (sms.status, sms.message_sid) == ("queued", event.detail["message_sid"])
        add_work(session, queue="messages", job=SEND_SMS, sms_id=sms.id)
        session.commit()
    assert relay(engine, redis_conn) == 1
    work()

    assert len(fake_twilio.messages) == 1
    assert len(sms_events(engine)) == 1


def test_a_french_speaking_volunteer_is_asked_in_french(app, engine, redis_conn, work, fake_twilio):
    assignment_id = offer(app, languages=("fr", "nl"))
    relay(engine, redis_conn)
    work()

    [sms] = fake_twilio.messages
    assert sms.form["Body"] == (
        "Leuven Helpt: nouvelle demande 482913 - courses ou pharmacie à 3000 Leuven, "
        "aujourd'hui. Répondez OUI {code} pour accepter ou NON {code} pour refuser."
    ).format(code=code_of(engine, assignment_id))


def test_when_twilio_fails_the_sms_is_retried_later_and_not_marked_as_sent(
    app, engine, redis_conn, work, fake_twilio
):
    offer(app)
    for _ in range(2):
        fake_twilio.fail_next("Messages.json", status=500, code=20500, message="Internal error")
    relay(engine, redis_conn)
    work()

    job = the_job(engine, redis_conn)
    # rq's Retry: once at once (also how a killed worker's job comes back), then in 10 s,
    # then with backoff.
    assert job.get_status() == "scheduled"
    assert job.retries_left == 4
    assert len(fake_twilio.requests) == 2
    assert fake_twilio.messages == []
    assert sms_events(engine) == []


def test_an_offer_withdrawn_before_the_sms_left_is_not_sent(
    app, engine, redis_conn, work, fake_twilio
):
    offer(app, status="cancelled")
    relay(engine, redis_conn)
    work()

    assert fake_twilio.requests == []


def test_a_volunteer_without_a_number_shows_in_the_history_instead_of_failing_forever(
    app, engine, redis_conn, work, fake_twilio
):
    assignment_id = offer(app, with_number=False)
    relay(engine, redis_conn)
    work()

    assert fake_twilio.requests == []
    with Session(engine) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "sms_not_sent"))
    assert event.detail["assignment_id"] == assignment_id
    assert the_job(engine, redis_conn).get_status() == "finished"


def test_an_sms_twilio_refuses_for_good_is_not_retried_and_shows_in_the_history(
    app, engine, redis_conn, work, fake_twilio
):
    assignment_id = offer(app)
    fake_twilio.fail_next(
        "Messages.json", status=400, code=21610, message="Attempt to send to unsubscribed recipient"
    )
    relay(engine, redis_conn)
    work()

    assert the_job(engine, redis_conn).get_status() == "finished"  # no retry for ever
    with Session(engine) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "sms_not_sent"))
    assert (event.detail["assignment_id"], event.detail["code"]) == (assignment_id, 21610)
    assert sms_events(engine) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_offer_fits_one_plain_sms(app, language):
    line = app.extensions["hotline.settings"].lines["leuven"]
    texts = [
        assignment_offer_text(
            language=language,
            line_name=line.name,
            reference="482913",
            code="4821",
            category=category,
            postcode=postcode,
            municipality=municipality,
            urgency=urgency,
        )
        for category in CATEGORIES[language]
        for urgency in URGENCIES[language]
        for postcode, municipality in line.postcodes.items()
    ]
    for text in texts:
        assert set(text) <= GSM_7, set(text) - GSM_7
        assert len(text) <= 160, text
