"""Dispatch: offering a help request to a volunteer, and recording what the volunteer answered.

An assignment is an offer to one volunteer. The volunteer answers by SMS with a
4-digit code ("JA 4821", "NEE 4821", "KLAAR 4821"), or tells an operator on the
phone, who records the answer. Each answer moves the help request along its life
(hotline.lifecycle): offered → assigned, accepted → accepted, declined → back to
triaged (unless another offer is still open), done → done.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.lifecycle import can_change, change_status
from hotline.models import Assignment, HelpRequest, RequestStatus, Volunteer, utcnow
from hotline.outbox import add_work
from hotline.volunteers import N_, TranslatableError

SEND_ASSIGNMENT_SMS_JOB = "hotline.jobs.send_assignment_sms"


class AssignmentStatus(StrEnum):
    """Where an offer to a volunteer stands."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"
    CANCELLED = "cancelled"


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
    session: Session, *, help_request: HelpRequest, volunteer: Volunteer, operator_id: int | None
) -> Assignment:
    """Offer ``help_request`` to ``volunteer``: an assignment with a fresh code, the request
    "assigned", an audit event, and the volunteer's SMS queued as outbox work. Committed.
    """
    # Two operators assigning at once (or a reply arriving): one waits for the other's
    # commit and then sees its assignment (a row lock on PostgreSQL; SQLite writes in turn).
    session.refresh(help_request, with_for_update=True)
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
    assignment = Assignment(
        help_request_id=help_request.id,
        volunteer_id=volunteer.id,
        code=new_assignment_code(session, volunteer_id=volunteer.id),
        status=A.OFFERED,
        assigned_by_id=operator_id,
    )
    session.add(assignment)
    session.flush()  # the outbox row and the audit event need the id
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
    add_work(session, queue="messages", job=SEND_ASSIGNMENT_SMS_JOB, assignment_id=assignment.id)
    session.commit()
    return assignment


def record_assignment_reply(
    session: Session, *, assignment: Assignment, reply: str, operator_id: int | None = None
) -> Assignment:
    """Record a volunteer's answer (accepted, declined or done) and move the request along.

    ``operator_id`` is None when the volunteer answered by SMS. The same answer
    given twice changes nothing; an answer the assignment can no longer take is
    refused. Accepting or finishing closes the other volunteers' open offers.
    Committed.
    """
    # Two answers at once (an operator and an SMS): the second waits, then sees the first.
    session.refresh(assignment, with_for_update=True)
    reply = reply.strip().lower()
    if reply not in REPLIES:
        raise AssignmentError(N_("Unknown answer: %(reply)s."), reply=reply)
    if assignment.status == reply:
        return assignment  # a repeated SMS or a double click
    if reply not in REPLY_TRANSITIONS.get(assignment.status, set()):
        raise AssignmentError(
            N_("This assignment is already %(status)s; it cannot become %(reply)s."),
            status=assignment.status,
            reply=reply,
        )
    help_request = session.get(HelpRequest, assignment.help_request_id)
    others = [
        other
        for other in _open_assignments(session, help_request_id=assignment.help_request_id)
        if other.id != assignment.id
    ]
    if reply == A.DECLINED:
        # Another offer still open: the request stays with that volunteer.
        new_status = None if others else RequestStatus.TRIAGED
    else:
        new_status = RequestStatus.ACCEPTED if reply == A.ACCEPTED else RequestStatus.DONE
    if new_status is not None and not can_change(help_request.status, new_status):
        raise AssignmentError(
            N_("The request is %(status)s: this answer cannot be recorded."),
            status=help_request.status,
        )
    assignment.status, assignment.responded_at = reply, utcnow()
    session.add(assignment)
    if reply in (A.ACCEPTED, A.DONE):
        reason = "another volunteer accepted" if reply == A.ACCEPTED else "the request is done"
        for other in others:
            _close(session, other, A.CANCELLED, operator_id=operator_id, reason=reason)
    if new_status is not None:
        change_status(session, help_request, new_status, operator_id=operator_id)
    record(
        session,
        f"assignment:{reply}",
        operator_id=operator_id,
        help_request_id=assignment.help_request_id,
        volunteer_id=assignment.volunteer_id,
        assignment_id=assignment.id,
        via="operator" if operator_id is not None else "sms",
    )
    session.commit()
    return assignment


def cancel_open_assignments(
    session: Session, *, help_request: HelpRequest, operator_id: int | None, reason: str
) -> list[Assignment]:
    """Close a request's open offers (e.g. because the request is cancelled). Not committed."""
    closed = _open_assignments(session, help_request_id=help_request.id)
    for assignment in closed:
        _close(session, assignment, A.CANCELLED, operator_id=operator_id, reason=reason)
    return closed


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
    session: Session, assignment: Assignment, status: str, *, operator_id: int | None, reason: str
) -> None:
    assignment.status = status
    session.add(assignment)
    record(
        session,
        f"assignment:{status}",
        operator_id=operator_id,
        help_request_id=assignment.help_request_id,
        volunteer_id=assignment.volunteer_id,
        assignment_id=assignment.id,
        reason=reason,
    )
