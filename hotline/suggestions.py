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

At a crisis's scale (tens of thousands of volunteers) nothing loads them all. The
volunteers who hold no open assignment and did not decline fall into groups of equal
area, skill and language points (same postcode + skill + language: 75, ...); each group
scores its points, +10 for those available now. The database reads each group
alphabetically, a batch at a time (an index on line, postcode and name), and the
availability is checked on the rows read. The busy and those who declined are read
apart, ordered by their points in SQL. The best group is read first; the search ends
when the last of the ``limit`` best found scores more than anyone unread could. So the
result is the one a full ranking gives: among volunteers of equal score and load, which
of them make the cut follows the database's order of names (the same as Python's for
names written alike).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session, col, select

from hotline.config import LineSettings
from hotline.dispatch import OPEN_ASSIGNMENT_STATUSES, AssignmentStatus, open_assignment_counts
from hotline.http_bounds import MAX_ID
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
    exclude: Collection[int] = (),
    reachable_by_sms: bool = False,
) -> list[Suggestion]:
    """The best volunteers for ``help_request`` at ``now``, best first (all of them if
    ``limit`` is None). ``line`` defaults to the request's line in the app's settings.
    ``exclude``: ids left out (e.g. those asked before); ``reachable_by_sms``: only
    volunteers with a number in the vault who did not text STOP.

    Exact, yet it reads only a few rows however many volunteers the line has: the
    database hands over candidates group by group (same postcode, skill, language, ...;
    each group alphabetically), the best groups first, and the search stops as soon as
    no volunteer left unread can score higher than the ``limit``-th found (see
    ``_Group`` and ``_Penalised``).
    """
    line = line or _line_of(session, help_request)
    local_now = now.astimezone(ZoneInfo(line.timezone))
    declined_here = set(
        session.exec(
            select(Assignment.volunteer_id).where(
                Assignment.help_request_id == help_request.id,
                Assignment.status == AssignmentStatus.DECLINED,
            )
        )
    )
    if limit is not None and limit <= 0:
        return []
    eligible = _eligible(help_request, exclude=exclude, reachable_by_sms=reachable_by_sms)
    batch = 500 if limit is None else max(2 * limit, 20)
    criteria = _Criteria(session, help_request)
    groups = criteria.groups()
    sources: list[_Group | _Penalised] = [
        _Group(criteria, points, conditions, eligible, batch, limit)
        for points, conditions in groups
    ]
    best_points = groups[0][0]
    sources.append(_Penalised(criteria, eligible, declined_here, batch, best_points))
    found: list[Suggestion] = []
    while True:
        unread = [source for source in sources if not source.exhausted]
        if not unread:
            break
        source = max(unread, key=lambda s: s.bound)
        if limit is not None and len(found) >= limit:
            found = sorted(found, key=_rank)[:limit]
            if found[-1].score > source.bound:
                break  # nobody unread can reach the last place
        for volunteer, open_assignments in source.read():
            suggestion = _suggestion(
                volunteer,
                help_request,
                local_now=local_now,
                open_assignments=open_assignments,
                declined=volunteer.id in declined_here,
            )
            source.note(suggestion)
            found.append(suggestion)
    found.sort(key=_rank)
    return found if limit is None else found[:limit]


def _suggestion(
    volunteer: Volunteer,
    help_request: HelpRequest,
    *,
    local_now: datetime,
    open_assignments: int,
    declined: bool,
) -> Suggestion:
    """``volunteer`` scored for ``help_request`` at ``local_now`` (the line's clock)."""
    reasons = _reasons(
        volunteer,
        help_request,
        available=is_available(volunteer.availability, local_now),
        open_assignments=open_assignments,
        declined=declined,
    )
    return Suggestion(
        volunteer=volunteer,
        score=sum(reason.points for reason in reasons),
        reasons=reasons,
        open_assignments=open_assignments,
    )


