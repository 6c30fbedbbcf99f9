"""What operators read about SMS and offers: conversations, offer states, follow-ups.

Read-only queries for the call centre. Each answers a whole page in a fixed number
of queries (never one per row), and none of them returns a phone number: a text's
body is stored redacted and the number it went to lives in the vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.dispatch import OPEN_ASSIGNMENT_STATUSES, AssignmentStatus
from hotline.lifecycle import OPEN_STATUSES
from hotline.models import Assignment, HelpRequest, RequestStatus, SmsMessage, Volunteer


@dataclass(frozen=True)
class OfferState:
    """One offer as the queue and the request page show it: who, where it stands, its SMS."""

    help_request_id: int
    assignment_id: int
    volunteer_id: int
    volunteer_name: str
    status: str  # the assignment's (hotline.dispatch.AssignmentStatus)
    offered_at: datetime
    expires_at: datetime | None
    sms_status: str | None  # the offer SMS's delivery; None when no offer SMS was written
    sms_error_code: int | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ASSIGNMENT_STATUSES

    @property
    def short_name(self) -> str:
        """First name and initial ("Mia C."), enough to recognise someone in a busy list."""
        first, *rest = self.volunteer_name.split()
        return f"{first} {rest[-1][0]}." if rest else first


@dataclass(frozen=True)
class FollowUp:
    """An accepted request whose volunteer never reported done, even after a reminder."""

    help_request: HelpRequest
    volunteer_id: int | None
    volunteer_name: str | None
    accepted_at: datetime | None


@dataclass(frozen=True)
class AttentionCounts:
    """Requests that need an operator because the SMS flow could not finish them."""

    no_volunteer_found: int
    needs_follow_up: int


def request_conversation(session: Session, *, help_request_id: int) -> list[SmsMessage]:
    """Every text to or from a volunteer about one request, oldest first."""
    return list(
        session.exec(
            select(SmsMessage)
            .where(SmsMessage.help_request_id == help_request_id)
            .order_by(col(SmsMessage.created_at), col(SmsMessage.id))
        )
    )


def volunteer_conversation(
    session: Session, *, volunteer_id: int, limit: int = 50
) -> list[SmsMessage]:
    """A volunteer's latest ``limit`` texts, about any request or none, oldest first."""
    newest = session.exec(
        select(SmsMessage)
        .where(SmsMessage.volunteer_id == volunteer_id)
        .order_by(col(SmsMessage.created_at).desc(), col(SmsMessage.id).desc())
        .limit(limit)
    )
    return list(reversed(newest.all()))


def offer_states(session: Session, help_request_ids: list[int]) -> dict[int, list[OfferState]]:
    """Per request: its open offers, newest first, or else its latest offer alone.

    One query for all the requests; a request never offered is absent.
    """
    if not help_request_ids:
        return {}
    offer_sms = (
        select(
            SmsMessage.assignment_id,
            SmsMessage.status,
            SmsMessage.error_code,
            sa.func.row_number()
            .over(partition_by=SmsMessage.assignment_id, order_by=col(SmsMessage.id).desc())
            .label("newest"),
        )
        .where(
            # Only these requests' texts (indexed): the queue asks every few seconds.
            col(SmsMessage.help_request_id).in_(help_request_ids),
            SmsMessage.kind == "offer",
            SmsMessage.direction == "out",
        )
        .subquery()
    )
    rows = session.exec(
        select(
            Assignment,
            Volunteer.name,
            offer_sms.c.status,
            offer_sms.c.error_code,
        )
        .join(Volunteer, col(Volunteer.id) == Assignment.volunteer_id)
        .outerjoin(
            offer_sms,
            sa.and_(offer_sms.c.assignment_id == Assignment.id, offer_sms.c.newest == 1),
        )
        .where(col(Assignment.help_request_id).in_(help_request_ids))
        .order_by(col(Assignment.created_at).desc(), col(Assignment.id).desc())
    )
    everything: dict[int, list[OfferState]] = {}
    for assignment, name, sms_status, sms_error_code in rows:
        everything.setdefault(assignment.help_request_id, []).append(
            OfferState(
                help_request_id=assignment.help_request_id,
                assignment_id=assignment.id,
                volunteer_id=assignment.volunteer_id,
                volunteer_name=name,
                status=assignment.status,
                offered_at=assignment.created_at,
                expires_at=assignment.expires_at,
                sms_status=sms_status,
                sms_error_code=sms_error_code,
            )
        )
    return {
        request_id: [state for state in states if state.is_open] or states[:1]
        for request_id, states in everything.items()
    }


def follow_up_requests(session: Session, *, visible: Any = None) -> list[FollowUp]:
    """Accepted requests flagged "needs follow-up" that the account sees (``visible``: the
    access policy's ``request_filter``; None: every line's), oldest first, each with the
    volunteer who accepted and when."""
    query = (
        select(HelpRequest, Assignment.volunteer_id, Volunteer.name, Assignment.responded_at)
        .outerjoin(
            Assignment,
            sa.and_(
                col(Assignment.help_request_id) == HelpRequest.id,
                col(Assignment.status) == AssignmentStatus.ACCEPTED,
            ),
        )
        .outerjoin(Volunteer, col(Volunteer.id) == Assignment.volunteer_id)
        .where(
            col(HelpRequest.follow_up_at).is_not(None),
            HelpRequest.status == RequestStatus.ACCEPTED,
        )
        .order_by(col(HelpRequest.follow_up_at), col(HelpRequest.created_at), col(HelpRequest.id))
    )
    if visible is not None:
        query = query.where(visible)
    return [
        FollowUp(help_request, volunteer_id, name, accepted_at)
        for help_request, volunteer_id, name, accepted_at in session.exec(query)
    ]


def attention_counts(session: Session, *, line_id: int | None = None) -> AttentionCounts:
    """How many open requests found no volunteer, and how many accepted ones need follow-up
    (one line, or every line when ``line_id`` is None)."""
    no_volunteer = sa.and_(
        col(HelpRequest.no_volunteer_at).is_not(None), col(HelpRequest.status).in_(OPEN_STATUSES)
    )
    follow_up = sa.and_(
        col(HelpRequest.follow_up_at).is_not(None), HelpRequest.status == RequestStatus.ACCEPTED
    )
    query = select(
        sa.func.count().filter(no_volunteer), sa.func.count().filter(follow_up)
    ).select_from(HelpRequest)
    if line_id is not None:
        query = query.where(HelpRequest.line_id == line_id)
    no_volunteer_found, needs_follow_up = session.exec(query).one()
    return AttentionCounts(no_volunteer_found or 0, needs_follow_up or 0)


def is_no_volunteer_found(help_request: HelpRequest) -> bool:
    """Whether the request is open and its automatic offers ran out."""
    return help_request.no_volunteer_at is not None and help_request.status in OPEN_STATUSES
