"""'Forget this resident': a coordinator removes one resident from the line at once, and
nothing of theirs is left in the database: not their number's hash or vault entry, not their
words, recordings (deleted at Twilio too) or the texts about them. Others stay untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from hotline.abuse.blocking import block_caller, is_blocked
from hotline.access.accounts import create_operator
from hotline.models import (
    AuditEvent,
    BlockedCaller,
    CallSession,
    Contact,
    HelpRequest,
    SmsMessage,
)
from hotline.privacy import caller_hash
from hotline.retention import purge
from hotline.telephony import get_provider
from tests.conftest import STAFF_PASSWORD, StaffClient
from tests.test_retention import (
    ANNA,
    ANNAS_NOTES,
    ANNAS_TRANSCRIPT,
    ANNAS_WORDS,
    BERT,
    CARLA,
    Town,
    call_in,
)

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

REASON = "She asked us on the phone to delete everything"


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


@pytest.fixture
def session(app):
    with Session(app.extensions["hotline.engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture
def town(app, session, fake_twilio, staff, work) -> Town:
    """Anna was helped (done), Carla cancelled, Bert waits (tests/test_retention.py)."""
    return Town(app, session, fake_twilio, staff, work)


def database_text(app) -> str:
    """Every value of every table, as text, and on SQLite the database files' bytes too."""
    engine = app.extensions["hotline.engine"]
    parts = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                parts.append(" ".join(str(value) for value in row))
    if engine.dialect.name == "sqlite":
        database = Path(engine.url.database)
        for path in (database, database.with_name(database.name + "-wal")):
            if path.exists():
                parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def annas_traces(app, town: Town, session) -> dict[str, str]:
    """What would give Anna away, as stored before she was forgotten."""
    settings = app.extensions["hotline.settings"]
    contact = session.get(Contact, town.anna.contact_id)
    [text] = session.exec(select(SmsMessage.body).where(SmsMessage.help_request_id == town.anna.id))
    return {
        "caller hash": caller_hash(ANNA, settings.secrets.hash_pepper),
        "vault entry": contact.encrypted_number,
        "message": ANNAS_WORDS,
        "transcript": ANNAS_TRANSCRIPT,
        "notes": ANNAS_NOTES,
        "recording": town.anna.recording_sid,
        "sms body": text,
        "typed number": ANNA[1:],
    }


@pytest.fixture
def annas_second_call(app, session, fake_twilio, town) -> HelpRequest:
    """Anna called again: this request is open (Vera is offered it, the SMS not sent yet)."""
    return call_in(app, session, fake_twilio, ANNA, "Anna again: the pharmacy this time")


def test_a_coordinator_forgets_a_resident_and_nothing_of_hers_is_left(
    app, session, town, annas_second_call, coordinator, staff, fake_twilio, work
):
    annas_contact = town.anna.contact_id
    traces = annas_traces(app, town, session)
    traces["second message"] = annas_second_call.message
    recordings = [town.anna.recording_sid, annas_second_call.recording_sid]
    text = database_text(app)
    assert all(value in text for value in traces.values())
    berts = session.get(HelpRequest, town.bert.id)

    page = coordinator.get(f"/requests/{town.anna.id}/forget")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert town.anna.reference in html and annas_second_call.reference in html
    assert town.bert.reference not in html

    without_reason = coordinator.post(f"/requests/{town.anna.id}/forget", {"reason": ""})
    assert without_reason.status_code == 400
    assert session.get(HelpRequest, town.anna.id, populate_existing=True).message == ANNAS_WORDS

    done = coordinator.post(f"/requests/{town.anna.id}/forget", {"reason": REASON})
    assert done.status_code == 302
    # The page answered without waiting for Twilio: the recordings go with the next job.
    assert fake_twilio.deleted_recordings == []
    work()

    text = database_text(app)
    left = [name for name, value in traces.items() if value in text]
    assert left == []
    assert sorted(fake_twilio.deleted_recordings) == sorted(recordings)

    # Both requests stay, anonymous; the open one is cancelled.
    for request_id in (town.anna.id, annas_second_call.id):
        row = session.get(HelpRequest, request_id, populate_existing=True)
        assert row.forgotten_at is not None and row.purged_at is not None
        assert (row.contact_id, row.caller_hash, row.recording_sid) == (None, None, None)
        assert row.category == "groceries" and row.status in ("done", "cancelled")
    assert session.get(HelpRequest, annas_second_call.id).status == "cancelled"
    calls = session.exec(select(CallSession).where(CallSession.line_id == town.anna.line_id))
    assert annas_contact not in {call.contact_id for call in calls}

    # Bert and Carla: untouched.
    bert_now = session.get(HelpRequest, town.bert.id, populate_existing=True)
    assert (bert_now.message, bert_now.caller_hash, bert_now.recording_sid) == (
        berts.message,
        berts.caller_hash,
        berts.recording_sid,
    )
    pepper = app.extensions["hotline.settings"].secrets.hash_pepper
    hashes = set(session.exec(select(Contact.caller_hash)))
    assert {caller_hash(BERT, pepper), caller_hash(CARLA, pepper)} <= hashes
    assert town.bert.recording_sid in fake_twilio.recordings

    # Audited: who, when and why, on each of her requests; the page says she was forgotten.
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "resident_forgotten")).all()
    assert {event.help_request_id for event in events} == {town.anna.id, annas_second_call.id}
    assert all(event.operator_id == staff["cor"] for event in events)
    [with_reason] = [event for event in events if event.help_request_id == town.anna.id]
    assert with_reason.detail == {"reason": REASON}
    assert ANNA[3:] not in json.dumps([event.detail for event in events])

    detail = coordinator.get(f"/requests/{town.anna.id}").get_data(as_text=True)
    assert "This resident was forgotten on" in detail
    assert ANNAS_WORDS not in detail
    again = coordinator.get(f"/requests/{town.anna.id}/forget", follow_redirects=True)
    assert "already been forgotten" in again.get_data(as_text=True)