def find_volunteers(
    session: Session,
    *,
    help_request: HelpRequest,
    text: str,
    now: datetime,
    line: LineSettings | None = None,
    limit: int = 10,
) -> list[Suggestion]:
    """Volunteers an operator looks for by name (every word, any part of it), or by digits:
    a postcode (its start) or a volunteer number (``#123``). At most ``limit``, the first
    ones alphabetically (for digits: by postcode, then name), scored for ``help_request``
    like suggestions and best first. Only volunteers who could be suggested are found
    (active, safety instructions accepted, not asked already)."""
    line = line or _line_of(session, help_request)
    words = text.split()
    if not words:
        return []
    number = words[0].removeprefix("#")
    if len(words) == 1 and number.isascii() and number.isdigit():
        # Digits are a postcode (its start) or a volunteer number, never part of a name:
        # both are index lookups, where a name's part is not.
        by_name = (col(Volunteer.name), col(Volunteer.id))
        matches = [(_starts_with(Volunteer.postcode, number), (col(Volunteer.postcode), *by_name))]
        if 0 < int(number) <= MAX_ID:
            matches.append((Volunteer.id == int(number), by_name))
    else:
        name = sa.and_(
            *(col(Volunteer.name).ilike(f"%{_escaped(word)}%", escape="\\") for word in words)
        )
        matches = [(name, (col(Volunteer.name), col(Volunteer.id)))]
    # One query per kind of match, each in the order of its index: an OR of them, or a
    # postcode's range in name order, would be sorted from every volunteer.
    found = {
        volunteer.id: volunteer
        for match, order in matches
        for volunteer in session.exec(
            select(Volunteer).where(*_eligible(help_request), match).order_by(*order).limit(limit)
        )
    }
    volunteers = sorted(found.values(), key=lambda v: (v.name.casefold(), v.id))[:limit]
    if not volunteers:
        return []
    return score_volunteers(
        session, help_request=help_request, volunteers=volunteers, now=now, line=line
    )


def score_volunteers(
    session: Session,
    *,
    help_request: HelpRequest,
    volunteers: list[Volunteer],
    now: datetime,
    line: LineSettings,
) -> list[Suggestion]:
    """``volunteers`` (already chosen, e.g. by a search) scored for ``help_request``, best first."""
    local_now = now.astimezone(ZoneInfo(line.timezone))
    ids = [volunteer.id for volunteer in volunteers]
    counts = open_assignment_counts(session, ids)
    declined_here = set(
        session.exec(
            select(Assignment.volunteer_id).where(
                Assignment.help_request_id == help_request.id,
                Assignment.status == AssignmentStatus.DECLINED,
                col(Assignment.volunteer_id).in_(ids),
            )
        )
    )
    suggestions = [
        _suggestion(
            volunteer,
            help_request,
            local_now=local_now,
            open_assignments=counts.get(volunteer.id, 0),
            declined=volunteer.id in declined_here,
        )
        for volunteer in volunteers
    ]
    return sorted(suggestions, key=_rank)


def _rank(suggestion: Suggestion) -> tuple:
    """Best first: the higher score, then fewer open assignments, then by name."""
    volunteer = suggestion.volunteer
    return (-suggestion.score, suggestion.open_assignments, volunteer.name.casefold(), volunteer.id)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _eligible(
    help_request: HelpRequest, *, exclude: Collection[int] = (), reachable_by_sms: bool = False
) -> list[Any]:
    """Who may be suggested for ``help_request``: active volunteers of its line who accepted
    the safety instructions and hold no open offer for it (nor are in ``exclude``)."""
    conditions = [
        Volunteer.line_id == help_request.line_id,
        col(Volunteer.active).is_(True),
        col(Volunteer.safety_accepted_at).is_not(None),
        ~_holds(
            Assignment.help_request_id == help_request.id,
            col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
        ),
    ]
    if exclude:
        conditions.append(col(Volunteer.id).not_in(sorted(exclude)))
    if reachable_by_sms:
        conditions.append(col(Volunteer.sms_opted_out_at).is_(None))
        conditions.append(col(Volunteer.contact_id).is_not(None))
    return conditions


