"""What operators see of offers by SMS: offer states, conversations, no volunteer found,
follow-ups, and asking the best volunteers from a request's page."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from hotline.dispatch import assign_volunteer, close_offer, record_assignment_reply
from hotline.messaging.conversation import offer_states
from hotline.messaging.sending import SEND_SMS_JOB
from hotline.models import Assignment, HelpRequest, OutboxMessage, SmsMessage, utcnow
from tests.conftest import STAFF_PASSWORD, StaffClient
from tests.test_callcenter import TWO_LINES
from tests.test_dispatch import flashes
from tests.volunteers_helpers import leuven, make_request, make_volunteer


def offer(app, session, help_request, volunteer, *, sms_status: str = "pending", code=None):
    """Offer ``help_request`` to ``volunteer``; the offer SMS as far as ``sms_status``."""
    assignment = assign_volunteer(
        session, line=leuven(app), help_request=help_request, volunteer=volunteer, operator_id=None
    )
    offer_sms = session.exec(
        select(SmsMessage).where(SmsMessage.assignment_id == assignment.id)
    ).one()
    offer_sms.status, offer_sms.error_code = sms_status, code
    session.add(offer_sms)
    session.commit()
    return assignment


def text_from(session, volunteer, assignment, body: str) -> SmsMessage:
    """A volunteer's SMS as inbound handling stores it: matched to their offer."""
    sms = SmsMessage(
        line_id=volunteer.line_id,
        volunteer_id=volunteer.id,
        help_request_id=assignment.help_request_id,
        assignment_id=assignment.id,
        direction="in",
        kind="reply",
        body=body,
        status="received",
    )
    session.add(sms)
    session.commit()
    return sms


def flag(session, help_request, **moments) -> None:
    for field, value in moments.items():
        setattr(help_request, field, value)
    session.add(help_request)
    session.commit()


# The request page -------------------------------------------------------------------------


def test_the_panel_shows_each_offer_its_sms_and_the_conversation_but_no_number(
    app, operator, db_session
):
    mia = make_volunteer(app, db_session, name="Mia Claes", mobile_number="0470 12 34 56")
    tom = make_volunteer(app, db_session, name="Tom Wouters", mobile_number="0470 65 43 21")
    help_request = make_request(app, db_session)
    asked_mia = offer(app, db_session, help_request, mia, sms_status="delivered")
    asked_tom = offer(app, db_session, help_request, tom, sms_status="undelivered", code=30003)
    close_offer(db_session, asked_tom, "undelivered", reason="SMS not delivered", code=30003)
    db_session.commit()
    text_from(db_session, mia, asked_mia, f"Ik bel eerst, nr 0470 12 34 56 {asked_mia.code}")

    html = operator.get(
        f"/requests/{help_request.id}/assignments", headers={"HX-Request": "true"}
    ).get_data(as_text=True)

    # Newest first: Tom's offer, then Mia's.
    tom_starts = html.index(f'data-assignment="{asked_tom.id}"')
    mia_starts = html.index(f'data-assignment="{asked_mia.id}"')
    tom_part, mia_part = html[tom_starts:mia_starts], html[mia_starts:]
    assert "waiting for an answer" in mia_part and "SMS delivered" in mia_part
    assert "expires" in mia_part
    assert "to the volunteer" in mia_part and "from the volunteer" in mia_part
    assert mia_part.index("to the volunteer") < mia_part.index("from the volunteer")
    assert "Ik bel eerst, nr [number]" in mia_part
    assert "SMS not delivered" in tom_part
    assert "could not be delivered: the phone is off or out of reach" in tom_part
    for digits in ("12 34 56", "123456", "65 43 21", "654321"):
        assert digits not in html
    # It refreshes itself, except while the operator is using it (callcenter.js pauses it).
    assert 'hx-trigger="every 5s"' in html and "data-pause-while-used" in html


def test_the_history_says_in_words_why_an_offer_sms_did_not_arrive(app, operator, db_session):
    mia = make_volunteer(app, db_session, name="Mia Claes")
    help_request = make_request(app, db_session)
    asked = offer(app, db_session, help_request, mia, sms_status="undelivered", code=30005)
    close_offer(db_session, asked, "undelivered", reason="SMS not delivered", code=30005)
    db_session.commit()

    html = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)

    history = html[html.index('class="history"') :]
    assert (
        "Mia Claes · <strong>SMS to the volunteer could not be delivered: the number does not exist"
        in history
    )


