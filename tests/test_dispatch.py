"""Assigning a volunteer and recording the answer: the request's life, the outbox, the audit log."""

from __future__ import annotations

import re

import pytest
from flask import render_template
from rq import Queue
from sqlmodel import select

from hotline.dispatch import (
    AssignmentError,
    assign_volunteer,
    cancel_open_assignments,
    find_open_assignment,
    record_assignment_reply,
)
from hotline.lifecycle import change_status
from hotline.messaging.sending import SEND_SMS_JOB
from hotline.models import Assignment, AuditEvent, HelpRequest, OutboxMessage, SmsMessage
from hotline.outbox import job_id
from tests.volunteers_helpers import leuven, make_request, make_volunteer


def sms_work(session) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.job == SEND_SMS_JOB)))


def actions(session, help_request_id: int) -> list[str]:
    return list(
        session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.help_request_id == help_request_id)
            .order_by(AuditEvent.id)
        )
    )


def flashes(staff_client) -> list[tuple[str, str]]:
    with staff_client.client.session_transaction() as session:
        return list(session.get("_flashes", []))


# The use cases --------------------------------------------------------------------------


def test_assigning_offers_the_request_with_a_code_and_queues_the_sms_by_id_only(
    app, db_session, staff
):
    volunteer = make_volunteer(app, db_session, name="Vera")
    help_request = make_request(app, db_session)

    assignment = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=volunteer,
        operator_id=staff["olga"],
    )

    assert re.fullmatch(r"[1-9]\d{3}", assignment.code)
    assert (assignment.status, assignment.assigned_by_id) == ("offered", staff["olga"])
    db_session.refresh(help_request)
    assert help_request.status == "assigned"
    assert help_request.assigned_at is not None
    (work,) = sms_work(db_session)
    offer_sms = db_session.exec(
        select(SmsMessage).where(SmsMessage.assignment_id == assignment.id)
    ).one()
    assert (work.queue, work.payload) == ("messages", {"sms_id": offer_sms.id})
    assert offer_sms.kind == "offer" and offer_sms.status == "pending"
    assert actions(db_session, help_request.id) == ["status", "assignment:offered"]
    offered = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "assignment:offered")
    ).one()
    assert (offered.volunteer_id, offered.operator_id) == (volunteer.id, staff["olga"])
    assert offered.detail == {"assignment_id": assignment.id, "code": assignment.code}


def test_a_triaged_request_can_be_assigned_too(app, db_session):
    help_request = make_request(app, db_session)
    change_status(db_session, help_request, "triaged", operator_id=None)
    db_session.commit()

    assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )

    assert help_request.status == "assigned"


def test_a_request_may_be_offered_to_a_second_volunteer_while_nobody_has_accepted(app, db_session):
    help_request = make_request(app, db_session)
    first = make_volunteer(app, db_session, name="First")
    second = make_volunteer(app, db_session, name="Second")
    assign_volunteer(
        db_session, line=leuven(app), help_request=help_request, volunteer=first, operator_id=None
    )

    assign_volunteer(
        db_session, line=leuven(app), help_request=help_request, volunteer=second, operator_id=None
    )

    assert help_request.status == "assigned"
    assert len(sms_work(db_session)) == 2
    assert actions(db_session, help_request.id).count("status") == 1


@pytest.mark.parametrize("status", ["cancelled", "done"])
def test_a_closed_request_cannot_be_assigned(app, db_session, status):
    help_request = make_request(app, db_session)
    help_request.status = status
    db_session.add(help_request)
    db_session.commit()

    with pytest.raises(AssignmentError, match=f"This request is {status}"):
        assign_volunteer(
            db_session,
            line=leuven(app),
            help_request=help_request,
            volunteer=make_volunteer(app, db_session),
            operator_id=None,
        )

    assert db_session.exec(select(Assignment)).first() is None
    assert sms_work(db_session) == []


def test_a_request_a_volunteer_accepted_is_not_offered_to_others(app, db_session):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session, name="Helper"),
        operator_id=None,
    )
    record_assignment_reply(db_session, assignment=offer, reply="accepted")

    with pytest.raises(AssignmentError, match="already accepted"):
        assign_volunteer(
            db_session,
            line=leuven(app),
            help_request=help_request,
            volunteer=make_volunteer(app, db_session, name="Other"),
            operator_id=None,
        )