class _Criteria:
    """What a request asks of volunteers, as SQL: the area, the skill and the language."""

    def __init__(self, session: Session, help_request: HelpRequest):
        self.dialect = session.get_bind().dialect.name
        self.session = session
        self.help_request = help_request
        postcode = help_request.postcode
        if postcode:
            in_group = _starts_with(Volunteer.postcode, postcode[:2])
            self.areas = [
                (SAME_POSTCODE, Volunteer.postcode == postcode),
                (NEIGHBOURING_POSTCODE, sa.and_(in_group, Volunteer.postcode != postcode)),
                (0, sa.not_(in_group)),
            ]
        else:
            self.areas = [(0, sa.true())]
        self.skill = (
            _listed(Volunteer.skills, help_request.category, self.dialect)
            if help_request.category
            else None
        )
        self.language = (
            _listed(Volunteer.languages, help_request.language, self.dialect)
            if help_request.language
            else None
        )

    def groups(self) -> list[tuple[int, list[Any]]]:
        """Every combination of area, skill and language with its points, the best first."""
        combinations = []
        for area_points, area in self.areas:
            for skill_points, skill in self._either(self.skill, HAS_SKILL):
                for language_points, language in self._either(self.language, SPEAKS_LANGUAGE):
                    points = area_points + skill_points + language_points
                    combinations.append((points, [area, skill, language]))
        return sorted(combinations, key=lambda group: -group[0])

    @staticmethod
    def _either(condition: Any, points: int) -> list[tuple[int, Any]]:
        if condition is None:
            return [(0, sa.true())]
        return [(points, condition), (0, sa.not_(condition))]

    def points(self) -> Any:
        """The points of area, skill and language as one SQL expression."""
        expression = sa.case(*((area, points) for points, area in self.areas), else_=0)
        if self.skill is not None:
            expression = expression + sa.case((self.skill, HAS_SKILL), else_=0)
        if self.language is not None:
            expression = expression + sa.case((self.language, SPEAKS_LANGUAGE), else_=0)
        return expression


def _starts_with(column: Any, prefix: str) -> Any:
    """SQL for "``column`` starts with ``prefix``" as a range, which an index serves (a LIKE
    would not: SQLite's is case-insensitive)."""
    after_prefix = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return sa.and_(col(column) >= prefix, col(column) < after_prefix)


def _listed(column: Any, value: str, dialect: str) -> Any:
    """SQL for "``value`` is in the JSON list ``column``" (SQLite and PostgreSQL)."""
    if dialect == "postgresql":
        # In a CASE: PostgreSQL estimates a bare @> to hold for 0.1 % of rows, and would then
        # sort a whole postcode rather than walk its index in name order to the first few.
        return sa.case((sa.cast(column, JSONB).contains([value]), sa.true()), else_=sa.false())
    element = sa.func.json_each(column).table_valued("value")
    return select(1).select_from(element).where(element.c.value == value).exists()


def _holds(*conditions: Any) -> Any:
    """SQL for "the volunteer has an assignment such that ``conditions``".

    Asked per volunteer read (an index lookup), not as a list of every open assignment:
    the suggestions read a few dozen volunteers, a crisis has thousands of open offers.
    """
    return (
        select(1)
        .where(Assignment.volunteer_id == Volunteer.id, *conditions)
        .correlate(Volunteer)
        .exists()
    )


