"""Volunteers: registering, editing, (de)activating and finding the people who help.

A volunteer's mobile number goes only into the contact vault (``store_contact``);
the volunteer row keeps the vault pointer and nothing else of it. Every change is
written to the audit log with the volunteer's id, never with the number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlmodel import Session, col, or_, select

from hotline.audit import record
from hotline.config import WEEKDAYS, LineSettings, Secrets, Settings
from hotline.models import AuditEvent, Contact, Line, Volunteer, utcnow
from hotline.privacy import caller_hash, store_contact
from hotline.vocabulary import CATEGORIES, LANGUAGES, N_

# A volunteer's skills are the request categories they are willing to help with.
SKILLS = CATEGORIES
VOLUNTEER_LANGUAGES = LANGUAGES
MAX_NAME_LENGTH = 120
MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)
# "9-12", "09:00-12:00", "9u30-12u", "9.30 – 12": people type hours in many ways.
_TIME_RANGE = re.compile(
    r"(?P<h1>\d{1,2})(?:[:.hu](?P<m1>\d{2})?)?\s*[-–]\s*(?P<h2>\d{1,2})(?:[:.hu](?P<m2>\d{2})?)?"
)


class TranslatableError(ValueError):
    """An error whose ``message`` is an English text with %(name)s placeholders.

    The UI translates ``message`` and fills in ``params``; ``str(error)`` is the English text.
    """

    def __init__(self, message: str, *, field: str | None = None, **params: Any):
        super().__init__(message % params if params else message)
        self.message, self.params, self.field = message, params, field


class VolunteerError(TranslatableError):
    """Volunteer details that cannot be saved; ``field`` names the form field at fault."""


@dataclass(frozen=True, kw_only=True)
class VolunteerDetails:
    """What an operator fills in about a volunteer (everything but the mobile number)."""

    name: str
    postcode: str
    languages: Sequence[str]
    skills: Sequence[str]
    # {"mon": ["09:00-12:00", "14:00-18:00"]}; empty: available any time
    availability: Mapping[str, Sequence[str]] = field(default_factory=dict)
    has_car: bool = False
    safety_accepted_on: date | None = None
    insurance_registered_on: date | None = None


def normalise_mobile_number(raw: str, country: str) -> str:
    """The E.164 form of a mobile number typed as locals write it; VolunteerError otherwise.

    Landlines are refused: volunteers receive their assignments by SMS.
    """
    try:
        parsed = phonenumbers.parse(raw.strip(), country)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise VolunteerError(N_("This is not a valid phone number."), field="mobile_number")
    if phonenumbers.number_type(parsed) not in MOBILE_TYPES:
        raise VolunteerError(
            N_("This is not a mobile number: volunteers get their assignments by SMS."),
            field="mobile_number",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_time_ranges(text: str) -> list[str]:
    """Read "9-12, 14:00-18:00" as ["09:00-12:00", "14:00-18:00"], sorted; raises VolunteerError.

    An empty text is no range at all. Overlapping ranges are refused rather than
    merged, because they usually hide a typing mistake.
    """
    spans: list[tuple[int, int]] = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        match = _TIME_RANGE.fullmatch(part)
        if match is None:
            raise VolunteerError(N_('"%(text)s" is not a time range like 09:00-12:00.'), text=part)
        start = _minutes(match["h1"], match["m1"], part)
        end = _minutes(match["h2"], match["m2"], part)
        if end <= start:
            raise VolunteerError(N_('In "%(text)s" the end must be after the start.'), text=part)
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise VolunteerError(N_("These time ranges overlap: %(text)s."), text=text.strip())
    return [f"{_clock(start)}-{_clock(end)}" for start, end in spans]


def _minutes(hours: str, minutes: str | None, text: str) -> int:
    value = int(hours) * 60 + int(minutes or 0)
    if int(minutes or 0) > 59 or value > 24 * 60:
        raise VolunteerError(N_('"%(text)s" holds a time that does not exist.'), text=text)
    return value


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_availability(per_day: Mapping[str, str]) -> dict[str, list[str]]:
    """Availability from one text per weekday ({"mon": "9-12"}); days left empty are dropped.

    An error names the weekday in ``params["day"]`` and the form field ``availability-<day>``.
    """
    availability: dict[str, list[str]] = {}
    for day, text in per_day.items():
        if day not in WEEKDAYS:
            raise VolunteerError(N_("Unknown weekday %(day)s."), day=day)
        try:
            ranges = parse_time_ranges(text or "")
        except VolunteerError as error:
            raise VolunteerError(
                error.message, field=f"availability-{day}", day=day, **error.params
            ) from None
        if ranges:
            availability[day] = ranges
    return availability


def is_available(availability: Mapping[str, Sequence[str]], local_moment: datetime) -> bool:
    """Whether a volunteer is available at ``local_moment`` (in the line's time zone).

    An empty availability means "any time", as volunteers who left it empty said.
    """
    if not availability:
        return True
    minute = local_moment.hour * 60 + local_moment.minute
    for span in availability.get(WEEKDAYS[local_moment.weekday()], ()):
        start, end = (int(h) * 60 + int(m) for h, m in (t.split(":") for t in span.split("-")))
        if start <= minute < end:
            return True
    return False


def line_settings(settings: Settings, line: Line) -> LineSettings:
    """The configured settings of a line's row (the first line if it is no longer configured)."""
    return settings.lines.get(line.slug) or next(iter(settings.lines.values()))


def day_to_moment(day: date | None, timezone: str) -> datetime | None:
    """The start of ``day`` in the line's time zone, as an aware datetime (None stays None)."""
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))


