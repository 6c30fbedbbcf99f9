"""Masked calls: a volunteer and the resident they help reach each other through the line.

A volunteer with an accepted request who calls the line from their registered mobile,
or a resident whose request has an accepted volunteer, is recognised by the keyed hash
of their number before the language menu. On their wish the line rings the other one,
showing its own number; the person rung hears who is calling and accepts with 1.
Neither ever sees the other's number: both stay in the vault, and only the TwiML sent
to the provider holds the number dialled. Every attempt and how it went is in the
request's history; nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from hotline.audit import record
from hotline.config import LineSettings
from hotline.dispatch import AssignmentStatus
from hotline.messaging.texts import volunteer_language
from hotline.models import Assignment, Contact, HelpRequest, Line, RequestStatus, Volunteer

MASKED_CALL = "masked_call"  # audit action; detail: direction, outcome, call_sid
TARGETS = ("resident", "volunteer")  # the people an IVR dial node may put a caller through to
DIRECTIONS = {"resident": "volunteer_to_resident", "volunteer": "resident_to_volunteer"}


@dataclass(frozen=True)
class Party:
    """The person a masked call rings, and what they hear before accepting."""

    contact: Contact
    help_request: HelpRequest
    assignment: Assignment
    volunteer: Volunteer
    language: str  # the rung person's language


def area(help_request: HelpRequest, line: LineSettings | None) -> str:
    """Where a request is, as said on the phone: the municipality, else the postcode."""
    postcode = help_request.postcode or ""
    return (line.postcodes.get(postcode) if line else None) or postcode


def _volunteer(session: Session, *, line: Line, contact: Contact | None) -> Volunteer | None:
    if contact is None:
        return None
    return session.exec(
        select(Volunteer).where(
            Volunteer.contact_id == contact.id, Volunteer.line_id == line.id, Volunteer.active
        )
    ).first()


def _accepted(session: Session, volunteer: Volunteer) -> list[tuple[Assignment, HelpRequest]]:
    """The volunteer's accepted assignments whose request is still in hand (not done)."""
    rows = session.exec(
        select(Assignment, HelpRequest)
        .join(HelpRequest, HelpRequest.id == Assignment.help_request_id)
        .where(
            Assignment.volunteer_id == volunteer.id,
            Assignment.status == AssignmentStatus.ACCEPTED,
            HelpRequest.status == RequestStatus.ACCEPTED,
        )
        .order_by(Assignment.responded_at.desc(), Assignment.id.desc())
    ).all()
    return [(assignment, help_request) for assignment, help_request in rows]


def _volunteer_of(
    session: Session, help_request: HelpRequest
) -> tuple[Assignment, Volunteer] | None:
    row = session.exec(
        select(Assignment, Volunteer)
        .join(Volunteer, Volunteer.id == Assignment.volunteer_id)
        .where(
            Assignment.help_request_id == help_request.id,
            Assignment.status == AssignmentStatus.ACCEPTED,
        )
    ).first()
    return (row[0], row[1]) if row else None


def _may_be_known(session: Session, *, line: Line, contact: Contact) -> bool:
    """Whether the caller is one of the line's volunteers or has a request in hand."""
    volunteer = sa.exists().where(
        Volunteer.contact_id == contact.id, Volunteer.line_id == line.id, Volunteer.active
    )
    helped = sa.exists().where(
        HelpRequest.caller_hash == contact.caller_hash,
        HelpRequest.line_id == line.id,
        HelpRequest.status == RequestStatus.ACCEPTED,
    )
    return bool(session.exec(select(sa.or_(volunteer, helped))).one())


def recognise_caller(
    session: Session, *, line: Line, line_settings: LineSettings, contact: Contact | None
) -> dict:
    """Who is calling, for the flow's "recognise_caller" effect.

    role "volunteer" (one accepted request: its reference and area), "volunteer_several"
    (how many), "resident" (their request with a volunteer), or none: the usual welcome.
    """
    if contact is None or not _may_be_known(session, line=line, contact=contact):
        return {}  # most callers: one query on the first webhook, then the welcome
    volunteer = _volunteer(session, line=line, contact=contact)
    if volunteer is not None:
        accepted = _accepted(session, volunteer)
        language = volunteer_language(volunteer, line_settings)
        if len(accepted) == 1:
            help_request = accepted[0][1]
            return {
                "role": "volunteer",
                "language": language,
                "reference": help_request.reference,
                "area": area(help_request, line_settings),
            }
        if accepted:
            return {"role": "volunteer_several", "language": language, "assignments": len(accepted)}
    if contact is None:
        return {}
    for help_request in session.exec(
        select(HelpRequest)
        .where(
            HelpRequest.caller_hash == contact.caller_hash,
            HelpRequest.line_id == line.id,
            HelpRequest.status == RequestStatus.ACCEPTED,
        )
        .order_by(HelpRequest.created_at.desc())
    ):
        found = _volunteer_of(session, help_request)
        if found and found[1].contact_id and found[1].active:
            return {
                "role": "resident",
                "language": help_request.language,
                "reference": help_request.reference,
            }
    return {}


def pick_assignment(
    session: Session,
    *,
    line: Line,
    line_settings: LineSettings,
    contact: Contact | None,
    code: str,
) -> dict:
    """A volunteer with several requests keyed one's code (from its SMS): which one it is."""
    volunteer = _volunteer(session, line=line, contact=contact)
    if volunteer is not None:
        for assignment, help_request in _accepted(session, volunteer):
            if assignment.code == code:
                return {
                    "found": "yes",
                    "reference": help_request.reference,
                    "area": area(help_request, line_settings),
                }
    return {"found": "no"}


def party(
    session: Session,
    *,
    line: Line,
    line_settings: LineSettings,
    caller: Contact | None,
    reference: str,
    target: str,
) -> Party | None:
    """The person ``target`` of request ``reference`` whom this caller may be put through to.

    Checked again at every dial, from the database, not from what the call remembers:
    the volunteer must still hold the request, and the resident must be its caller.
    """
    if caller is None or target not in TARGETS:
        return None
    help_request = session.exec(
        select(HelpRequest).where(
            HelpRequest.line_id == line.id,
            HelpRequest.reference == reference,
            HelpRequest.status == RequestStatus.ACCEPTED,
        )
    ).first()
    found = _volunteer_of(session, help_request) if help_request else None
    if found is None:
        return None
    assignment, volunteer = found
    if target == "resident":
        if volunteer.contact_id != caller.id or not help_request.contact_id:
            return None
        contact = session.get(Contact, help_request.contact_id)
        language = help_request.language or line_settings.languages[0]
    else:
        if help_request.caller_hash != caller.caller_hash or not volunteer.contact_id:
            return None
        if not volunteer.active:
            return None
        contact = session.get(Contact, volunteer.contact_id)
        language = volunteer_language(volunteer, line_settings)
    if contact is None:
        return None
    return Party(contact, help_request, assignment, volunteer, language)


def record_attempt(
    session: Session, *, found: Party, target: str, outcome: str, call_sid: str
) -> None:
    """Put a masked call and how it went in the request's history (no number, no recording)."""
    record(
        session,
        MASKED_CALL,
        operator_id=None,
        help_request_id=found.help_request.id,
        volunteer_id=found.volunteer.id,
        direction=DIRECTIONS[target],
        outcome=outcome,
        call_sid=call_sid,
    )
