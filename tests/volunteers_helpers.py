"""Test helpers for volunteers, suggestions and dispatch: real rows through the real use cases."""

from __future__ import annotations

from datetime import date
from itertools import count

from sqlmodel import Session

from hotline.db import line_row
from hotline.intake import create_help_request
from hotline.models import HelpRequest, Volunteer
from hotline.volunteers import VolunteerDetails, create_volunteer

_numbers = count(1)


def leuven(app):
    """The Leuven line's settings."""
    return app.extensions["hotline.settings"].lines["leuven"]


def make_volunteer(app, session: Session, **overrides) -> Volunteer:
    """A registered volunteer (safety instructions accepted, available any time) unless told."""
    settings = app.extensions["hotline.settings"]
    mobile_number = overrides.pop("mobile_number", f"+3247{next(_numbers):07d}")
    active = overrides.pop("active", True)
    values = {
        "name": "Vera Volunteer",
        "postcode": "3000",
        "languages": ["nl"],
        "skills": ["groceries"],
        "availability": {},
        "has_car": False,
        "safety_accepted_on": date(2020, 3, 20),
        **overrides,
    }
    volunteer = create_volunteer(
        session,
        line=settings.lines["leuven"],
        line_row=line_row(session, settings, "leuven"),
        secrets=settings.secrets,
        details=VolunteerDetails(**values),
        mobile_number=mobile_number,
        operator_id=None,
    )
    if not active:
        volunteer.active = False
        session.add(volunteer)
        session.commit()
    return volunteer


def make_request(app, session: Session, **fields) -> HelpRequest:
    """A help request on the Leuven line, as a call would leave it (status new)."""
    settings = app.extensions["hotline.settings"]
    values = {"language": "nl", "category": "groceries", "postcode": "3000", "urgency": "today"}
    help_request = create_help_request(
        session,
        line=line_row(session, settings, "leuven"),
        contact=None,
        **{**values, **fields},
    )
    session.commit()
    return help_request
