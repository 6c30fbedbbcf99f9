"""Volunteer pages: the list with search, registering, editing, (de)activating.

Operators and coordinators alike manage volunteers. A mobile number is typed
once and never shown again: the pages only say whether one is on file.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import col, select
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    DateField,
    Form,
    FormField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from callcenter_ui.auth import coordinator_required, current_principal
from callcenter_ui.history_words import history_sentence
from hotline import intake, vocabulary
from hotline.access import policy
from hotline.config import WEEKDAYS, LineSettings, Settings
from hotline.db import get_session, line_row
from hotline.dispatch import open_assignment_counts
from hotline.messaging.conversation import volunteer_conversation
from hotline.models import AuditEvent, Line, Operator, Volunteer, VolunteerLead
from hotline.volunteers import (
    MAX_NAME_LENGTH,
    SKILLS,
    VOLUNTEER_LANGUAGES,
    TranslatableError,
    VolunteerDetails,
    VolunteerError,
    create_volunteer,
    line_settings,
    moment_to_day,
    normalise_mobile_number,
    parse_time_ranges,
    search_volunteers,
    set_volunteer_active,
    update_volunteer,
    volunteer_history,
)

blueprint = Blueprint("volunteers", __name__, url_prefix="/volunteers")
STATUS_FILTERS = ("active", "inactive", "all")
CONVERSATION_LENGTH = 20  # the volunteer page shows their latest texts, any request


def translated(error: TranslatableError) -> str:
    """An error of the use cases in the operator's language."""
    return _(error.message, **error.params)


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (languages, skills)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _time_ranges(_form: Form, field: StringField) -> None:
    try:
        field.data = ", ".join(parse_time_ranges(field.data or ""))
    except VolunteerError as error:
        raise ValidationError(translated(error)) from None


class AvailabilityForm(Form):
    """One text per weekday, "09:00-12:00, 14:00-18:00"; all days empty means any time."""

    mon = StringField(validators=[_time_ranges])
    tue = StringField(validators=[_time_ranges])
    wed = StringField(validators=[_time_ranges])
    thu = StringField(validators=[_time_ranges])
    fri = StringField(validators=[_time_ranges])
    sat = StringField(validators=[_time_ranges])
    sun = StringField(validators=[_time_ranges])


