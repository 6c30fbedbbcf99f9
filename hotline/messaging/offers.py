"""Offers that move on by themselves: answers, the next volunteer, expiry, check-ins.

- An answer (by SMS or recorded by an operator) goes through ``answer_offer``: the
  others whose offer it closes are told the request is taken; a NEE moves it on.
- A declined, expired or undelivered offer moves on (``move_on``) when the line has
  ``auto_offer``: the best suggested volunteers not asked before, up to
  ``offers_at_once`` open offers and ``max_offers`` in all. When nobody is left the
  request goes back to the top of the queue, marked "no volunteer found".
- Timers are outbox work with ``run_at``, run by rq's scheduler: an offer expires
  after the line's ``offer_expiry``; an accepted assignment without KLAAR gets one
  reminder after ``reminder_after``, and needs follow-up ``follow_up_after`` later.

Nothing here commits: jobs, webhooks and views commit, then relay the outbox.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.config import LineSettings
from hotline.dispatch import (
    EXPIRE_OFFER_JOB,
    OPEN_ASSIGNMENT_STATUSES,
    ROW_LOCK,
    AssignmentStatus,
    ReplyOutcome,
    apply_reply,
    close_offer,
    offer_volunteer,
    set_timer,
    why_not_assignable,
)
from hotline.messaging.sending import queue_text
from hotline.messaging.texts import describe, sms_text, summary, volunteer_language
from hotline.models import Assignment, HelpRequest, SmsMessage, Volunteer, utcnow
from hotline.privacy import redact_personal_details
from hotline.suggestions import suggest_volunteers

log = logging.getLogger(__name__)
A = AssignmentStatus

SEND_REMINDER_JOB = "hotline.jobs.send_reminder"
FLAG_FOLLOW_UP_JOB = "hotline.jobs.flag_follow_up"
# The offer SMS reached (or may have reached) the volunteer: they are told when it is taken.
OFFER_SEEN_STATUSES = ("queued", "sent", "delivered", "read")


def answer_offer(
    session: Session,
    *,
    assignment: Assignment,
    reply: str,
    operator_id: int | None,
    line: LineSettings,
) -> ReplyOutcome:
    """Record a volunteer's answer and do what follows from it.

    Accepted: the other volunteers asked are told it is taken, a check-in is timed,
    and (when an operator recorded it) the volunteer is texted the details. Declined
    or given back: the next volunteer is asked when the line has ``auto_offer``.
    """
    outcome = apply_reply(session, assignment=assignment, reply=reply, operator_id=operator_id)
    help_request = session.get(HelpRequest, assignment.help_request_id)
    for other in outcome.withdrawn:
        tell_taken(session, other, help_request=help_request, line=line)
    if outcome.result == A.ACCEPTED:
        set_timer(
            session,
            SEND_REMINDER_JOB,
            at=utcnow() + timedelta(seconds=line.reminder_after_for(help_request.urgency)),
            assignment=assignment,
        )
        if operator_id is not None:  # by SMS, the details are the answer to their JA
            volunteer = session.get(Volunteer, assignment.volunteer_id)
            queue_text(
                session,
                volunteer=volunteer,
                kind="details",
                body=details_text(volunteer, assignment, help_request, line),
                help_request_id=help_request.id,
                assignment_id=assignment.id,
            )
    if outcome.result in (A.DECLINED, A.GIVEN_BACK):
        move_on(session, help_request=help_request, line=line)
    return outcome


def details_text(
    volunteer: Volunteer, assignment: Assignment, help_request: HelpRequest, line: LineSettings
) -> str:
    """What a volunteer needs after JA: the need, area, urgency, the message in one line."""
    language = volunteer_language(volunteer, line)
    message = help_request.message or help_request.transcript or ""
    return sms_text(
        "details",
        language,
        line,
        reference=help_request.reference,
        code=assignment.code,
        summary=summary(redact_personal_details(message)),
        **describe(language, help_request, line),
    )


def tell_taken(
    session: Session, assignment: Assignment, *, help_request: HelpRequest, line: LineSettings
) -> SmsMessage | None:
    """Thank a volunteer whose offer closed because someone else accepted, if they saw it."""
    seen = session.exec(
        select(SmsMessage.id).where(
            SmsMessage.assignment_id == assignment.id,
            SmsMessage.kind == "offer",
            col(SmsMessage.status).in_(OFFER_SEEN_STATUSES),
        )
    ).first()
    if seen is None:
        return None  # never reached them (or not yet: the send job skips a closed offer)
    volunteer = session.get(Volunteer, assignment.volunteer_id)
    language = volunteer_language(volunteer, line)
    return queue_text(
        session,
        volunteer=volunteer,
        kind="taken",
        body=sms_text("taken", language, line, reference=help_request.reference),
        help_request_id=help_request.id,
        assignment_id=assignment.id,
    )


def move_on(session: Session, *, help_request: HelpRequest, line: LineSettings) -> list[Assignment]:
    """After a volunteer dropped out: the next ones when the line offers by itself."""
    if not (line.auto_offer and line.sends_sms):
        return []  # without SMS an offer would only wait for its expiry
    return offer_next(session, help_request=help_request, line=line, operator_id=None)


def offer_next(
    session: Session, *, help_request: HelpRequest, line: LineSettings, operator_id: int | None
) -> list[Assignment]:
    """Offer ``help_request`` to the best suggested volunteers who were not asked before.

    Fills up to the line's ``offers_at_once`` open offers, and never beyond
    ``max_offers`` offers for the request in all. Skips volunteers who texted STOP or
    have no number. When nobody is left and no offer is open, the request is marked
    "no volunteer found" (back at the top of the queue). Returns the new offers.
    """
    session.flush()
    session.refresh(help_request, with_for_update=ROW_LOCK)  # one offer round at a time
    if why_not_assignable(help_request) is not None:
        return []
    assignments = list(
        session.exec(select(Assignment).where(Assignment.help_request_id == help_request.id))
    )
    open_count = sum(1 for a in assignments if a.status in OPEN_ASSIGNMENT_STATUSES)
    asked = {a.volunteer_id for a in assignments}
    wanted = min(line.offers_at_once - open_count, line.max_offers - len(assignments))
    offered: list[Assignment] = []
    if wanted > 0:
        # Only the few wanted are ranked: never every volunteer of a large line.
        for suggestion in suggest_volunteers(
            session,
            help_request=help_request,
            now=utcnow(),
            limit=wanted,
            line=line,
            exclude=asked,
            reachable_by_sms=True,
        ):
            volunteer = suggestion.volunteer
            offered.append(
                offer_volunteer(
                    session,
                    help_request=help_request,
                    volunteer=volunteer,
                    operator_id=operator_id,
                    line=line,
                )
            )
    if not offered and open_count == 0 and help_request.no_volunteer_at is None:
        help_request.no_volunteer_at = utcnow()
        session.add(help_request)
        record(
            session,
            "no_volunteer_found",
            operator_id=operator_id,
            help_request_id=help_request.id,
            asked=len(assignments),
        )
        log.info("help request %s: no volunteer found after %d offers", help_request.id, len(asked))
    return offered


def expire_offer(session: Session, *, assignment_id: int, line: LineSettings) -> bool:
    """An offer nobody answered in time: closed as expired, and the request moves on."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.status != A.OFFERED:
        return False
    if assignment.expires_at and assignment.expires_at > utcnow() + timedelta(seconds=1):
        # Not yet (a timer that fired early): set it again for its own moment.
        set_timer(session, EXPIRE_OFFER_JOB, at=assignment.expires_at, assignment=assignment)
        return False
    if not close_offer(session, assignment, A.EXPIRED, reason="no answer in time"):
        return False
    help_request = session.get(HelpRequest, assignment.help_request_id)
    move_on(session, help_request=help_request, line=line)
    return True


