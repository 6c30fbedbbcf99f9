"""Made-up help requests so that a demo's call centre is not empty."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from hotline.config import Settings
from hotline.db import line_row
from hotline.intake import create_help_request
from hotline.models import HelpRequest, Operator, utcnow
from hotline.privacy import store_contact

# Numbers in a range no Belgian operator hands out to subscribers; they go to the vault anyway.
DEMO_REQUESTS = [
    ("+32470000001", "nl", "groceries", "3000", "today", 50),
    ("+32470000002", "nl", "talk", "3010", "coming_days", 35),
    ("+32470000003", "fr", "groceries", "3001", "today", 20),
    ("+32470000004", "en", "dog", "3012", "coming_days", 5),
]


DEMO_LOGIN = ("demo", "leuven-helpt-demo")


def create_demo_login(session: Session) -> tuple[str, str]:
    """A coordinator account for trying the call centre (demo mode only; created once)."""
    from hotline.access.accounts import create_operator

    username, password = DEMO_LOGIN
    if session.exec(select(Operator).where(Operator.username == username)).first() is None:
        create_operator(
            session,
            username=username,
            display_name="Demo Coördinator",
            password=password,
            role="coordinator",
            locale="nl",  # the clerks who try it first speak Dutch; the header switches
        )
    return DEMO_LOGIN


# name, mobile (an unassigned range), postcode, languages, skills, availability
DEMO_VOLUNTEERS = [
    ("Marie Claes", "+32470000101", "3000", ("nl", "fr"), ("groceries", "meal", "errand"), {}),
    ("Tom Wouters", "+32470000102", "3010", ("nl", "en"), ("dog", "errand", "talk"),
     {"mon": ["09:00-12:00"], "wed": ["14:00-18:00"], "sat": ["09:00-17:00"]}),
    ("Sophie Dubois", "+32470000103", "3001", ("fr", "nl"), ("groceries", "talk"), {}),
]  # fmt: skip


def create_demo_volunteers(session: Session, settings: Settings, line) -> None:
    """A few volunteers with safety instructions accepted, so suggestions have someone."""
    from hotline.volunteers import VolunteerDetails, create_volunteer

    line_settings = settings.lines[line.slug]
    for name, number, postcode, languages, skills, availability in DEMO_VOLUNTEERS:
        create_volunteer(
            session,
            line=line_settings,
            line_row=line,
            secrets=settings.secrets,
            details=VolunteerDetails(
                name=name,
                postcode=postcode,
                languages=languages,
                skills=skills,
                availability=availability,
                safety_accepted_on=utcnow().date(),
            ),
            mobile_number=number,
            operator_id=None,
        )


def create_demo_data(session: Session, settings: Settings) -> int:
    """Create a few demo requests and volunteers on the first line, once.

    Returns how many requests were created.
    """
    if session.exec(select(HelpRequest.id)).first() is not None:
        return 0
    line = line_row(session, settings, next(iter(settings.lines)))
    create_demo_volunteers(session, settings, line)
    for number, language, category, postcode, urgency, minutes_ago in DEMO_REQUESTS:
        contact = store_contact(session, settings.secrets, number)
        help_request = create_help_request(
            session,
            line=line,
            contact=contact,
            language=language,
            category=category,
            postcode=postcode,
            urgency=urgency,
        )
        help_request.created_at = utcnow() - timedelta(minutes=minutes_ago)
        session.add(help_request)
    return len(DEMO_REQUESTS)
