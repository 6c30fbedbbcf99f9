"""What a purge would remove, per line, in counts: `hotline purge --dry-run`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.config import Settings
from hotline.db import line_row
from hotline.models import (
    CallSession,
    Contact,
    HelpRequest,
    Operator,
    SmsMessage,
    Volunteer,
    VolunteerLead,
)
from hotline.retention.counts import Removed
from hotline.retention.due import (
    contact_cutoff,
    count,
    due_call_sessions,
    due_leads,
    due_requests,
    due_volunteers,
    line_slugs,
    texts_about_requests,
    texts_left_behind,
    texts_to_empty,
    volunteer_cutoff,
)


def plan_purge(
    session: Session, settings: Settings, now: datetime, *, lines: Iterable[str] | None = None
) -> dict[str, Removed]:
    """What a purge at ``now`` would remove, per line, without changing anything.

    Vault entries are counted when every row using them is due (as if only that line
    were purged); recordings include those an earlier purge could not delete.
    """
    plan = {}
    for slug in line_slugs(settings, lines):
        line, line_id = settings.lines[slug], line_row(session, settings, slug).id
        contact_before, volunteer_before = contact_cutoff(line, now), volunteer_cutoff(line, now)
        requests = due_requests(line_id, contact_before)
        sessions = due_call_sessions(line_id, contact_before)
        volunteers = due_volunteers(line_id, volunteer_before)
        leads = due_leads(line_id, volunteer_before)
        texts = sa.or_(
            sa.and_(
                texts_to_empty(now),
                sa.or_(
                    texts_about_requests(select(HelpRequest.id).where(requests)),
                    col(SmsMessage.volunteer_id).in_(select(Volunteer.id).where(volunteers)),
                ),
            ),
            texts_left_behind(line_id, now),
        )
        recordings = count(
            session,
            HelpRequest,
            sa.and_(
                HelpRequest.line_id == line_id,
                col(HelpRequest.recording_sid).is_not(None),
                sa.or_(requests, col(HelpRequest.purged_at).is_not(None)),
            ),
        ) + count(
            session,
            VolunteerLead,
            sa.and_(
                VolunteerLead.line_id == line_id,
                col(VolunteerLead.recording_sid).is_not(None),
                sa.or_(leads, col(VolunteerLead.purged_at).is_not(None)),
            ),
        )
        # A vault entry goes when the rows using it are all due: none is left that is not.
        not_due = sa.and_(
            ~sa.exists().where(HelpRequest.contact_id == Contact.id, ~requests),
            ~sa.exists().where(Volunteer.contact_id == Contact.id, ~volunteers),
            ~sa.exists().where(VolunteerLead.contact_id == Contact.id, ~leads),
            ~sa.exists().where(CallSession.contact_id == Contact.id, ~sessions),
            ~sa.exists().where(Operator.contact_id == Contact.id),
        )
        used_by_due = sa.or_(
            sa.exists().where(HelpRequest.contact_id == Contact.id, requests),
            sa.exists().where(Volunteer.contact_id == Contact.id, volunteers),
            sa.exists().where(VolunteerLead.contact_id == Contact.id, leads),
            sa.exists().where(CallSession.contact_id == Contact.id, sessions),
        )
        plan[slug] = Removed(
            requests=count(session, HelpRequest, requests),
            recordings=recordings,
            sms=count(session, SmsMessage, texts),
            call_sessions=count(session, CallSession, sessions),
            volunteers=count(session, Volunteer, volunteers),
            leads=count(session, VolunteerLead, leads),
            contacts=count(session, Contact, sa.and_(used_by_due, not_due)),
        )
    return plan