class VolunteerForm(FlaskForm):
    """A volunteer's details; the number is only typed, never filled in from the vault."""

    line = SelectField(_l("Help line"))
    name = StringField(
        _l("Name"),
        validators=[InputRequired(_l("A name is needed.")), Length(max=MAX_NAME_LENGTH)],
    )
    mobile_number = TelField(_l("Mobile number"))
    postcode = StringField(
        _l("Postcode"),
        validators=[
            InputRequired(_l("A postcode is needed.")),
            Regexp(r"^\s*\d{4}\s*$", message=_l("A postcode has four digits.")),
        ],
    )
    languages = MultiCheckboxField(
        _l("Languages"), validators=[DataRequired(_l("Choose at least one language."))]
    )
    skills = MultiCheckboxField(
        _l("Helps with"), validators=[DataRequired(_l("Choose at least one kind of help."))]
    )
    # "any": available at any time (stored as no days at all); "days": the days filled in.
    availability_kind = RadioField(
        _l("Availability"),
        choices=[
            SelectChoice("any", _l("Any time")),
            SelectChoice("days", _l("Only on certain days and hours")),
        ],
        default="any",
    )
    availability = FormField(AvailabilityForm, label=_l("Days and hours"))
    has_car = BooleanField(_l("Has a car"))
    safety_accepted_on = DateField(_l("Safety instructions accepted on"), [Optional()])
    insurance_registered_on = DateField(_l("Registered for the insurance on"), [Optional()])

    def __init__(self, *args: Any, lines: dict[str, LineSettings], number_required: bool, **kw):
        super().__init__(*args, **kw)
        self.lines, self.number_required = lines, number_required
        self.line.choices = [SelectChoice(slug, line.name) for slug, line in lines.items()]
        if self.line.data not in lines:
            self.line.data = next(iter(lines))
        self.languages.choices = [
            SelectChoice(code, language_label(code)) for code in VOLUNTEER_LANGUAGES
        ]
        self.skills.choices = [SelectChoice(code, skill_label(code)) for code in SKILLS]

    def validate_mobile_number(self, field: TelField) -> None:
        if not (field.data or "").strip():
            if self.number_required:
                raise ValidationError(_("A mobile number is needed to send assignments by SMS."))
            return
        try:
            normalise_mobile_number(field.data, self.lines[self.line.data].country)
        except VolunteerError as error:
            raise ValidationError(translated(error)) from None

    def details(self) -> VolunteerDetails:
        """What the form says, for the use cases."""
        return VolunteerDetails(
            name=self.name.data,
            postcode=self.postcode.data.strip(),
            languages=self.languages.data,
            skills=self.skills.data,
            availability=self.chosen_availability(),
            has_car=self.has_car.data,
            safety_accepted_on=self.safety_accepted_on.data,
            insurance_registered_on=self.insurance_registered_on.data,
        )

    def availability_choice(self) -> str:
        """ "any" or "days"; a form sent without the choice (a script, an older page) is
        read by what it holds."""
        if self.availability_kind.raw_data:
            return self.availability_kind.data
        return "days" if any(self.availability[day].data for day in WEEKDAYS) else "any"

    def chosen_availability(self) -> dict[str, list[str]]:
        """The days and hours filled in, or none at all (any time) when that is chosen."""
        if self.availability_choice() != "days":
            return {}
        return {day: [self.availability[day].data] for day in WEEKDAYS}

    def validate(self, extra_validators=None) -> bool:
        """Check the form; the days' texts only count when certain days are chosen."""
        if self.availability_choice() == "any":
            for day in WEEKDAYS:
                self.availability[day].data = ""
        return super().validate(extra_validators)

    def validate_availability_kind(self, field: RadioField) -> None:
        if self.availability_choice() == "days" and not any(
            self.availability[day].data for day in WEEKDAYS
        ):
            raise ValidationError(_("Fill in at least one day, or choose any time."))

    def show_error(self, error: VolunteerError) -> None:
        """Put a use case's refusal next to its field (or on top of the form)."""
        message = translated(error)
        name, _dash, sub = (error.field or "").partition("-")
        field: Any = self._fields.get(name)
        if sub:
            field = field.form._fields.get(sub) if isinstance(field, FormField) else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            flash(message, "error")


def language_label(code: str) -> str:
    """A language's name in the operator's language (hotline.vocabulary)."""
    return vocabulary.language_name(code)


def skill_label(code: str) -> str:
    """A kind of help (a request category) in the operator's language, as a list item."""
    return vocabulary.capitalised(vocabulary.category_words(code))


def weekday_label(day: str) -> str:
    """A weekday's name in the operator's language."""
    return {
        "mon": _("Monday"),
        "tue": _("Tuesday"),
        "wed": _("Wednesday"),
        "thu": _("Thursday"),
        "fri": _("Friday"),
        "sat": _("Saturday"),
        "sun": _("Sunday"),
    }[day]


FIELD_LABELS = {
    "name": _l("name"),
    "postcode": _l("postcode"),
    "languages": _l("languages"),
    "skills": _l("kinds of help"),
    "availability": _l("availability"),
    "has_car": _l("car"),
    "safety_accepted_at": _l("safety instructions"),
    "insurance_registered_at": _l("insurance"),
    "mobile_number": _l("mobile number"),
}


def history_label(event: AuditEvent) -> str:
    """One line of a volunteer's (or a request's) history in the operator's language."""
    return history_sentence(event, FIELD_LABELS)


def day_of(moment: datetime | None, line: LineSettings | None) -> date | None:
    """The calendar day of a stored moment, in the line's time zone."""
    return moment_to_day(moment, line.timezone if line else "UTC")


def line_local_time(moment: datetime, line: LineSettings | None) -> str:
    """A stored moment as the line's clock showed it, short and localised."""
    local = moment.astimezone(ZoneInfo(line.timezone)) if line else moment
    return format_datetime(local, "short", rebase=False)


@blueprint.app_context_processor
def _helpers() -> dict[str, Any]:
    # The assignment panel on the request page uses the same labels and clocks.
    return {
        "language_label": language_label,
        "skill_label": skill_label,
        "weekday_label": weekday_label,
        "history_label": history_label,
        "lead_status_label": lead_status_label,
        "day_of": day_of,
        "line_local_time": line_local_time,
        "WEEKDAYS": WEEKDAYS,
    }