def test_an_opted_out_volunteer_is_suggested_with_a_warning(app, operator, db_session):
    stopped = make_volunteer(app, db_session, name="Stan Stop")
    stopped.sms_opted_out_at = utcnow()
    db_session.add(stopped)
    db_session.commit()
    help_request = make_request(app, db_session)

    html = operator.get(f"/requests/{help_request.id}/assignments").get_data(as_text=True)

    suggestion = html[html.index("Stan Stop") :]
    assert "does not want SMS" in suggestion


def test_asking_the_best_suggested_volunteer_sends_them_an_offer(app, operator, db_session, staff):
    make_volunteer(app, db_session, name="Far Frida", postcode="3012")
    best = make_volunteer(app, db_session, name="Near Nico", postcode="3000")
    help_request = make_request(app, db_session, postcode="3000")
    page = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)
    assert "Ask the best suggested volunteer by SMS" in page  # offers_at_once = 1

    response = operator.post(f"/requests/{help_request.id}/ask-best")

    assert response.headers["Location"] == f"/requests/{help_request.id}"
    assert flashes(operator) == [("message", "Asked by SMS: Near Nico.")]
    (assignment,) = db_session.exec(select(Assignment)).all()
    assert (assignment.volunteer_id, assignment.assigned_by_id) == (best.id, staff["olga"])
    offer_sms = db_session.exec(select(SmsMessage).where(SmsMessage.kind == "offer")).one()
    work = db_session.exec(select(OutboxMessage).where(OutboxMessage.job == SEND_SMS_JOB)).one()
    assert work.payload == {"sms_id": offer_sms.id}
    assert work.enqueued_at is not None  # relayed right after the commit


TWO_AT_ONCE = """
[hotline]
flows_dir = "{flows}"

[lines.leuven]
name = "Leuven Helpt"
phone_number = "+32 16 27 27 72"
flow = "leuven"
sms_from = "+32 470 27 27 72"
offers_at_once = 2
[lines.leuven.postcodes]
3000 = "Leuven"
3001 = "Heverlee"
"""


def test_a_line_that_offers_to_two_at_once_asks_the_best_two(app_config, tmp_path):
    from hotline import create_app
    from hotline.access.accounts import create_operator
    from tests.conftest import ROOT

    config = tmp_path / "two-at-once.toml"
    config.write_text(TWO_AT_ONCE.format(flows=ROOT / "ivr_flows"))
    two_at_once = create_app({**app_config, "config_file": config})
    with Session(two_at_once.extensions["hotline.engine"]) as session:
        create_operator(session, username="olga", display_name="Olga", locale="en",
                        password=STAFF_PASSWORD)  # fmt: skip
        make_volunteer(two_at_once, session, name="Ann Aerts", postcode="3000")
        make_volunteer(two_at_once, session, name="Bert Bos", postcode="3000", has_car=True)
        make_volunteer(two_at_once, session, name="Cas Claes", postcode="3001")
        help_request = make_request(two_at_once, session, postcode="3000")
        request_id, reference = help_request.id, help_request.reference
    olga = StaffClient(two_at_once, "olga")
    assert "Ask the best 2 suggested volunteers by SMS" in olga.get(
        f"/requests/{request_id}"
    ).get_data(as_text=True)

    olga.post(f"/requests/{request_id}/ask-best")

    assert flashes(olga) == [("message", "Asked by SMS: Ann Aerts, Bert Bos.")]
    queue = olga.get("/requests/").get_data(as_text=True)
    row = queue[queue.index(f'data-reference="{reference}"') :]
    assert "2 asked · waiting" in row[: row.index("</tr>")]
    # Both offers are open: the button is gone until one of them closes.
    assert "Ask the best" not in olga.get(f"/requests/{request_id}").get_data(as_text=True)
    two_at_once.extensions["hotline.engine"].dispose()


def test_asking_when_nobody_is_left_flags_the_request(app, operator, db_session):
    help_request = make_request(app, db_session)

    operator.post(f"/requests/{help_request.id}/ask-best")

    assert flashes(operator) == [
        ("error", "No volunteer found: every suggested volunteer was asked.")
    ]
    db_session.refresh(help_request)
    assert help_request.no_volunteer_at is not None
    page = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)
    assert "No volunteer found: every suggested volunteer was asked" in page


