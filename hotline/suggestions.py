"""Suggested volunteers for a help request, best first, each with the reasons for its place.

Only active volunteers of the request's line who accepted the safety instructions
are suggested, and not those who already hold an open offer for the request.
Points, added up:

| what                                    | points |
| --------------------------------------- | ------ |
| lives in the request's postcode          | +30    |
| lives in a neighbouring postcode         | +15    |
| has the skill (the request's category)   | +25    |
| speaks the request's language            | +20    |
| available now (line's time zone)         | +10    |
| each open assignment (offered/accepted)  | -5     |
| declined this request before             | -40    |

So a neighbour with the right skill (40) comes before a next-door volunteer
without it (30), and among equals the one with fewer open assignments comes first.

Neighbouring postcodes: Belgian postcodes are grouped by region, and codes that
share their first two digits belong to the same municipality group (30xx: Leuven,
Heverlee, Kessel-Lo, Wilsele, Wijgmaal, and around them Herent, Bertem, ...).
That rule treats the five Leuven postcodes as neighbours of each other, which
matches how volunteers there travel (by bike, within the city), and needs no map.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlmodel import Session, col, select

from hotline.config import LineSettings
from hotline.dispatch import OPEN_ASSIGNMENT_STATUSES, AssignmentStatus, open_assignment_counts
from hotline.models import Assignment, HelpRequest, Line, Volunteer
from hotline.volunteers import is_available, line_settings

SAME_POSTCODE = 30
NEIGHBOURING_POSTCODE = 15
HAS_SKILL = 25
SPEAKS_LANGUAGE = 20
AVAILABLE_NOW = 10
PER_OPEN_ASSIGNMENT = -5
DECLINED_BEFORE = -40


@dataclass(frozen=True)
class Reason:
    """One reason for a suggestion's place: ``kind`` and ``value`` let the UI translate it."""

    kind: str  # same_postcode, neighbouring_postcode, other_area, skill, no_skill, language,
    # no_language, available_now, not_available_now, open_assignments, declined_before
    value: str | int | None = None
    points: int = 0

    @property
    def favourable(self) -> bool:
        """Whether this reason speaks for the volunteer (shown as such)."""
        return self.points > 0 or (self.kind == "open_assignments" and self.value == 0)

    @property
    def text(self) -> str:
        """The reason in English, e.g. "has skill: groceries" or "2 open assignments"."""
        if self.kind == "open_assignments":
            count = int(self.value or 0)
            if count == 0:
                return "no open assignments"
            return f"{count} open assignment{'s' if count != 1 else ''}"
        return _TEXTS[self.kind].format(value=self.value)


_TEXTS = {
    "same_postcode": "same postcode",
    "neighbouring_postcode": "neighbouring postcode",
    "other_area": "lives elsewhere ({value})",
    "skill": "has skill: {value}",
    "no_skill": "no skill: {value}",
    "language": "speaks {value}",
    "no_language": "does not speak {value}",
    "available_now": "available now",
    "not_available_now": "not available now",
    "declined_before": "declined this request before",
}


@dataclass(frozen=True)
class Suggestion:
    """A volunteer proposed for a request, with a score and the reasons for it."""

    volunteer: Volunteer
    score: int
    reasons: tuple[Reason, ...]
    open_assignments: int

    @property
    def reason_texts(self) -> list[str]:
        """The reasons in English, in the order they count."""
        return [reason.text for reason in self.reasons]


def are_neighbours(postcode: str, other: str) -> bool:
    """Whether two different postcodes lie in the same municipality group (first two digits)."""
    return postcode != other and postcode[:2] == other[:2]


def suggest_volunteers(
    session: Session,
    *,
    help_request: HelpRequest,
    now: datetime,
    limit: int | None = 5,
    line: LineSettings | None = None,
) -> list[Suggestion]:
    """The best volunteers for ``help_request`` at ``now``, best first (all of them if
    ``limit`` is None). ``line`` defaults to the request's line in the app's settings.
    """
    line = line or _line_of(session, help_request)
    local_now = now.astimezone(ZoneInfo(line.timezone))
    busy_here = set(
        session.exec(
            select(Assignment.volunteer_id).where(
                Assignment.help_request_id == help_request.id,
                col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
            )
        )
    )
    declined_here = set(
        session.exec(
            select(Assignment.volunteer_id).where(
                Assignment.help_request_id == help_request.id,
                Assignment.status == AssignmentStatus.DECLINED,
            )
        )
    )
    candidates = [
        volunteer
        for volunteer in session.exec(
            select(Volunteer).where(
                Volunteer.line_id == help_request.line_id,
                col(Volunteer.active).is_(True),
                col(Volunteer.safety_accepted_at).is_not(None),
            )
        )
        if volunteer.id not in busy_here
    ]
    counts = open_assignment_counts(session, [v.id for v in candidates])
    suggestions = []
    for volunteer in candidates:
        reasons = _reasons(
            volunteer,
            help_request,
            available=is_available(volunteer.availability, local_now),
            open_assignments=counts.get(volunteer.id, 0),
            declined=volunteer.id in declined_here,
        )
        suggestions.append(
            Suggestion(
                volunteer=volunteer,
                score=sum(reason.points for reason in reasons),
                reasons=reasons,
                open_assignments=counts.get(volunteer.id, 0),
            )
        )
    suggestions.sort(
        key=lambda s: (-s.score, s.open_assignments, s.volunteer.name.casefold(), s.volunteer.id)
    )
    return suggestions if limit is None else suggestions[:limit]


def _reasons(
    volunteer: Volunteer,
    help_request: HelpRequest,
    *,
    available: bool,
    open_assignments: int,
    declined: bool,
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    if help_request.postcode:
        if volunteer.postcode == help_request.postcode:
            reasons.append(Reason("same_postcode", volunteer.postcode, SAME_POSTCODE))
        elif are_neighbours(volunteer.postcode, help_request.postcode):
            reasons.append(
                Reason("neighbouring_postcode", volunteer.postcode, NEIGHBOURING_POSTCODE)
            )
        else:
            reasons.append(Reason("other_area", volunteer.postcode))
    if help_request.category:
        if help_request.category in volunteer.skills:
            reasons.append(Reason("skill", help_request.category, HAS_SKILL))
        else:
            reasons.append(Reason("no_skill", help_request.category))
    if help_request.language:
        if help_request.language in volunteer.languages:
            reasons.append(Reason("language", help_request.language, SPEAKS_LANGUAGE))
        else:
            reasons.append(Reason("no_language", help_request.language))
    reasons.append(
        Reason("available_now", points=AVAILABLE_NOW) if available else Reason("not_available_now")
    )
    reasons.append(
        Reason("open_assignments", open_assignments, PER_OPEN_ASSIGNMENT * open_assignments)
    )
    if declined:
        reasons.append(Reason("declined_before", points=DECLINED_BEFORE))
    return tuple(reasons)


def _line_of(session: Session, help_request: HelpRequest) -> LineSettings:
    line_row = session.get(Line, help_request.line_id)
    return line_settings(current_app.extensions["hotline.settings"], line_row)