def test_an_inactive_volunteer_cannot_be_assigned(app, db_session):
    volunteer = make_volunteer(app, db_session, name="Resting", active=False)
    help_request = make_request(app, db_session)

    with pytest.raises(AssignmentError, match="Resting is not active"):
        assign_volunteer(
            db_session,
            line=leuven(app),
            help_request=help_request,
            volunteer=volunteer,
            operator_id=None,
        )

    db_session.refresh(help_request)
    assert help_request.status == "new"


def test_a_volunteer_without_the_safety_instructions_cannot_be_assigned(app, db_session):
    volunteer = make_volunteer(app, db_session, name="Newbie", safety_accepted_on=None)

    with pytest.raises(AssignmentError, match="safety instructions"):
        assign_volunteer(
            db_session,
            line=leuven(app),
            help_request=make_request(app, db_session),
            volunteer=volunteer,
            operator_id=None,
        )


def test_a_volunteer_is_not_asked_twice_for_the_same_request(app, db_session):
    volunteer = make_volunteer(app, db_session, name="Vera")
    help_request = make_request(app, db_session)
    assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=volunteer,
        operator_id=None,
    )

    with pytest.raises(AssignmentError, match="already has an open assignment"):
        assign_volunteer(
            db_session,
            line=leuven(app),
            help_request=help_request,
            volunteer=volunteer,
            operator_id=None,
        )

    assert len(db_session.exec(select(Assignment)).all()) == 1


def test_a_volunteers_open_assignments_have_different_codes(app, db_session):
    volunteer = make_volunteer(app, db_session)

    codes = [
        assign_volunteer(
            db_session,
            line=leuven(app),
            help_request=make_request(app, db_session),
            volunteer=volunteer,
            operator_id=None,
        ).code
        for _ in range(40)
    ]

    assert len(set(codes)) == 40
    assert (
        find_open_assignment(db_session, volunteer_id=volunteer.id, code=codes[7]).code == codes[7]
    )


def test_accepting_moves_the_request_on_and_withdraws_the_other_offers(app, db_session, staff):
    help_request = make_request(app, db_session)
    first = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session, name="First"),
        operator_id=None,
    )
    second = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session, name="Second"),
        operator_id=None,
    )

    record_assignment_reply(
        db_session, assignment=second, reply="accepted", operator_id=staff["olga"]
    )

    db_session.refresh(first)
    assert (second.status, first.status, help_request.status) == (
        "accepted",
        "cancelled",
        "accepted",
    )
    assert second.responded_at is not None
    assert actions(db_session, help_request.id)[-3:] == [
        "status",
        "assignment:cancelled",
        "assignment:accepted",
    ]
    accepted = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "assignment:accepted")
    ).one()
    assert accepted.operator_id == staff["olga"]
    assert accepted.detail == {"assignment_id": second.id, "via": "operator"}


def test_a_declined_offer_sends_the_request_back_to_triaged(app, db_session):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )

    record_assignment_reply(db_session, assignment=offer, reply="declined")

    assert (offer.status, help_request.status) == ("declined", "triaged")
    event = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "assignment:declined")
    ).one()
    assert event.detail["via"] == "sms"


def test_a_decline_keeps_the_request_assigned_while_another_offer_is_open(app, db_session):
    help_request = make_request(app, db_session)
    first = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session, name="First"),
        operator_id=None,
    )
    assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session, name="Second"),
        operator_id=None,
    )

    record_assignment_reply(db_session, assignment=first, reply="declined")

    assert help_request.status == "assigned"


def test_a_volunteer_who_accepted_and_then_gives_up_sends_the_request_back(app, db_session):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )
    record_assignment_reply(db_session, assignment=offer, reply="accepted")

    record_assignment_reply(db_session, assignment=offer, reply="declined")

    assert (offer.status, help_request.status) == ("given_back", "triaged")


def test_done_closes_the_request(app, db_session):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )
    record_assignment_reply(db_session, assignment=offer, reply="accepted")

    record_assignment_reply(db_session, assignment=offer, reply="done")

    assert (offer.status, help_request.status) == ("done", "done")


