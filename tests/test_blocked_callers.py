"""Blocked callers: a coordinator blocks the caller of a request (without ever seeing their
number); that caller's next calls hear one sentence and the line hangs up, their SMS are
ignored; the block is audited, listed for the coordinator's lines only, and can be lifted."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlmodel import Session, select

from hotline.access.accounts import create_operator
from hotline.models import AuditEvent, BlockedCaller, CallSession, HelpRequest, SmsMessage
from hotline.voice.texts import BLOCKED_CALLER
from tests.conftest import LEUVEN_NUMBER, STAFF_PASSWORD, StaffClient
from tests.test_walking_skeleton import SHOPPING_TODAY_IN_LEUVEN, next_step_url, spoken, twiml
from tests.volunteers_helpers import make_volunteer

PRANKSTER, NEIGHBOUR = "+32470998877", "+32470112233"
WELCOME = "Welkom bij Leuven Helpt"
_calls = itertools.count(1)


def call(twilio, caller: str, call_sid: str | None = None):
    """``caller`` dials the line: the first webhook of a new call."""
    params = {"CallSid": call_sid or f"CA{next(_calls):032x}", "From": caller,
              "To": LEUVEN_NUMBER, "AccountSid": "AC" + "0" * 32}  # fmt: skip
    return twilio.post("/twilio/voice", params)


@pytest.fixture
def pranks(twilio, db_session) -> HelpRequest:
    """The prankster called and left a request for shopping."""
    params = {"CallSid": "CA" + "9" * 32, "From": PRANKSTER, "To": LEUVEN_NUMBER,
              "AccountSid": "AC" + "0" * 32}  # fmt: skip
    root = twiml(twilio.post("/twilio/voice", params))
    for pressed in SHOPPING_TODAY_IN_LEUVEN:
        extra = {"Digits": pressed} if pressed else {}
        root = twiml(twilio.post(next_step_url(root), {**params, **extra}))
    return db_session.exec(select(HelpRequest)).one()


def no_number_in(html: str) -> bool:
    return not re.search(r"470\W?99\W?88|998877", html)


def test_a_coordinator_blocks_the_caller_from_a_request_and_their_next_call_hears_a_sentence(
    twilio, coordinator, pranks, db_session
):
    page = coordinator.get(f"/requests/{pranks.id}").get_data(as_text=True)
    assert "Block this caller" in page and no_number_in(page)

    response = coordinator.post(
        f"/blocked-callers/request/{pranks.id}", {"reason": "Calls every night to insult us"}
    )

    assert response.status_code == 302
    page = coordinator.get(response.headers["Location"]).get_data(as_text=True)
    assert "This caller is blocked" in page and "Calls every night to insult us" in page
    blocked = call(twilio, PRANKSTER, "CA" + "b" * 32)
    said = spoken(twiml(blocked))
    assert BLOCKED_CALLER["nl"] in said and BLOCKED_CALLER["fr"] in said
    assert twiml(blocked)[-1].tag == "Hangup"
    assert WELCOME not in said
    no_call = select(CallSession).where(CallSession.call_sid == "CA" + "b" * 32)
    assert db_session.exec(no_call).all() == []
    assert len(db_session.exec(select(HelpRequest)).all()) == 1
    # A neighbour is answered as ever.
    assert WELCOME in spoken(twiml(call(twilio, NEIGHBOUR)))
    event = db_session.exec(select(AuditEvent).where(AuditEvent.action == "caller_blocked")).one()
    assert event.help_request_id == pranks.id and event.detail["reason"]


def test_the_blocks_page_lists_the_block_without_a_number_and_unblocking_lets_them_call(
    twilio, coordinator, pranks, db_session
):
    coordinator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "Pranks"})
    page = coordinator.get("/blocked-callers/").get_data(as_text=True)
    assert pranks.reference in page and "Pranks" in page and "Cor Janssens" in page
    assert no_number_in(page)
    block = db_session.exec(select(BlockedCaller)).one()
    assert block.caller_hash == pranks.caller_hash

    response = coordinator.post(f"/blocked-callers/{block.id}/unblock")

    assert response.status_code == 302
    assert "No caller is blocked." in coordinator.get("/blocked-callers/").get_data(as_text=True)
    assert WELCOME in spoken(twiml(call(twilio, PRANKSTER)))
    actions = db_session.exec(select(AuditEvent.action)).all()
    assert "caller_blocked" in actions and "caller_unblocked" in actions


def test_a_blocked_senders_sms_are_ignored(app, twilio, coordinator, pranks, db_session):
    make_volunteer(app, db_session, mobile_number=PRANKSTER)
    coordinator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "Pranks"})
    before = len(db_session.exec(select(SmsMessage)).all())

    response = twilio.post("/twilio/sms", {"MessageSid": "SM" + "1" * 32, "From": PRANKSTER,
                                           "To": "+32470272772", "Body": "HULP"})  # fmt: skip

    assert response.status_code == 200
    assert "<Message" not in response.get_data(as_text=True)
    assert len(db_session.exec(select(SmsMessage)).all()) == before


def test_a_block_needs_a_reason_and_a_phone_number_in_it_is_not_kept(
    coordinator, pranks, db_session
):
    coordinator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "  "})
    assert db_session.exec(select(BlockedCaller)).all() == []

    coordinator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "Said 0470 99 88 77"})
    assert "99 88 77" not in db_session.exec(select(BlockedCaller)).one().reason


def test_blocking_twice_keeps_one_block(coordinator, pranks, db_session):
    for _ in range(2):
        coordinator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "Pranks"})
    assert len(db_session.exec(select(BlockedCaller)).all()) == 1


def test_an_operator_sees_the_block_but_cannot_block_unblock_or_list(
    operator, coordinator, pranks, db_session
):
    page = operator.get(f"/requests/{pranks.id}").get_data(as_text=True)
    assert "Block this caller" not in page
    blocking = operator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "x"})
    assert blocking.status_code == 403
    assert db_session.exec(select(BlockedCaller)).all() == []

    coordinator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "Pranks at night"})
    block = db_session.exec(select(BlockedCaller)).one()
    page = operator.get(f"/requests/{pranks.id}").get_data(as_text=True)
    assert "This caller is blocked" in page and "Unblock this caller" not in page
    assert "Pranks at night" not in page  # the reason is for coordinators
    assert "Pranks at night" in coordinator.get(f"/requests/{pranks.id}").get_data(as_text=True)
    assert operator.get("/blocked-callers/").status_code == 403
    assert operator.post(f"/blocked-callers/{block.id}/unblock").status_code == 403
    assert db_session.get(BlockedCaller, block.id) is not None


def test_another_lines_coordinator_can_neither_block_nor_see_nor_unblock(
    app, coordinator, pranks, db_session
):
    with Session(app.extensions["hotline.engine"]) as session:
        create_operator(session, username="tine", display_name="Tine", password=STAFF_PASSWORD,
                        locale="en", role="coordinator", lines=["tienen"])  # fmt: skip
    tine = StaffClient(app, "tine")

    assert tine.post(f"/blocked-callers/request/{pranks.id}", {"reason": "x"}).status_code == 404
    coordinator.post(f"/blocked-callers/request/{pranks.id}", {"reason": "Pranks"})
    block = db_session.exec(select(BlockedCaller)).one()

    page = tine.get("/blocked-callers/").get_data(as_text=True)
    assert "Pranks" not in page and "No caller is blocked." in page
    assert tine.post(f"/blocked-callers/{block.id}/unblock").status_code == 404
    db_session.expire_all()
    assert db_session.get(BlockedCaller, block.id) is not None