def moment_to_day(moment: datetime | None, timezone: str) -> date | None:
    """The calendar day of ``moment`` in the line's time zone (None stays None)."""
    return None if moment is None else moment.astimezone(ZoneInfo(timezone)).date()


def create_volunteer(
    session: Session,
    *,
    line: LineSettings,
    line_row: Line,
    secrets: Secrets,
    details: VolunteerDetails,
    mobile_number: str,
    operator_id: int | None,
) -> Volunteer:
    """Register a volunteer: the number goes into the vault, the rest on the row; audited."""
    values = _validated(details, line)
    number = normalise_mobile_number(mobile_number, line.country)
    contact = _vault_entry_for(session, secrets, number, volunteer_id=None)
    volunteer = Volunteer(line_id=line_row.id, contact_id=contact.id, **values)
    session.add(volunteer)
    session.flush()
    record(
        session,
        "volunteer:created",
        operator_id=operator_id,
        volunteer_id=volunteer.id,
        **_audit_values(values),
    )
    session.commit()
    return volunteer


def update_volunteer(
    session: Session,
    *,
    volunteer: Volunteer,
    line: LineSettings,
    secrets: Secrets,
    details: VolunteerDetails,
    operator_id: int | None,
    new_mobile_number: str | None = None,
) -> Volunteer:
    """Save changed details (and a replacement number, if given); the audit says what changed."""
    values = _validated(details, line)
    contact = None
    if new_mobile_number and new_mobile_number.strip():
        number = normalise_mobile_number(new_mobile_number, line.country)
        contact = _vault_entry_for(session, secrets, number, volunteer_id=volunteer.id)
    changes: dict[str, Any] = {
        name: [_audit_value(getattr(volunteer, name)), _audit_value(value)]
        for name, value in values.items()
        if getattr(volunteer, name) != value
    }
    for name in changes:
        setattr(volunteer, name, values[name])
    if contact is not None and contact.id != volunteer.contact_id:
        volunteer.contact_id = contact.id
        changes["mobile_number"] = "replaced"  # never the number itself
    if changes:
        volunteer.updated_at = utcnow()
        session.add(volunteer)
        record(
            session,
            "volunteer:updated",
            operator_id=operator_id,
            volunteer_id=volunteer.id,
            **changes,
        )
    session.commit()
    return volunteer


def set_volunteer_active(
    session: Session, *, volunteer: Volunteer, active: bool, operator_id: int | None
) -> Volunteer:
    """Deactivate (no new suggestions or assignments) or reactivate a volunteer; audited."""
    if volunteer.active != active:
        volunteer.active = active
        volunteer.updated_at = utcnow()
        session.add(volunteer)
        action = "volunteer:reactivated" if active else "volunteer:deactivated"
        record(session, action, operator_id=operator_id, volunteer_id=volunteer.id)
        session.commit()
    return volunteer


