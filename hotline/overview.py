"""Figures for operators' overview pages: counts only, never people.

Every function takes an optional ``line_id``: one line's row id, several (an account's
lines), or None to count every line together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.lifecycle import OPEN_STATUSES
from hotline.models import HelpRequest, RequestStatus
from hotline.statistics import (
    AssignSpeed,
    DayCount,
    LineFilter,
    median_time_to_assign,
    on_lines,
    period_starts,
    requests_per_day,
)

# Waiting for a volunteer: nobody has been asked yet.
WAITING_STATUSES = (RequestStatus.NEW, RequestStatus.TRIAGED)
UNKNOWN = ""  # the key under which requests without a category, area or language are counted


def _open_requests(line_id: LineFilter, statuses=OPEN_STATUSES):
    condition = col(HelpRequest.status).in_(statuses)
    if line_id is not None:
        condition = sa.and_(condition, on_lines(line_id))
    return condition


def _count_by(session: Session, column, condition) -> dict[str, int]:
    rows = session.exec(
        select(column, sa.func.count()).select_from(HelpRequest).where(condition).group_by(column)
    )
    counts: dict[str, int] = {}
    for key, count in rows:
        counts[key or UNKNOWN] = counts.get(key or UNKNOWN, 0) + count
    return counts


def _largest_first(counts: dict[str, int]) -> dict[str, int]:
    # Largest first; ties by key so the page does not reshuffle on every refresh;
    # the unknown bucket last, whatever its size.
    known = sorted(
        ((k, v) for k, v in counts.items() if k != UNKNOWN), key=lambda kv: (-kv[1], kv[0])
    )
    if UNKNOWN in counts:
        known.append((UNKNOWN, counts[UNKNOWN]))
    return dict(known)


def open_requests_by_status(session: Session, *, line_id: LineFilter = None) -> dict[str, int]:
    """Open requests per status, in the order of a request's life; statuses with none show 0."""
    counts = _count_by(session, HelpRequest.status, _open_requests(line_id))
    return {str(status): counts.get(status, 0) for status in OPEN_STATUSES}


def open_requests_by_category(session: Session, *, line_id: LineFilter = None) -> dict[str, int]:
    """Open requests per category, largest first; ``""`` counts those not yet categorised."""
    return _largest_first(_count_by(session, HelpRequest.category, _open_requests(line_id)))


def open_requests_by_postcode(session: Session, *, line_id: LineFilter = None) -> dict[str, int]:
    """Open requests per area (postcode), largest first; ``""`` counts those without one."""
    return _largest_first(_count_by(session, HelpRequest.postcode, _open_requests(line_id)))


def waiting_requests_by_language(session: Session, *, line_id: LineFilter = None) -> dict[str, int]:
    """Requests still waiting for a volunteer (new or triaged) per caller language."""
    condition = _open_requests(line_id, WAITING_STATUSES)
    return _largest_first(_count_by(session, HelpRequest.language, condition))


def oldest_waiting_since(session: Session, *, line_id: LineFilter = None) -> datetime | None:
    """When the longest-waiting request (new or triaged) came in, or None when none waits."""
    return session.exec(
        select(sa.func.min(HelpRequest.created_at)).where(_open_requests(line_id, WAITING_STATUSES))
    ).one()


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows, computed at one moment."""

    now: datetime
    timezone: str
    open_total: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_postcode: dict[str, int]
    waiting_by_language: dict[str, int]
    longest_wait: timedelta | None
    assign_today: AssignSpeed
    assign_this_week: AssignSpeed
    per_day: list[DayCount]


def dashboard(
    session: Session, *, now: datetime, timezone: str, line_id: LineFilter = None, days: int = 14
) -> Dashboard:
    """The dashboard's figures at ``now``; days and weeks are those of ``timezone``."""
    by_status = open_requests_by_status(session, line_id=line_id)
    oldest = oldest_waiting_since(session, line_id=line_id)
    today, week = period_starts(now, timezone)
    return Dashboard(
        now=now,
        timezone=timezone,
        open_total=sum(by_status.values()),
        by_status=by_status,
        by_category=open_requests_by_category(session, line_id=line_id),
        by_postcode=open_requests_by_postcode(session, line_id=line_id),
        waiting_by_language=waiting_requests_by_language(session, line_id=line_id),
        longest_wait=max(now - oldest, timedelta(0)) if oldest else None,
        assign_today=median_time_to_assign(session, since=today, until=now, line_id=line_id),
        assign_this_week=median_time_to_assign(session, since=week, until=now, line_id=line_id),
        per_day=requests_per_day(session, now=now, timezone=timezone, days=days, line_id=line_id),
    )
