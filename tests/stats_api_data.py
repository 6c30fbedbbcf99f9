"""Test data for the dashboard and API tests: requests, volunteers and assignments made the
way the app makes them (numbers only ever go into the vault)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from hotline.db import line_row
from hotline.intake import create_help_request
from hotline.models import Assignment, HelpRequest, Line, Volunteer
from hotline.privacy import store_contact

# Callers' and volunteers' numbers: no API response or page may show any of them.
CALLER_NUMBERS = ("+32470112233", "+32471445566", "+32472778899")
VOLUNTEER_NUMBERS = ("+32485123987", "+32486654321")


def leuven(app, session: Session) -> Line:
    """The Leuven line's row."""
    return line_row(session, app.extensions["hotline.settings"], "leuven")


def make_request(
    app,
    session: Session,
    *,
    number: str | None = CALLER_NUMBERS[0],
    status: str = "new",
    created_at: datetime | None = None,
    assigned_at: datetime | None = None,
    **facts,
) -> HelpRequest:
    """A help request from a caller (through intake and the vault), then put in ``status``."""
    secrets = app.extensions["hotline.settings"].secrets
    contact = store_contact(session, secrets, number) if number else None
    message = facts.pop("message", "")
    help_request = create_help_request(session, line=leuven(app, session), contact=contact, **facts)
    help_request.message = message
    help_request.status = status
    if created_at is not None:
        help_request.created_at = help_request.updated_at = created_at
    help_request.assigned_at = assigned_at
    session.add(help_request)
    session.commit()
    return help_request


def make_volunteer(
    app, session: Session, *, name: str, number: str | None = VOLUNTEER_NUMBERS[0], **fields
) -> Volunteer:
    """A volunteer whose mobile number is in the vault."""
    secrets = app.extensions["hotline.settings"].secrets
    contact = store_contact(session, secrets, number) if number else None
    volunteer = Volunteer(
        line_id=leuven(app, session).id,
        name=name,
        contact_id=contact.id if contact else None,
        **{"postcode": "3000", "languages": ["nl"], "skills": ["groceries"], **fields},
    )
    session.add(volunteer)
    session.commit()
    return volunteer


def make_assignment(
    session: Session, *, help_request: HelpRequest, volunteer: Volunteer, status: str = "offered"
) -> Assignment:
    """A volunteer asked to help with a request."""
    assignment = Assignment(
        help_request_id=help_request.id, volunteer_id=volunteer.id, code="4821", status=status
    )
    session.add(assignment)
    session.commit()
    return assignment