class _Group:
    """The volunteers of one area, skill and language combination who hold no open
    assignment and did not decline this request, read alphabetically a batch at a time.

    All score ``points`` + 10 when available now, ``points`` when not: once ``limit`` of
    them were available, the unread ones of this group can only score ``points``.
    """

    def __init__(
        self,
        criteria: _Criteria,
        points: int,
        conditions: list[Any],
        eligible: list[Any],
        batch: int,
        limit: int | None,
    ):
        self.criteria, self.points, self.batch = criteria, points, batch
        self.conditions = [*eligible, *conditions]  # the query is built if it is ever read
        self.after: tuple[str, int] | None = None
        self.exhausted = False
        self.best_seen = 0  # how many of this group scored points + AVAILABLE_NOW
        self.limit = limit

    @property
    def bound(self) -> int:
        """The most an unread volunteer of this group can score."""
        enough = self.limit is not None and self.best_seen >= self.limit
        return self.points + (0 if enough else AVAILABLE_NOW)

    def read(self) -> list[tuple[Volunteer, int]]:
        """The next batch of this group's volunteers, each with its open assignments (none)."""
        query = select(Volunteer).where(
            *self.conditions,
            ~_holds(col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES)),
            ~_holds(
                Assignment.help_request_id == self.criteria.help_request.id,
                Assignment.status == AssignmentStatus.DECLINED,
            ),
        )
        if self.after is not None:
            query = query.where(sa.tuple_(col(Volunteer.name), col(Volunteer.id)) > self.after)
        volunteers = list(
            self.criteria.session.exec(
                query.order_by(col(Volunteer.name), col(Volunteer.id)).limit(self.batch)
            )
        )
        if len(volunteers) < self.batch:
            self.exhausted = True
        if volunteers:
            self.after = (volunteers[-1].name, volunteers[-1].id)
        return [(volunteer, 0) for volunteer in volunteers]

    def note(self, suggestion: Suggestion) -> None:
        if suggestion.score >= self.points + AVAILABLE_NOW:
            self.best_seen += 1


class _Penalised:
    """Volunteers who hold open assignments or declined this request: read in the order of
    their points in SQL (area, skill, language, minus their penalties), a batch at a time."""

    def __init__(
        self,
        criteria: _Criteria,
        eligible: list[Any],
        declined_here: set[int],
        batch: int,
        best_points: int,
    ):
        self.criteria, self.batch = criteria, batch
        self.eligible, self.declined_here = eligible, declined_here
        self.query: Any = None  # built if it is ever read
        self.offset = 0
        self.exhausted = False
        # At best: the best group's points, available now, with one open assignment.
        self.bound = best_points + AVAILABLE_NOW + PER_OPEN_ASSIGNMENT

    def _query(self) -> Any:
        counts = (
            select(Assignment.volunteer_id, sa.func.count().label("open"))
            .where(col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES))
            .group_by(Assignment.volunteer_id)
            .subquery()
        )
        open_count = sa.func.coalesce(counts.c.open, 0)
        declined_here = sorted(self.declined_here)
        declined = col(Volunteer.id).in_(declined_here) if declined_here else sa.false()
        points = (
            self.criteria.points()
            + PER_OPEN_ASSIGNMENT * open_count
            + sa.case((declined, DECLINED_BEFORE), else_=0)
        )
        # Read from the (few) open and declined assignments, not from every volunteer.
        penalised = (
            select(Assignment.volunteer_id)
            .where(
                sa.or_(
                    col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
                    sa.and_(
                        Assignment.help_request_id == self.criteria.help_request.id,
                        Assignment.status == AssignmentStatus.DECLINED,
                    ),
                )
            )
            .distinct()
            .subquery()
        )
        return (
            select(Volunteer, open_count, points)
            .join(penalised, penalised.c.volunteer_id == Volunteer.id)
            .outerjoin(counts, counts.c.volunteer_id == Volunteer.id)
            .where(*self.eligible)
            .order_by(points.desc(), open_count, col(Volunteer.name), col(Volunteer.id))
        )

    def read(self) -> list[tuple[Volunteer, int]]:
        """The next batch, the most points first, each with its open assignments."""
        if self.query is None:
            self.query = self._query()
        rows = list(self.criteria.session.exec(self.query.offset(self.offset).limit(self.batch)))
        self.offset += len(rows)
        if len(rows) < self.batch:
            self.exhausted = True
        if rows:
            self.bound = rows[-1][2] + AVAILABLE_NOW
        return [(volunteer, open_count) for volunteer, open_count, _points in rows]

    def note(self, suggestion: Suggestion) -> None:
        """Nothing to keep: the bound follows the points read."""


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