def _settings() -> Settings:
    return current_app.extensions["hotline.settings"]


def _lines_by_row_id() -> dict[int, LineSettings]:
    session, settings = get_session(), _settings()
    return {line_row(session, settings, slug).id: line for slug, line in settings.lines.items()}


def _volunteer_or_404(volunteer_id: int) -> tuple[Volunteer, LineSettings]:
    # Another line's volunteer is not found, like another line's request.
    volunteer = policy.check_manage_volunteer(
        current_principal(), get_session().get(Volunteer, volunteer_id)
    )
    return volunteer, line_settings(_settings(), get_session().get(Line, volunteer.line_id))


def _form_data(volunteer: Volunteer, line: LineSettings) -> dict[str, Any]:
    """The form's starting values for an existing volunteer (without the number)."""
    return {
        "line": line.slug,
        "name": volunteer.name,
        "postcode": volunteer.postcode,
        "languages": volunteer.languages,
        "skills": volunteer.skills,
        "availability_kind": "days" if any(volunteer.availability.values()) else "any",
        "availability": {day: ", ".join(volunteer.availability.get(day, [])) for day in WEEKDAYS},
        "has_car": volunteer.has_car,
        "safety_accepted_on": moment_to_day(volunteer.safety_accepted_at, line.timezone),
        "insurance_registered_on": moment_to_day(volunteer.insurance_registered_at, line.timezone),
    }


@blueprint.get("/")
def index() -> str:
    """All volunteers, searchable by name, postcode or skill, active ones by default."""
    text = request.args.get("q", "").strip()
    skill = request.args.get("skill") if request.args.get("skill") in SKILLS else None
    status = request.args.get("status") if request.args.get("status") in STATUS_FILTERS else None
    status = status or "active"
    active = {"active": True, "inactive": False, "all": None}[status]
    volunteers = search_volunteers(
        get_session(),
        text=text,
        skill=skill,
        active=active,
        visible=policy.volunteer_filter(current_principal()),
    )
    return render_template(
        "volunteers/index.html",
        volunteers=volunteers,
        open_counts=open_assignment_counts(get_session(), [v.id for v in volunteers]),
        lines=_lines_by_row_id(),
        skills=SKILLS,
        filters={"q": text, "skill": skill or "", "status": status},
        status_filters={"active": _("Active"), "inactive": _("Inactive"), "all": _("All")},
    )


