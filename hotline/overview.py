"""Figures for operators' overview pages: counts only, never people."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from hotline.models import HelpRequest, RequestStatus

OPEN_STATUSES = (
    RequestStatus.NEW,
    RequestStatus.TRIAGED,
    RequestStatus.ASSIGNED,
    RequestStatus.ACCEPTED,
)


def open_request_count(session: Session) -> int:
    """How many help requests are not yet done or cancelled."""
    return session.exec(
        select(sa.func.count())
        .select_from(HelpRequest)
        .where(HelpRequest.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
    ).one()