def search_volunteers(
    session: Session,
    *,
    text: str = "",
    skill: str | None = None,
    active: bool | None = True,
    line_id: int | None = None,
    visible: Any = None,
    limit: int = 500,
) -> list[Volunteer]:
    """Volunteers by name (any part), postcode (its start) or skill, alphabetically.

    ``active`` None means active and inactive alike; a free text that is a skill
    ("dog") also finds the volunteers with that skill. ``visible``: the access policy's
    ``volunteer_filter`` (None: every line's).
    """
    query = select(Volunteer)
    if active is not None:
        query = query.where(Volunteer.active == active)
    if line_id is not None:
        query = query.where(Volunteer.line_id == line_id)
    if visible is not None:
        query = query.where(visible)
    text = text.strip()
    text_skill = text.lower() if text.lower() in SKILLS else None
    if text and not text_skill:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(
                col(Volunteer.name).ilike(f"%{escaped}%", escape="\\"),
                col(Volunteer.postcode).startswith(text, autoescape=True),
            )
        )
    query = query.order_by(Volunteer.name, Volunteer.id)
    wanted = {s for s in (skill, text_skill) if s}
    # Skills are a JSON list; filtering them here keeps one query for SQLite and PostgreSQL.
    found = [v for v in session.exec(query) if wanted <= set(v.skills)]
    return found[:limit]


def volunteer_history(session: Session, *, volunteer_id: int, limit: int = 50) -> list[AuditEvent]:
    """What happened to a volunteer (registration, changes, assignments), newest first."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.volunteer_id == volunteer_id)
            .order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
            .limit(limit)
        )
    )


def _vault_entry_for(
    session: Session, secrets: Secrets, number: str, *, volunteer_id: int | None
) -> Contact:
    """The vault entry of ``number``; refused when another volunteer already has it."""
    hashed = caller_hash(number, secrets.hash_pepper)
    existing = session.exec(select(Contact).where(Contact.caller_hash == hashed)).first()
    if existing is not None:
        owner = session.exec(
            select(Volunteer.id).where(
                Volunteer.contact_id == existing.id, Volunteer.id != volunteer_id
            )
        ).first()
        if owner is not None:
            # Said without naming the other volunteer: the page must not tie a number to a person.
            raise VolunteerError(
                N_("This number is already on file for another volunteer."),
                field="mobile_number",
            )
    return store_contact(session, secrets, number)


def _validated(details: VolunteerDetails, line: LineSettings) -> dict[str, Any]:
    """The row's values from ``details``, or VolunteerError naming the field at fault."""
    name = " ".join(details.name.split())
    if not name:
        raise VolunteerError(N_("A name is needed."), field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise VolunteerError(
            N_("A name has at most %(max)d characters."), field="name", max=MAX_NAME_LENGTH
        )
    postcode = details.postcode.strip()
    if not re.fullmatch(r"\d{4}", postcode):
        raise VolunteerError(N_("A postcode has four digits."), field="postcode")
    languages = [lang for lang in VOLUNTEER_LANGUAGES if lang in details.languages]
    if not languages or len(languages) != len(set(details.languages)):
        raise VolunteerError(N_("Choose the languages the volunteer speaks."), field="languages")
    skills = [skill for skill in SKILLS if skill in details.skills]
    if not skills or len(skills) != len(set(details.skills)):
        raise VolunteerError(N_("Choose what the volunteer will help with."), field="skills")
    availability = parse_availability(
        {day: ", ".join(ranges) for day, ranges in details.availability.items()}
    )
    today = utcnow().astimezone(ZoneInfo(line.timezone)).date()
    for field_name in ("safety_accepted_on", "insurance_registered_on"):
        day = getattr(details, field_name)
        if day is not None and day > today:
            raise VolunteerError(N_("This date lies in the future."), field=field_name)
    return {
        "name": name,
        "postcode": postcode,
        "languages": languages,
        "skills": skills,
        "availability": {day: availability[day] for day in WEEKDAYS if day in availability},
        "has_car": bool(details.has_car),
        "safety_accepted_at": day_to_moment(details.safety_accepted_on, line.timezone),
        "insurance_registered_at": day_to_moment(details.insurance_registered_on, line.timezone),
    }


def _audit_value(value: Any) -> Any:
    """A value as it can be stored in the audit log's JSON detail."""
    return value.isoformat() if isinstance(value, datetime | date) else value


def _audit_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _audit_value(value) for name, value in values.items()}
