"""Which rows are due for removal, and when: the retention rules as SQL conditions.

Per line (``[lines.<slug>.retention]``): ``contact_days`` after a request was closed,
``volunteer_days`` after a volunteer left or a volunteer lead called.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.config import LineSettings, Settings
from hotline.models import (
    Assignment,
    CallSession,
    Contact,
    HelpRequest,
    Operator,
    RequestStatus,
    SmsMessage,
    Volunteer,
    VolunteerLead,
)

CLOSED_STATUSES = (RequestStatus.DONE, RequestStatus.CANCELLED)
IN_FLIGHT = "submitting"  # a text handed to the provider: its outcome is still to be recorded
# A text "submitting" for longer than this was left so by a send job that died long ago
# (the job itself settles it within minutes): its body goes like any other.
STUCK_SUBMITTING = timedelta(days=1)


class RetentionError(ValueError):
    """A purge or a forgetting that cannot be done as asked (an unknown line, no reason)."""


def line_slugs(settings: Settings, lines: Iterable[str] | None) -> list[str]:
    """The lines to purge: ``lines`` (default every configured line), all known."""
    slugs = list(settings.lines) if lines is None else list(lines)
    unknown = [slug for slug in slugs if slug not in settings.lines]
    if unknown:
        raise RetentionError(f"no line '{unknown[0]}' (lines: {', '.join(settings.lines)})")
    return slugs


def in_ids(column, ids: list[int]):
    """``column IN ids``."""
    return col(column).in_(ids)


def contact_cutoff(line: LineSettings, now: datetime) -> datetime:
    """Requests closed before this moment lose their personal parts."""
    return now - timedelta(days=line.retention.contact_days)


def volunteer_cutoff(line: LineSettings, now: datetime) -> datetime:
    """Volunteers who left, and leads who called, before this moment lose name and number."""
    return now - timedelta(days=line.retention.volunteer_days)


def old_closed_requests(line_id: int, cutoff: datetime):
    """Requests closed before ``cutoff`` (updated_at: a closed request's last change is its
    closing, or later, so nothing goes early)."""
    return sa.and_(
        HelpRequest.line_id == line_id,
        col(HelpRequest.status).in_(CLOSED_STATUSES),
        col(HelpRequest.updated_at) < cutoff,
    )


def due_requests(line_id: int, cutoff: datetime):
    """Old closed requests not purged yet."""
    return sa.and_(old_closed_requests(line_id, cutoff), col(HelpRequest.purged_at).is_(None))


def due_call_sessions(line_id: int, cutoff: datetime):
    """The calls of requests that are due, and calls older than the cutoff unless their
    request is kept."""
    old_closed = select(HelpRequest.id).where(old_closed_requests(line_id, cutoff))
    kept_request = sa.and_(
        col(CallSession.help_request_id).is_not(None),
        ~col(CallSession.help_request_id).in_(old_closed),
    )
    return sa.and_(
        CallSession.line_id == line_id,
        col(CallSession.purged_at).is_(None),
        sa.or_(
            col(CallSession.help_request_id).in_(old_closed),
            sa.and_(col(CallSession.started_at) < cutoff, ~kept_request),
        ),
    )


def due_volunteers(line_id: int, cutoff: datetime):
    """Volunteers who left (were deactivated) before ``cutoff``, not purged yet."""
    return sa.and_(
        Volunteer.line_id == line_id,
        col(Volunteer.active).is_(False),
        col(Volunteer.purged_at).is_(None),
        col(Volunteer.updated_at) < cutoff,  # deactivation is their last change, or earlier
    )


def due_leads(line_id: int, cutoff: datetime):
    """Volunteer leads who called before ``cutoff``, not purged yet."""
    return sa.and_(
        VolunteerLead.line_id == line_id,
        col(VolunteerLead.purged_at).is_(None),
        col(VolunteerLead.created_at) < cutoff,
    )


def texts_to_empty(now: datetime):
    """Texts that still hold words or Twilio's id, and whose sending is settled: one in
    flight is emptied once the send job has recorded its outcome (a later purge)."""
    return sa.and_(
        sa.or_(
            SmsMessage.status != IN_FLIGHT,
            col(SmsMessage.submitted_at) < now - STUCK_SUBMITTING,
        ),
        sa.or_(
            SmsMessage.body != "",
            SmsMessage.response != "",
            col(SmsMessage.message_sid).is_not(None),
        ),
    )


def texts_about_requests(request_ids):
    """The texts about these requests (``request_ids``: a list or a subquery of ids)."""
    assignments = select(Assignment.id).where(col(Assignment.help_request_id).in_(request_ids))
    return sa.or_(
        col(SmsMessage.help_request_id).in_(request_ids),
        col(SmsMessage.assignment_id).in_(assignments),
    )


def texts_left_behind(line_id: int, now: datetime):
    """Texts of the line's purged requests and volunteers that an earlier purge had to
    leave (they were in flight then) and that can go now."""
    purged_requests = select(HelpRequest.id).where(
        HelpRequest.line_id == line_id, col(HelpRequest.purged_at).is_not(None)
    )
    purged_volunteers = select(Volunteer.id).where(
        Volunteer.line_id == line_id, col(Volunteer.purged_at).is_not(None)
    )
    return sa.and_(
        texts_to_empty(now),
        sa.or_(
            texts_about_requests(purged_requests),
            col(SmsMessage.volunteer_id).in_(purged_volunteers),
        ),
    )


def unused_contact():
    """A vault entry no row points at any more."""
    users = (
        HelpRequest.contact_id,
        Volunteer.contact_id,
        Operator.contact_id,
        VolunteerLead.contact_id,
        CallSession.contact_id,
    )
    return sa.and_(
        *(~sa.exists().where(column == Contact.id) for column in users)  # type: ignore[arg-type]
    )


def count(session: Session, model, condition) -> int:
    """How many rows of ``model`` match ``condition``."""
    return session.exec(select(sa.func.count()).select_from(model).where(condition)).one()
