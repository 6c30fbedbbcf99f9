"""Figures over time: how fast requests get a volunteer, how many come in per day.

Days and weeks are those of the line's timezone (a day starts at local midnight,
a week on Monday), so "today" on the dashboard is the operators' today, also
across daylight-saving changes. Counts and durations only, never people.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from hotline.models import HelpRequest


@dataclass(frozen=True)
class AssignSpeed:
    """The median time from a request coming in to its first assignment, over ``count`` requests."""

    median: timedelta | None  # None when no request was assigned in the period
    count: int


@dataclass(frozen=True)
class DayCount:
    """How many requests came in on one local day."""

    day: date
    count: int


# One line's row id, several (an account's lines, from the access policy), or None: every line.
LineFilter = int | Collection[int] | None


def on_lines(line_id: int | Collection[int]) -> Any:
    """A request is on the line ``line_id`` (or on one of several)."""
    if isinstance(line_id, int):
        return HelpRequest.line_id == line_id
    return col(HelpRequest.line_id).in_(sorted(line_id))


def local_midnight(day: date, timezone: str) -> datetime:
    """The moment ``day`` starts in ``timezone``, timezone-aware."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))


def period_starts(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start of today and of this week (Monday) in ``timezone``, at the moment ``now``."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    monday = today - timedelta(days=today.weekday())
    return local_midnight(today, timezone), local_midnight(monday, timezone)


def median_time_to_assign(
    session: Session, *, since: datetime, until: datetime, line_id: LineFilter = None
) -> AssignSpeed:
    """The median wait of the requests first assigned between ``since`` and ``until``.

    A request counts in the period in which it got its volunteer, so "today"
    answers "how long did the people we helped today wait?".
    """
    query = select(HelpRequest.created_at, HelpRequest.assigned_at).where(
        col(HelpRequest.assigned_at) >= since,
        col(HelpRequest.assigned_at) <= until,
    )
    if line_id is not None:
        query = query.where(on_lines(line_id))
    waits = [(assigned - created).total_seconds() for created, assigned in session.exec(query)]
    if not waits:
        return AssignSpeed(median=None, count=0)
    return AssignSpeed(median=timedelta(seconds=statistics.median(waits)), count=len(waits))


def requests_per_day(
    session: Session,
    *,
    now: datetime,
    timezone: str,
    days: int = 14,
    line_id: LineFilter = None,
) -> list[DayCount]:
    """Requests created on each of the last ``days`` local days (today included), oldest first.

    Days without requests are there with 0, so a chart shows quiet days as quiet.
    """
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    query = select(HelpRequest.created_at).where(
        col(HelpRequest.created_at) >= local_midnight(first, timezone),
        col(HelpRequest.created_at) <= now,
    )
    if line_id is not None:
        query = query.where(on_lines(line_id))
    # Grouped here rather than in SQL: local dates need the timezone database, which
    # SQLite lacks; 14 days of one town's calls are a few thousand timestamps at most.
    counts = Counter(created.astimezone(zone).date() for created in session.exec(query))
    return [
        DayCount(day=first + timedelta(days=n), count=counts[first + timedelta(days=n)])
        for n in range(days)
    ]