def test_the_same_answer_twice_changes_nothing(app, db_session):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )
    record_assignment_reply(db_session, assignment=offer, reply="accepted")
    before = actions(db_session, help_request.id)

    record_assignment_reply(db_session, assignment=offer, reply="accepted")

    assert actions(db_session, help_request.id) == before


@pytest.mark.parametrize(
    ("first", "then"),
    [("declined", "accepted"), ("declined", "done"), ("done", "declined"), ("done", "accepted")],
)
def test_a_closed_assignment_takes_no_further_answer(app, db_session, first, then):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )
    record_assignment_reply(db_session, assignment=offer, reply=first)
    status_before = help_request.status

    with pytest.raises(AssignmentError, match=f"already {first}"):
        record_assignment_reply(db_session, assignment=offer, reply=then)

    db_session.refresh(offer)
    db_session.refresh(help_request)
    assert (offer.status, help_request.status) == (first, status_before)


def test_an_answer_for_a_cancelled_request_is_refused(app, db_session):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )
    change_status(db_session, help_request, "cancelled", operator_id=None, reason="resolved")
    db_session.commit()

    with pytest.raises(AssignmentError, match="The request is cancelled"):
        record_assignment_reply(db_session, assignment=offer, reply="accepted")

    db_session.refresh(offer)
    assert offer.status == "offered"


def test_cancelling_a_request_withdraws_its_open_offers(app, db_session, staff):
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )

    cancel_open_assignments(
        db_session, help_request=help_request, operator_id=staff["olga"], reason="request cancelled"
    )
    db_session.commit()

    db_session.refresh(offer)
    assert offer.status == "cancelled"
    assert (
        find_open_assignment(db_session, volunteer_id=offer.volunteer_id, code=offer.code) is None
    )


def test_an_unknown_answer_is_refused(app, db_session):
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=make_request(app, db_session),
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )

    with pytest.raises(AssignmentError, match="Unknown answer"):
        record_assignment_reply(db_session, assignment=offer, reply="maybe")


# Through the operators' pages ------------------------------------------------------------


def test_an_operator_assigns_a_suggested_volunteer_and_the_sms_job_reaches_rq(
    app, operator, db_session, redis_conn, staff
):
    volunteer = make_volunteer(app, db_session, name="Vera Peeters", mobile_number="0470 55 66 77")
    help_request = make_request(app, db_session)

    response = operator.post(
        f"/requests/{help_request.id}/assign", {"volunteer_id": str(volunteer.id)}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/requests/{help_request.id}"
    assignment = db_session.exec(select(Assignment)).one()
    assert assignment.assigned_by_id == staff["olga"]
    ((category, message),) = flashes(operator)
    assert category == "message"
    assert f"Vera Peeters has been asked to help (code {assignment.code})" in message
    (work,) = sms_work(db_session)
    assert work.enqueued_at is not None  # relayed right after the commit
    job = Queue("messages", connection=redis_conn).fetch_job(job_id(work))
    assert job.func_name == SEND_SMS_JOB
    assert (job.args, job.kwargs) == ((), {"sms_id": work.payload["sms_id"]})


def test_assigning_an_inactive_volunteer_through_the_page_says_why(app, operator, db_session):
    volunteer = make_volunteer(app, db_session, name="Resting Rita", active=False)
    help_request = make_request(app, db_session)

    operator.post(f"/requests/{help_request.id}/assign", {"volunteer_id": str(volunteer.id)})

    assert flashes(operator) == [("error", "Resting Rita is not active.")]
    assert db_session.exec(select(Assignment)).first() is None


def test_assigning_without_csrf_token_is_refused(app, operator, db_session):
    volunteer = make_volunteer(app, db_session)
    help_request = make_request(app, db_session)

    response = operator.post(
        f"/requests/{help_request.id}/assign",
        {"volunteer_id": str(volunteer.id), "csrf_token": None},
    )

    assert response.status_code == 400
    assert db_session.exec(select(Assignment)).first() is None


def test_an_operator_records_what_the_volunteer_said_on_the_phone(app, operator, db_session, staff):
    volunteer = make_volunteer(app, db_session, name="Vera Peeters")
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=volunteer,
        operator_id=staff["olga"],
    )

    response = operator.post(f"/assignments/{offer.id}/reply", {"reply": "accepted"})

    assert response.headers["Location"] == f"/requests/{help_request.id}"
    assert flashes(operator) == [("message", "Recorded: Vera Peeters accepted.")]
    db_session.refresh(help_request)
    assert help_request.status == "accepted"

    operator.post(f"/assignments/{offer.id}/reply", {"reply": "done"})

    db_session.refresh(help_request)
    db_session.refresh(offer)
    assert (offer.status, help_request.status) == ("done", "done")

    operator.post(f"/assignments/{offer.id}/reply", {"reply": "declined"})

    assert flashes(operator)[-1][0] == "error"
    db_session.refresh(offer)
    assert offer.status == "done"