@blueprint.route("/new", methods=["GET", "POST"])
def new():
    """Register a volunteer."""
    settings, session = _settings(), get_session()
    # Only the lines this account works on are offered (and accepted).
    own = policy.own_lines(current_principal(), settings.lines)
    if not own:
        abort(403)  # an account of lines that are no longer configured registers nobody
    form = VolunteerForm(lines={slug: settings.lines[slug] for slug in own}, number_required=True)
    if form.validate_on_submit():
        line = settings.lines[form.line.data]
        policy.check_line(current_principal(), line_row(session, settings, line.slug).id)
        try:
            volunteer = create_volunteer(
                session,
                line=line,
                line_row=line_row(session, settings, line.slug),
                secrets=settings.secrets,
                details=form.details(),
                mobile_number=form.mobile_number.data,
                operator_id=current_user.id,
            )
        except VolunteerError as error:
            session.rollback()
            form.show_error(error)
        else:
            flash(_("%(name)s is registered as a volunteer.", name=volunteer.name))
            return redirect(url_for("volunteers.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("volunteers/form.html", form=form, volunteer=None), status


@blueprint.route("/<int:volunteer_id>", methods=["GET", "POST"])
def edit(volunteer_id: int):
    """Change a volunteer's details, or replace the number on file."""
    settings, session = _settings(), get_session()
    volunteer, line = _volunteer_or_404(volunteer_id)
    # The line is fixed once registered: the form offers only the volunteer's own.
    lines = {line.slug: line}
    if request.method == "POST":
        form = VolunteerForm(
            formdata=_with_line(request.form, line.slug), lines=lines, number_required=False
        )
    else:
        form = VolunteerForm(data=_form_data(volunteer, line), lines=lines, number_required=False)
    if form.validate_on_submit():
        try:
            update_volunteer(
                session,
                volunteer=volunteer,
                line=line,
                secrets=settings.secrets,
                details=form.details(),
                new_mobile_number=form.mobile_number.data,
                operator_id=current_user.id,
            )
        except VolunteerError as error:
            session.rollback()
            session.refresh(volunteer)
            form.show_error(error)
        else:
            flash(_("The changes to %(name)s are saved.", name=volunteer.name))
            return redirect(url_for("volunteers.edit", volunteer_id=volunteer.id))
    history = volunteer_history(session, volunteer_id=volunteer.id)
    operator_ids = {event.operator_id for event in history if event.operator_id}
    operators = dict(
        session.exec(
            select(Operator.id, Operator.display_name).where(col(Operator.id).in_(operator_ids))
        ).all()
    )
    status = 400 if request.method == "POST" else 200
    return render_template(
        "volunteers/form.html",
        form=form,
        volunteer=volunteer,
        open_count=open_assignment_counts(session, [volunteer.id]).get(volunteer.id, 0),
        history=history,
        operators=operators,
        line=line,
        conversation=volunteer_conversation(
            session, volunteer_id=volunteer.id, limit=CONVERSATION_LENGTH
        ),
    ), status


def _with_line(form: MultiDict, slug: str) -> MultiDict:
    data = form.copy()
    data["line"] = slug
    return data


@blueprint.post("/<int:volunteer_id>/deactivate")
def deactivate(volunteer_id: int):
    """Stop suggesting a volunteer (e.g. ill or moved away); their history stays."""
    volunteer, _line = _volunteer_or_404(volunteer_id)
    set_volunteer_active(
        get_session(), volunteer=volunteer, active=False, operator_id=current_user.id
    )
    flash(_("%(name)s is no longer active.", name=volunteer.name))
    still_open = open_assignment_counts(get_session(), [volunteer.id]).get(volunteer.id, 0)
    if still_open:
        flash(
            ngettext(
                "%(name)s still has %(num)d open assignment: assign that request to someone else.",
                "%(name)s still has %(num)d open assignments: assign those requests to "
                "someone else.",
                still_open,
                name=volunteer.name,
            ),
            "error",
        )
    return redirect(url_for("volunteers.edit", volunteer_id=volunteer.id))


@blueprint.post("/<int:volunteer_id>/reactivate")
def reactivate(volunteer_id: int):
    """Make a volunteer available for suggestions again."""
    volunteer, _line = _volunteer_or_404(volunteer_id)
    set_volunteer_active(
        get_session(), volunteer=volunteer, active=True, operator_id=current_user.id
    )
    flash(_("%(name)s is active again.", name=volunteer.name))
    return redirect(url_for("volunteers.edit", volunteer_id=volunteer.id))


def lead_status_label(status: str) -> str:
    """A volunteer lead's follow-up status in the operator's language."""
    return {
        "new": _("new"),
        "contacted": _("contacted"),
        "registered": _("registered as a volunteer"),
        "dropped": _("not going ahead"),
    }.get(status, status)


@blueprint.get("/leads")
def leads() -> str:
    """People who phoned the line to offer help (IVR option 2), for coordinators to follow up."""
    status = request.args.get("status") or None
    return render_template(
        "volunteers/leads.html",
        leads=intake.list_volunteer_leads(
            get_session(), status=status, visible=policy.lead_filter(current_principal())
        ),
        statuses=intake.LEAD_STATUSES,
        status=status,
        line=next(iter(_settings().lines.values())),
    )


@blueprint.post("/leads/<int:lead_id>")
@coordinator_required
def lead_status(lead_id: int):
    """Coordinators note how a lead was followed up."""
    session = get_session()
    lead = policy.check_follow_up_lead(current_principal(), session.get(VolunteerLead, lead_id))
    if request.form.get("status") not in intake.LEAD_STATUSES:
        abort(400)
    intake.set_lead_status(
        session, lead=lead, status=request.form["status"], operator_id=current_user.id
    )
    flash(_("Saved."), "ok")
    return redirect(url_for("volunteers.leads"))