def offer_not_delivered(
    session: Session,
    *,
    assignment_id: int,
    code: int | None,
    line: LineSettings,
    reason: str = "SMS not delivered",
) -> bool:
    """The offer SMS could not reach the volunteer: closed as undelivered, and moved on."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        return False
    if not close_offer(session, assignment, A.UNDELIVERED, reason=reason, code=code):
        return False
    help_request = session.get(HelpRequest, assignment.help_request_id)
    move_on(session, help_request=help_request, line=line)
    return True


def send_reminder(session: Session, *, assignment_id: int, line: LineSettings) -> bool:
    """JA but no KLAAR after ``reminder_after``: one reminder, and the follow-up timed."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.status != A.ACCEPTED or assignment.reminded_at:
        return False
    help_request = session.get(HelpRequest, assignment.help_request_id)
    if help_request.status != "accepted":
        return False  # closed another way (an operator, the API): nothing to remind of
    volunteer = session.get(Volunteer, assignment.volunteer_id)
    assignment.reminded_at = utcnow()
    session.add(assignment)
    queue_text(
        session,
        volunteer=volunteer,
        kind="reminder",
        body=sms_text(
            "reminder",
            volunteer_language(volunteer, line),
            line,
            reference=help_request.reference,
            code=assignment.code,
        ),
        help_request_id=help_request.id,
        assignment_id=assignment.id,
    )
    record(
        session,
        "sms_reminder",
        operator_id=None,
        help_request_id=help_request.id,
        volunteer_id=volunteer.id,
        assignment_id=assignment.id,
    )
    set_timer(
        session,
        FLAG_FOLLOW_UP_JOB,
        at=assignment.reminded_at + timedelta(seconds=line.follow_up_after),
        assignment=assignment,
    )
    return True


def flag_follow_up(session: Session, *, assignment_id: int) -> bool:
    """Still no KLAAR after the reminder: the request appears in "needs follow-up"."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.status != A.ACCEPTED:
        return False
    help_request = session.get(HelpRequest, assignment.help_request_id)
    if help_request.status != "accepted" or help_request.follow_up_at is not None:
        return False
    help_request.follow_up_at = utcnow()
    session.add(help_request)
    record(
        session,
        "needs_follow_up",
        operator_id=None,
        help_request_id=help_request.id,
        volunteer_id=assignment.volunteer_id,
        assignment_id=assignment.id,
    )
    return True
