"""Dispatch: offering a help request to a volunteer, and recording what the volunteer answered.

An assignment is an offer to one volunteer. The volunteer answers by SMS with a
4-digit code ("JA 4821", "NEE 4821", "KLAAR 4821"), or tells an operator on the
phone, who records the answer. Each answer moves the help request along its life
(hotline.lifecycle): offered → assigned, accepted → accepted, declined → back to
triaged (unless another offer is still open), done → done.

An offer is offered → accepted / declined / expired / undelivered / cancelled
(withdrawn); an accepted one ends done or given back. What happens next (the next
volunteer, texts to the others) is ``hotline.messaging.offers``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.config import LineSettings
from hotline.lifecycle import can_change, change_status, claim_status
from hotline.messaging.sending import queue_text
from hotline.messaging.texts import assignment_offer_text, volunteer_language
from hotline.models import Assignment, HelpRequest, Line, RequestStatus, Volunteer, utcnow
from hotline.outbox import add_work
from hotline.volunteers import N_, TranslatableError, line_settings

EXPIRE_OFFER_JOB = "hotline.jobs.expire_offer"
# SELECT ... FOR NO KEY UPDATE on PostgreSQL: it waits for other writers of the row but not
# for rows that merely point at it (a new sms_message or audit event takes a KEY SHARE
# lock on its request), which FOR UPDATE would, deadlocking two simultaneous answers.
ROW_LOCK = {"key_share": True}


class AssignmentStatus(StrEnum):
    """Where an offer to a volunteer stands."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"
    CANCELLED = "cancelled"  # withdrawn: another volunteer accepted, the request was closed
    EXPIRED = "expired"  # no answer in time
    UNDELIVERED = "undelivered"  # the offer SMS could not reach the volunteer
    GIVEN_BACK = "given_back"  # accepted, then NEE: the request needs someone else


# Why open offers are withdrawn when a request closes under them, as stable codes that
# the call centre puts into words (callcenter_ui/offer_words.py).
CLOSED_REASONS = {
    RequestStatus.CANCELLED: "request cancelled",
    RequestStatus.DONE: "the request is done",
}


A = AssignmentStatus
OPEN_ASSIGNMENT_STATUSES = (A.OFFERED, A.ACCEPTED)
REPLIES = (A.ACCEPTED, A.DECLINED, A.DONE)
# The answers an assignment can still take: a volunteer may give up after accepting,
# or report done without having said yes first; closed assignments take none.
REPLY_TRANSITIONS: dict[str, set[str]] = {
    A.OFFERED: {A.ACCEPTED, A.DECLINED, A.DONE},
    A.ACCEPTED: {A.DECLINED, A.DONE},
}
# A request may be offered to more volunteers while nobody has accepted yet.
ASSIGNABLE_STATUSES = (RequestStatus.NEW, RequestStatus.TRIAGED, RequestStatus.ASSIGNED)
# When all codes a volunteer ever had are nearly used up, only open ones must differ.
MAX_REMEMBERED_CODES = 8000


class AssignmentError(TranslatableError):
    """An assignment or answer that cannot be recorded (the message says why)."""