def test_asking_the_best_needs_the_csrf_token(app, operator, db_session):
    make_volunteer(app, db_session)
    help_request = make_request(app, db_session)

    response = operator.post(f"/requests/{help_request.id}/ask-best", {"csrf_token": None})

    assert response.status_code == 400
    assert db_session.exec(select(Assignment)).first() is None


def test_a_decline_recorded_by_an_operator_moves_on_to_the_next_volunteer(
    app, operator, db_session
):
    first = make_volunteer(app, db_session, name="First Fien", postcode="3000")
    second = make_volunteer(app, db_session, name="Second Sien", postcode="3001")
    help_request = make_request(app, db_session, postcode="3000")
    asked = offer(app, db_session, help_request, first)

    operator.post(f"/assignments/{asked.id}/reply", {"reply": "declined"})

    assert flashes(operator) == [
        ("message", "Recorded: First Fien declined."),
        ("message", "Asked by SMS: Second Sien."),
    ]
    open_offers = db_session.exec(select(Assignment).where(Assignment.status == "offered")).all()
    assert [a.volunteer_id for a in open_offers] == [second.id]


def test_an_answer_the_offer_can_no_longer_take_is_refused_in_words_not_codes(
    app, operator, db_session
):
    volunteer = make_volunteer(app, db_session, name="First Fien")
    help_request = make_request(app, db_session)
    asked = offer(app, db_session, help_request, volunteer)
    asked.status = "given_back"
    db_session.add(asked)
    db_session.commit()

    operator.post(f"/assignments/{asked.id}/reply", {"reply": "accepted"})

    [(category, said)] = flashes(operator)
    assert category == "error"
    assert said == "This assignment is already given back; it cannot become accepted."


def test_an_offer_withdrawn_because_the_volunteer_texted_stop_says_so(app, db_session):
    from callcenter_ui.offer_words import offer_event_text
    from hotline.models import AuditEvent

    event = AuditEvent(
        action="assignment:cancelled", detail={"reason": "the volunteer texted STOP"}
    )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert offer_event_text(event) == "Offer withdrawn: the volunteer texted STOP"
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        assert offer_event_text(event) == "Aanbod ingetrokken: de vrijwilliger stuurde STOP"


# The queue ---------------------------------------------------------------------------------


def test_the_queue_puts_a_request_without_volunteer_first_and_shows_each_offer(
    app, operator, db_session
):
    mia = make_volunteer(app, db_session, name="Mia Claes")
    vera = make_volunteer(app, db_session, name="Vera Peeters")
    urgent = make_request(app, db_session, urgency="today")
    two_asked = make_request(app, db_session, urgency="today")
    stuck = make_request(app, db_session, urgency="coming_days")
    offer(app, db_session, urgent, mia, sms_status="delivered")
    offer(app, db_session, two_asked, mia)
    offer(app, db_session, two_asked, vera)
    flag(db_session, stuck, no_volunteer_at=utcnow())

    html = operator.get("/requests/").get_data(as_text=True)

    rows = html.split("<tr")
    references = [r.split('data-reference="')[1][:6] for r in rows if "data-reference" in r]
    assert references == [stuck.reference, urgent.reference, two_asked.reference]
    (stuck_row,) = [row for row in rows if stuck.reference in row]
    assert "no volunteer found" in stuck_row
    (urgent_row,) = [row for row in rows if urgent.reference in row]
    assert "Mia C. · SMS delivered" in urgent_row
    (two_row,) = [row for row in rows if two_asked.reference in row]
    assert "2 asked · waiting" in two_row


def test_offer_states_are_the_open_offers_or_else_the_latest_in_one_query(app, db_session):
    mia = make_volunteer(app, db_session, name="Mia Claes")
    vera = make_volunteer(app, db_session, name="Vera")
    declined = make_request(app, db_session)
    waiting = make_request(app, db_session)
    record_assignment_reply(
        db_session, assignment=offer(app, db_session, declined, mia), reply="declined"
    )
    offer(app, db_session, waiting, mia, sms_status="delivered")
    offer(app, db_session, waiting, vera, sms_status="queued")
    request_ids = [declined.id, waiting.id, 999]
    statements = []
    engine = app.extensions["hotline.engine"]
    listener = lambda *args: statements.append(args[2])  # noqa: E731

    sa.event.listen(engine, "before_cursor_execute", listener)
    with Session(engine) as session:
        states = offer_states(session, request_ids)
    sa.event.remove(engine, "before_cursor_execute", listener)

    assert len(statements) == 1
    assert [(s.short_name, s.status) for s in states[declined.id]] == [("Mia C.", "declined")]
    assert [(s.volunteer_name, s.sms_status) for s in states[waiting.id]] == [
        ("Vera", "queued"),
        ("Mia Claes", "delivered"),
    ]
    assert 999 not in states


