"""Intake use cases: turning a call (or an operator's form) into an anonymised help request."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from hotline.audit import record
from hotline.models import Contact, HelpRequest, Line, RequestStatus, VolunteerLead
from hotline.observability.metrics import HELP_REQUESTS_CREATED
from hotline.outbox import add_work

ANNOUNCE_JOB = "hotline.jobs.announce_request"


def new_reference(session: Session, line_id: int) -> str:
    """A six-digit reference, unique within the line; never starts with 0 (easier to say)."""
    while True:
        reference = str(secrets.randbelow(900_000) + 100_000)
        taken = session.exec(
            select(HelpRequest.id).where(
                HelpRequest.line_id == line_id, HelpRequest.reference == reference
            )
        ).first()
        if taken is None:
            return reference


def create_help_request(
    session: Session,
    *,
    line: Line,
    contact: Contact | None,
    call_sid: str | None = None,
    source: str = "ivr",
    language: str | None = None,
    category: str | None = None,
    postcode: str | None = None,
    urgency: str | None = None,
    recording_sid: str | None = None,
    message: str = "",
) -> HelpRequest:
    """Create a help request and its outbox work in the caller's transaction.

    A call creates at most one request: asked again for the same ``call_sid``
    (Twilio retried a webhook), the existing request is returned.
    """
    if call_sid is not None:
        existing = session.exec(select(HelpRequest).where(HelpRequest.call_sid == call_sid)).first()
        if existing is not None:
            if recording_sid and not existing.recording_sid:
                # The caller hung up mid-message: the call's end may be reported before the
                # recording, which then joins the request already made.
                existing.recording_sid = recording_sid
                session.add(existing)
            return existing
    help_request = HelpRequest(
        line_id=line.id,
        reference=new_reference(session, line.id),
        source=source,
        status=RequestStatus.NEW,
        language=language,
        category=category,
        postcode=postcode,
        urgency=urgency,
        recording_sid=recording_sid,
        message=message,
        caller_hash=contact.caller_hash if contact else None,
        contact_id=contact.id if contact else None,
        call_sid=call_sid,
    )
    session.add(help_request)
    session.flush()  # the outbox row needs the id
    add_work(session, queue="intake", job=ANNOUNCE_JOB, help_request_id=help_request.id)
    HELP_REQUESTS_CREATED.labels(line.slug, source).inc()
    return help_request


def request_status_for_caller(
    session: Session, *, line: Line, reference: str, caller_hash: str | None
) -> str:
    """The plain status of a request, only for the caller who made it; otherwise "unknown".

    "unknown" is said for a wrong reference and for someone else's alike, so the
    answer reveals nothing about other people's requests.
    """
    help_request = session.exec(
        select(HelpRequest).where(
            HelpRequest.line_id == line.id, HelpRequest.reference == reference
        )
    ).first()
    if help_request is None or not caller_hash or help_request.caller_hash != caller_hash:
        return "unknown"
    if help_request.status in (RequestStatus.NEW, RequestStatus.TRIAGED):
        return "received"
    if help_request.status in (RequestStatus.ASSIGNED, RequestStatus.ACCEPTED):
        return "volunteer_found"
    if help_request.status == RequestStatus.DONE:
        return "done"
    return "unknown"  # cancelled: a human explains that, not the machine


def create_volunteer_lead(
    session: Session,
    *,
    line: Line,
    contact: Contact | None,
    call_sid: str | None,
    language: str | None,
    recording_sid: str | None,
) -> VolunteerLead:
    """Record that a caller offered to volunteer (once per call) for coordinators to follow up."""
    if call_sid is not None:
        existing = session.exec(
            select(VolunteerLead).where(VolunteerLead.call_sid == call_sid)
        ).first()
        if existing is not None:
            return existing
    lead = VolunteerLead(
        line_id=line.id,
        language=language,
        recording_sid=recording_sid,
        caller_hash=contact.caller_hash if contact else None,
        contact_id=contact.id if contact else None,
        call_sid=call_sid,
    )
    session.add(lead)
    session.flush()
    return lead


LEAD_STATUSES = ("new", "contacted", "registered", "dropped")


def list_volunteer_leads(
    session: Session, *, status: str | None = None, visible: Any = None
) -> list[VolunteerLead]:
    """People who phoned to offer help; new ones first, oldest first within a status.

    ``visible``: the access policy's ``lead_filter`` (None: every line's).
    """
    query = select(VolunteerLead)
    if visible is not None:
        query = query.where(visible)
    if status:
        query = query.where(VolunteerLead.status == status)
    first_new = sa.case((VolunteerLead.status == "new", 0), else_=1)
    return list(session.exec(query.order_by(first_new, VolunteerLead.created_at)))


def set_lead_status(
    session: Session, *, lead: VolunteerLead, status: str, operator_id: int
) -> VolunteerLead:
    """A coordinator followed a lead up: contacted, registered (as a volunteer) or dropped."""
    if status not in LEAD_STATUSES:
        raise ValueError(f"a lead's status is one of {', '.join(LEAD_STATUSES)}")
    old, lead.status = lead.status, status
    session.add(lead)
    record(session, "volunteer_lead", operator_id=operator_id, lead_id=lead.id, **{"from": old,
           "to": status})  # fmt: skip
    session.commit()
    return lead