@dataclass
class ReplyOutcome:
    """What an answer did: the assignment's new state and the offers it closed."""

    assignment: Assignment
    result: str  # accepted | declined | given_back | done | taken (lost to another JA) | unchanged
    withdrawn: list[Assignment]  # other volunteers' offers closed by this answer


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment with its volunteer, as the request page lists them."""

    assignment: Assignment
    volunteer: Volunteer

    @property
    def is_open(self) -> bool:
        return self.assignment.status in OPEN_ASSIGNMENT_STATUSES


def why_not_assignable(help_request: HelpRequest) -> AssignmentError | None:
    """Why no volunteer can be offered this request now, or None when one can."""
    if help_request.status in (RequestStatus.DONE, RequestStatus.CANCELLED):
        return AssignmentError(
            N_("This request is %(status)s: it cannot be assigned."), status=help_request.status
        )
    if help_request.status == RequestStatus.ACCEPTED:
        return AssignmentError(N_("A volunteer has already accepted this request."))
    return None


def assign_volunteer(
    session: Session,
    *,
    help_request: HelpRequest,
    volunteer: Volunteer,
    operator_id: int | None,
    line: LineSettings | None = None,
) -> Assignment:
    """Offer ``help_request`` to ``volunteer`` (see ``offer_volunteer``). Committed."""
    # Two operators assigning at once (or a reply arriving): one waits for the other's
    # commit and then sees its assignment (a row lock on PostgreSQL; SQLite writes in turn).
    session.refresh(help_request, with_for_update=ROW_LOCK)
    assignment = offer_volunteer(
        session, help_request=help_request, volunteer=volunteer, operator_id=operator_id, line=line
    )
    session.commit()
    return assignment


def offer_volunteer(
    session: Session,
    *,
    help_request: HelpRequest,
    volunteer: Volunteer,
    operator_id: int | None,
    line: LineSettings | None = None,
) -> Assignment:
    """Offer ``help_request`` to ``volunteer``: an assignment with a fresh code that expires
    after the line's ``offer_expiry``, the request "assigned", an audit event, and the
    volunteer's SMS and the expiry timer written as outbox work. Not committed.
    """
    line = line or _line_of(session, help_request)
    refusal = why_not_assignable(help_request)
    if refusal is not None:
        raise refusal
    if not volunteer.active:
        raise AssignmentError(N_("%(name)s is not active."), name=volunteer.name)
    if volunteer.safety_accepted_at is None:
        raise AssignmentError(
            N_("%(name)s has not accepted the safety instructions yet."), name=volunteer.name
        )
    if volunteer.line_id != help_request.line_id:
        raise AssignmentError(N_("%(name)s volunteers for another line."), name=volunteer.name)
    already = session.exec(
        select(Assignment.id).where(
            Assignment.help_request_id == help_request.id,
            Assignment.volunteer_id == volunteer.id,
            col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
        )
    ).first()
    if already is not None:
        raise AssignmentError(
            N_("%(name)s already has an open assignment for this request."), name=volunteer.name
        )
    now = utcnow()
    assignment = Assignment(
        help_request_id=help_request.id,
        volunteer_id=volunteer.id,
        code=new_assignment_code(session, volunteer_id=volunteer.id),
        status=A.OFFERED,
        assigned_by_id=operator_id,
        created_at=now,
        expires_at=now + timedelta(seconds=line.offer_expiry_for(help_request.urgency)),
    )
    session.add(assignment)
    session.flush()  # the outbox rows and the audit event need the id
    if help_request.status != RequestStatus.ASSIGNED:
        change_status(session, help_request, RequestStatus.ASSIGNED, operator_id=operator_id)
    record(
        session,
        "assignment:offered",
        operator_id=operator_id,
        help_request_id=help_request.id,
        volunteer_id=volunteer.id,
        assignment_id=assignment.id,
        code=assignment.code,
    )
    body = assignment_offer_text(
        language=volunteer_language(volunteer, line),
        line_name=line.name,
        reference=help_request.reference,
        code=assignment.code,
        category=help_request.category,
        postcode=help_request.postcode,
        municipality=line.postcodes.get(help_request.postcode or ""),
        urgency=help_request.urgency,
    )
    queue_text(
        session,
        volunteer=volunteer,
        kind="offer",
        body=body,
        help_request_id=help_request.id,
        assignment_id=assignment.id,
    )
    set_timer(session, EXPIRE_OFFER_JOB, at=assignment.expires_at, assignment=assignment)
    return assignment


def set_timer(session: Session, job: str, *, at: datetime, assignment: Assignment) -> None:
    """Run ``job`` for ``assignment`` at ``at`` (outbox work with ``run_at``; rq's scheduler
    starts it). Not committed."""
    add_work(session, queue="messages", job=job, run_at=at, assignment_id=assignment.id)


def record_assignment_reply(
    session: Session, *, assignment: Assignment, reply: str, operator_id: int | None = None
) -> Assignment:
    """Record a volunteer's answer (see ``apply_reply``) without offering the request on.
    Committed. ``hotline.messaging.offers.answer_offer`` also moves the request on."""
    outcome = apply_reply(session, assignment=assignment, reply=reply, operator_id=operator_id)
    session.commit()
    return outcome.assignment


def apply_reply(
    session: Session, *, assignment: Assignment, reply: str, operator_id: int | None = None
) -> ReplyOutcome:
    """Apply a volunteer's answer (accepted, declined or done) and move the request along.

    ``operator_id`` is None when the volunteer answered by SMS. The same answer
    given twice changes nothing; an answer the assignment can no longer take is
    refused (AssignmentError). Of two volunteers who accept at once exactly one
    wins; the other's offer is withdrawn ("taken"). Accepting or finishing closes
    the other volunteers' open offers. NEE after JA gives the request back. Not committed.
    """
    reply = reply.strip().lower()
    if reply not in REPLIES:
        raise AssignmentError(N_("Unknown answer: %(reply)s."), reply=reply)
    # Locks in one order everywhere (the request, then its offers), so that two answers,
    # an expiry and a delivery report on PostgreSQL wait for each other instead of
    # deadlocking. SQLite has no row locks: the conditional UPDATEs below decide there.
    help_request = session.get(HelpRequest, assignment.help_request_id)
    session.refresh(help_request, with_for_update=ROW_LOCK)
    session.refresh(assignment, with_for_update=ROW_LOCK)
    if assignment.status == reply or (assignment.status == A.GIVEN_BACK and reply == A.DECLINED):
        return ReplyOutcome(assignment, "unchanged", [])  # a repeated SMS or a double click
    if reply not in REPLY_TRANSITIONS.get(assignment.status, set()):
        raise AssignmentError(
            N_("This assignment is already %(status)s; it cannot become %(reply)s."),
            status=assignment.status,
            reply=reply,
        )
    new_status = {A.ACCEPTED: RequestStatus.ACCEPTED, A.DONE: RequestStatus.DONE}.get(reply)
    second_ja = reply == A.ACCEPTED and help_request.status == RequestStatus.ACCEPTED
    if new_status is not None and not can_change(help_request.status, new_status) and not second_ja:
        raise AssignmentError(
            N_("The request is %(status)s: this answer cannot be recorded."),
            status=help_request.status,
        )
    via = "operator" if operator_id is not None else "sms"
    before = assignment.status
    result = A.GIVEN_BACK if reply == A.DECLINED and before == A.ACCEPTED else reply
    if not _move(session, assignment, before, result, responded_at=utcnow()):
        # Changed under us (an expiry, another answer): the same answer is fine, else refused.
        if assignment.status == result:
            return ReplyOutcome(assignment, "unchanged", [])
        raise AssignmentError(
            N_("This assignment is already %(status)s; it cannot become %(reply)s."),
            status=assignment.status,
            reply=reply,
        )
    if new_status is not None and not claim_status(
        session, help_request, new_status, operator_id=operator_id
    ):
        # Someone else's JA (or a closing operator) came first: this offer is withdrawn.
        taken = help_request.status in (RequestStatus.ACCEPTED, RequestStatus.DONE)
        reason = (
            "another volunteer accepted"
            if taken
            else CLOSED_REASONS.get(help_request.status, f"the request is {help_request.status}")
        )
        _close(session, assignment, A.CANCELLED, operator_id=operator_id, reason=reason)
        return ReplyOutcome(assignment, "taken" if taken else "closed", [])
    withdrawn = []
    if reply in (A.ACCEPTED, A.DONE):
        reason = "another volunteer accepted" if reply == A.ACCEPTED else "the request is done"
        for other in _open_assignments(session, help_request_id=assignment.help_request_id):
            if other.id != assignment.id and _close(
                session, other, A.CANCELLED, operator_id=operator_id, reason=reason
            ):
                withdrawn.append(other)
    record(
        session,
        f"assignment:{result}",
        operator_id=operator_id,
        help_request_id=assignment.help_request_id,
        volunteer_id=assignment.volunteer_id,
        assignment_id=assignment.id,
        via=via,
    )
    if reply == A.DECLINED:
        settle_without_volunteer(session, help_request, operator_id=operator_id)
    return ReplyOutcome(assignment, result, withdrawn)


def _move(session: Session, assignment: Assignment, expected: str, new: str, **values) -> bool:
    """Move an assignment from ``expected`` to ``new`` only if nobody moved it first."""
    moved = session.execute(
        sa.update(Assignment)
        .where(col(Assignment.id) == assignment.id, col(Assignment.status) == expected)
        .values(status=new, **values)
    ).rowcount
    session.refresh(assignment)
    return bool(moved)


def close_offer(
    session: Session, assignment: Assignment, status: str, *, reason: str, **detail: object
) -> bool:
    """Close an unanswered offer as ``status`` (expired, undelivered); False if it was not
    open any more. The request falls back to triaged when no other offer is open. Not committed.
    """
    help_request = session.get(HelpRequest, assignment.help_request_id)
    session.refresh(help_request, with_for_update=ROW_LOCK)  # request first, then its offer
    session.refresh(assignment)
    if assignment.status != A.OFFERED or not _close(
        session, assignment, status, operator_id=None, reason=reason, **detail
    ):
        return False
    session.refresh(help_request)  # as it is now, not as the job first read it
    settle_without_volunteer(session, help_request, operator_id=None)
    return True


def settle_without_volunteer(
    session: Session, help_request: HelpRequest, *, operator_id: int | None
) -> None:
    """A request whose volunteer dropped out: back to triaged unless another offer is open."""
    session.flush()
    if help_request.status in (RequestStatus.ASSIGNED, RequestStatus.ACCEPTED) and not (
        _open_assignments(session, help_request_id=help_request.id)
    ):
        change_status(session, help_request, RequestStatus.TRIAGED, operator_id=operator_id)


def cancel_open_assignments(
    session: Session, *, help_request: HelpRequest, operator_id: int | None, reason: str
) -> list[Assignment]:
    """Close a request's open offers (e.g. because the request is cancelled). Not committed."""
    return [
        assignment
        for assignment in _open_assignments(session, help_request_id=help_request.id)
        if _close(session, assignment, A.CANCELLED, operator_id=operator_id, reason=reason)
    ]