def test_a_recording_twilio_cannot_delete_now_waits_for_the_nightly_purge(
    app, session, town, coordinator, fake_twilio, work
):
    response = coordinator.post(
        f"/requests/{town.anna.id}/forget", {"reason": REASON}, follow_redirects=True
    )
    assert "The resident is forgotten" in response.get_data(as_text=True)
    anna = session.get(HelpRequest, town.anna.id, populate_existing=True)
    assert anna.purged_at is not None and anna.message == ""
    fake_twilio.fail_next("Recordings", status=500, code=20500, message="Internal error")
    work()  # the job that deletes her recordings at Twilio meets an error
    anna = session.get(HelpRequest, town.anna.id, populate_existing=True)
    assert anna.recording_sid is not None and fake_twilio.deleted_recordings == []
    kept = anna.recording_sid

    with app.app_context():
        purge(session, app.extensions["hotline.settings"], get_provider(), town.later)
    assert session.get(HelpRequest, town.anna.id, populate_existing=True).recording_sid is None
    assert kept in fake_twilio.deleted_recordings


def test_an_operator_may_not_forget_and_the_link_is_not_shown(app, town, operator):
    assert operator.get(f"/requests/{town.anna.id}/forget").status_code == 403
    assert operator.post(f"/requests/{town.anna.id}/forget", {"reason": REASON}).status_code == 403
    assert "Forget this resident" not in operator.get(f"/requests/{town.anna.id}").get_data(
        as_text=True
    )
    with Session(app.extensions["hotline.engine"]) as fresh:
        assert fresh.get(HelpRequest, town.anna.id).message == ANNAS_WORDS


def test_a_coordinator_of_another_line_finds_no_such_request(app, town, staff):
    with Session(app.extensions["hotline.engine"]) as fresh:
        create_operator(
            fresh,
            username="tina",
            display_name="Tina of Tienen",
            password=STAFF_PASSWORD,
            role="coordinator",
            locale="en",
            lines=["tienen"],
        )
    tina = StaffClient(app, "tina")
    assert tina.get(f"/requests/{town.anna.id}/forget").status_code == 404
    assert tina.post(f"/requests/{town.anna.id}/forget", {"reason": REASON}).status_code == 404
    with Session(app.extensions["hotline.engine"]) as fresh:
        assert fresh.get(HelpRequest, town.anna.id).message == ANNAS_WORDS


def test_forgetting_needs_the_csrf_token(app, town, coordinator):
    response = coordinator.post(
        f"/requests/{town.anna.id}/forget", {"reason": REASON, "csrf_token": None}
    )
    assert response.status_code == 400
    with Session(app.extensions["hotline.engine"]) as fresh:
        assert fresh.get(HelpRequest, town.anna.id).forgotten_at is None


def test_her_blocks_stay_without_reason_or_request_and_why_she_was_forgotten_goes_later(
    app, session, town, annas_second_call, coordinator, staff, work
):
    block = block_caller(
        session, help_request=annas_second_call, operator_id=staff["cor"], reason="Calls nightly"
    )
    reason = "Her son Jan asked (jan.peeters@example.com, 0470 12 34 01)"
    assert (
        coordinator.post(f"/requests/{town.anna.id}/forget", {"reason": reason}).status_code == 302
    )
    work()

    [why] = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "resident_forgotten", AuditEvent.help_request_id == town.anna.id
        )
    )
    assert "Her son Jan asked" in why.detail["reason"]  # kept for now, for the audit
    assert "example.com" not in why.detail["reason"] and "12 34 01" not in why.detail["reason"]
    # The block stays (by hash: she still cannot call), but no longer says who or why.
    block = session.get(BlockedCaller, block.id, populate_existing=True)
    assert (block.help_request_id, block.reference, block.reason) == (None, "", "[removed]")
    pepper = app.extensions["hotline.settings"].secrets.hash_pepper
    assert is_blocked(session, line_slug="leuven", hashed_caller=caller_hash(ANNA, pepper))
    [blocked] = session.exec(select(AuditEvent).where(AuditEvent.action == "caller_blocked"))
    assert blocked.detail["reason"] == "[removed]"

    # The words of why she was forgotten go as a request's words do: contact_days later.
    with app.app_context():
        purge(session, app.extensions["hotline.settings"], get_provider(), town.later)
    assert session.get(AuditEvent, why.id, populate_existing=True).detail["reason"] == "[removed]"