def test_the_panel_shows_ranked_suggestions_with_reasons_and_assign_buttons(
    app, operator, db_session
):
    make_volunteer(app, db_session, name="Neighbour Nina", postcode="3001")
    make_volunteer(
        app, db_session, name="Same Sam", postcode="3000", has_car=True, mobile_number="0470998877"
    )
    help_request = make_request(app, db_session, postcode="3000")

    response = operator.get(f"/requests/{help_request.id}/assignments")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.index("Same Sam") < html.index("Neighbour Nina")
    assert "same postcode" in html
    assert "neighbouring postcode" in html
    assert "has skill: Groceries or pharmacy" in html
    assert "speaks Dutch" in html
    assert "available now" in html
    assert html.count('name="volunteer_id"') == 2
    assert f'action="/requests/{help_request.id}/assign"' in html
    assert "470998877" not in html


def test_the_panel_lists_the_requests_assignments_with_their_status(
    app, operator, db_session, staff
):
    volunteer = make_volunteer(app, db_session, name="Vera Peeters", mobile_number="0470 11 22 33")
    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=volunteer,
        operator_id=staff["olga"],
    )

    html = operator.get(f"/requests/{help_request.id}/assignments").get_data(as_text=True)

    assert "Vera Peeters" in html
    assert offer.code in html
    assert "waiting for an answer" in html
    assert f'action="/assignments/{offer.id}/reply"' in html
    assert 'value="accepted"' in html
    assert "470 11 22 33" not in html and "470112233" not in html
    # Vera is asked already: she is not suggested again.
    assert 'name="volunteer_id"' not in html


def test_the_panel_of_a_closed_request_offers_no_assignment(app, db_session):
    make_volunteer(app, db_session, name="Vera Peeters")
    help_request = make_request(app, db_session)
    change_status(db_session, help_request, "cancelled", operator_id=None, reason="resolved")
    db_session.commit()

    with app.test_request_context(headers={"Accept-Language": "en"}):
        html = render_template(
            "assignments/_panel.html", help_request=db_session.get(HelpRequest, help_request.id)
        )

    assert "This request is cancelled: it cannot be assigned." in html
    assert "Vera Peeters" not in html
    assert 'name="volunteer_id"' not in html


def test_the_panel_offers_the_next_best_beyond_the_first_five_and_a_search(
    app, operator, db_session
):
    for number in range(7):
        make_volunteer(app, db_session, name=f"Volunteer {number}")
    help_request = make_request(app, db_session)

    html = operator.get(f"/requests/{help_request.id}/assignments").get_data(as_text=True)

    assert html.count('type="hidden" name="volunteer_id"') == 5
    assert "2 more suggestions, or find any volunteer" in html
    assert len(re.findall(r'<option value="\d+">Volunteer', html)) == 2
    assert f'action="/requests/{help_request.id}/volunteers"' in html


def test_htmx_gets_the_bare_panel_and_a_browser_a_whole_page(app, operator, db_session):
    help_request = make_request(app, db_session)
    url = f"/requests/{help_request.id}/assignments"

    fragment = operator.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    whole_page = operator.get(url).get_data(as_text=True)

    assert 'id="assignment-panel"' in fragment and "<html" not in fragment
    assert 'id="assignment-panel"' in whole_page and "<html" in whole_page
    assert f"Back to request {help_request.reference}" in whole_page