# Needs follow-up and the dashboard ---------------------------------------------------------


def accepted_request(app, session, volunteer, **fields) -> HelpRequest:
    help_request = make_request(app, session, **fields)
    assignment = offer(app, session, help_request, volunteer, sms_status="delivered")
    record_assignment_reply(session, assignment=assignment, reply="accepted")
    session.refresh(help_request)
    return help_request


def test_the_follow_up_list_shows_accepted_requests_without_klaar_to_their_lines_only(
    app_config, tmp_path
):
    from hotline import create_app
    from hotline.access.accounts import create_operator
    from tests.conftest import ROOT

    config = tmp_path / "two-lines.toml"
    config.write_text(TWO_LINES.format(flows=ROOT / "ivr_flows"))
    two_lines = create_app({**app_config, "config_file": config})
    with Session(two_lines.extensions["hotline.engine"]) as session:
        for username, lines in (("olga", []), ("hanne", ["herent"])):
            create_operator(session, username=username, display_name=username, locale="en",
                            password=STAFF_PASSWORD, lines=lines)  # fmt: skip
        vera = make_volunteer(two_lines, session, name="Vera Peeters")
        older = accepted_request(two_lines, session, vera)
        newer = accepted_request(two_lines, session, vera)
        quiet = accepted_request(two_lines, session, vera)
        flag(session, newer, follow_up_at=utcnow())
        flag(session, older, follow_up_at=utcnow() - timedelta(hours=2))
        references = older.reference, newer.reference, quiet.reference

    olga_sees = StaffClient(two_lines, "olga").get("/requests/follow-up").get_data(as_text=True)
    hanne_sees = StaffClient(two_lines, "hanne").get("/requests/follow-up").get_data(as_text=True)

    assert 'href="/requests/follow-up"' in olga_sees  # in the menu, next to Call-backs
    rows = olga_sees[olga_sees.index('id="follow-up-rows"') :]
    assert rows.index(references[0]) < rows.index(references[1])
    assert references[2] not in rows
    assert "Vera Peeters" in rows
    assert references[0] not in hanne_sees and "Nothing needs follow-up." in hanne_sees
    two_lines.extensions["hotline.engine"].dispose()


def test_the_dashboard_counts_no_volunteer_found_and_needs_follow_up(app, operator, db_session):
    vera = make_volunteer(app, db_session)
    flag(db_session, make_request(app, db_session), no_volunteer_at=utcnow())
    closed = make_request(app, db_session)
    flag(db_session, closed, no_volunteer_at=utcnow(), status="cancelled")
    flag(db_session, accepted_request(app, db_session, vera), follow_up_at=utcnow())

    html = operator.get("/dashboard/").get_data(as_text=True)

    no_volunteer = html[html.index('data-figure="no-volunteer-found"') :]
    assert no_volunteer.startswith(
        'data-figure="no-volunteer-found"><a href="/requests/"><strong>1<'
    )
    follow_up = html[html.index('data-figure="needs-follow-up"') :]
    assert follow_up.startswith(
        'data-figure="needs-follow-up"><a href="/requests/follow-up"><strong>1<'
    )


# The volunteer page ------------------------------------------------------------------------


def test_the_volunteer_page_says_they_do_not_want_sms_and_shows_their_texts(
    app, operator, db_session
):
    mia = make_volunteer(app, db_session, name="Mia Claes", mobile_number="0470 12 34 56")
    asked = offer(app, db_session, make_request(app, db_session), mia, sms_status="delivered")
    text_from(db_session, mia, asked, "STOP")
    flag(db_session, mia, sms_opted_out_at=utcnow())

    html = operator.get(f"/volunteers/{mia.id}").get_data(as_text=True)

    assert "Does not want SMS (texted STOP on" in html
    texts = html[html.index('id="sms-title"') :]
    assert texts.index(asked.code) < texts.index("STOP")  # the offer, then their answer
    assert "12 34 56" not in html and "123456" not in html