def new_assignment_code(session: Session, *, volunteer_id: int) -> str:
    """Four digits (never starting with 0, easier to read) unique among the volunteer's open
    assignments; while possible, also unlike their earlier ones, so that a late reply to an
    old assignment cannot land on a new one.
    """
    used = set(session.exec(select(Assignment.code).where(Assignment.volunteer_id == volunteer_id)))
    if len(used) > MAX_REMEMBERED_CODES:
        used = set(
            session.exec(
                select(Assignment.code).where(
                    Assignment.volunteer_id == volunteer_id,
                    col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
                )
            )
        )
    while True:
        code = str(secrets.randbelow(9000) + 1000)
        if code not in used:
            return code


def find_open_assignment(session: Session, *, volunteer_id: int, code: str) -> Assignment | None:
    """The volunteer's open assignment with ``code`` (as in "JA 4821"), if any."""
    return session.exec(
        select(Assignment).where(
            Assignment.volunteer_id == volunteer_id,
            Assignment.code == code.strip(),
            col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
        )
    ).first()


def assignments_for_request(session: Session, *, help_request_id: int) -> list[AssignmentRow]:
    """A request's assignments with their volunteers, newest first."""
    rows = session.exec(
        select(Assignment, Volunteer)
        .join(Volunteer, col(Volunteer.id) == Assignment.volunteer_id)
        .where(Assignment.help_request_id == help_request_id)
        .order_by(col(Assignment.created_at).desc(), col(Assignment.id).desc())
    ).all()
    return [AssignmentRow(assignment, volunteer) for assignment, volunteer in rows]


def open_assignment_counts(
    session: Session, volunteer_ids: list[int] | None = None
) -> dict[int, int]:
    """How many open (offered or accepted) assignments each volunteer holds; absent means 0."""
    query = (
        select(Assignment.volunteer_id, sa.func.count())
        .where(col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES))
        .group_by(Assignment.volunteer_id)
    )
    if volunteer_ids is not None:
        query = query.where(col(Assignment.volunteer_id).in_(volunteer_ids))
    return dict(session.exec(query).all())


def _open_assignments(session: Session, *, help_request_id: int) -> list[Assignment]:
    return list(
        session.exec(
            select(Assignment).where(
                Assignment.help_request_id == help_request_id,
                col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
            )
        )
    )


def _close(
    session: Session,
    assignment: Assignment,
    status: str,
    *,
    operator_id: int | None,
    reason: str,
    **detail: object,
) -> bool:
    """Close an open assignment as ``status`` (audited) unless it moved meanwhile."""
    if not _move(session, assignment, assignment.status, status):
        return False
    record(
        session,
        f"assignment:{status}",
        operator_id=operator_id,
        help_request_id=assignment.help_request_id,
        volunteer_id=assignment.volunteer_id,
        assignment_id=assignment.id,
        reason=reason,
        **detail,
    )
    return True


def _line_of(session: Session, help_request: HelpRequest) -> LineSettings:
    return line_settings(
        current_app.extensions["hotline.settings"], session.get(Line, help_request.line_id)
    )
