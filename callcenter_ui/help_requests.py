"""Help requests in the call centre: the live queue, a request's page, triage, live intake."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import SelectChoice, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length

from callcenter_ui.auth import current_principal, visible_request
from callcenter_ui.formatting import duration
from callcenter_ui.history_words import reason_text
from callcenter_ui.volunteers import translated
from hotline import triage, vocabulary
from hotline.access import policy
from hotline.audit import history
from hotline.config import Settings
from hotline.db import get_session, line_row
from hotline.http_bounds import MAX_ID
from hotline.lifecycle import TRANSITIONS, IllegalTransition
from hotline.messaging.conversation import (
    follow_up_requests,
    is_no_volunteer_found,
    offer_states,
)
from hotline.models import HelpRequest, Line, Operator, RequestStatus, Volunteer, utcnow
from hotline.voice.callbacks import attempts as call_back_attempts

blueprint = Blueprint("requests", __name__, url_prefix="/requests")


def _settings() -> Settings:
    return current_app.extensions["hotline.settings"]


def _line_of(help_request: HelpRequest):
    session = get_session()
    slug = session.get(Line, help_request.line_id).slug
    return _settings().lines[slug]


def label_choices(values, blank: str | None = None) -> list[SelectChoice]:
    """Select options for vocabulary values, labelled in the operator's language."""
    labels = labels_for()
    pairs = [SelectChoice(value, labels.get(value, value)) for value in values]
    return ([SelectChoice("", blank)] if blank is not None else []) + pairs


def postcode_choices(line) -> list[SelectChoice]:
    """The postcodes a line serves, with their municipality, after a blank "—"."""
    return [SelectChoice("", "—")] + [
        SelectChoice(code, f"{code} {name}") for code, name in line.postcodes.items()
    ]


def set_request_choices(form, line, *, languages=vocabulary.LANGUAGES, blank_language=True):
    """The options of a request form's language, category, postcode and urgency fields."""
    form.language.choices = label_choices(languages, blank="—" if blank_language else None)
    form.category.choices = label_choices(vocabulary.CATEGORIES, blank="—")
    form.postcode.choices = postcode_choices(line)
    form.urgency.choices = label_choices(vocabulary.URGENCIES, blank="—")
    return form


def labels_for() -> dict[str, str]:
    """The words of a request's codes (categories, urgencies, statuses, sources, languages
    by name) in the reader's language, from hotline.vocabulary.

    Looked up once per web request and language (the queue asks for a label in every cell:
    rebuilding the dict each time was most of the queue page's time at a crisis's scale).
    """
    locale = str(get_locale())
    cached = g.get("_labels")
    if cached is None or cached[0] != locale:
        cached = (locale, dict(vocabulary.all_words(locale)))
        g._labels = cached
    return cached[1]


def queue_waiting_texts() -> dict[str, str]:
    """For each QueueRow.state, what the queue's waiting time says ("%(time)s": 12 min)."""
    return {
        "to_triage": _("waiting for triage for %(time)s"),
        "to_assign": _("waiting for a volunteer for %(time)s"),
        "no_volunteer_found": _("waiting for a volunteer for %(time)s"),
        "offer_fell_through": _("waiting for a volunteer for %(time)s"),
        "needs_follow_up": _("accepted %(time)s ago, not reported done"),
        "offered": _("offered %(time)s ago, waiting for an answer"),
        "accepted": _("accepted %(time)s ago"),
        "done": _("done %(time)s ago"),
        "cancelled": _("cancelled %(time)s ago"),
    }


@blueprint.app_context_processor
def _inject_labels():
    return {"labels": labels_for}


def _filters() -> triage.QueueFilters:
    args = request.args
    return triage.QueueFilters(
        status=args.get("status") or None,
        category=args.get("category") or None,
        postcode=args.get("postcode") or None,
        language=args.get("language") or None,
        source=args.get("source") or None,
    )


def _after() -> int | None:
    """The ``after`` of the queue's next-page link: a request id, or None (the first page)."""
    after = request.args.get("after", type=int)
    return after if after is not None and 0 < after <= MAX_ID else None


def _seen() -> datetime | None:
    """Until when the operator's page already showed the queue (``seen``, sent by its
    refresh): requests that came in later are announced and highlighted."""
    seen = request.args.get("seen", type=float)
    if seen is None or not 0 < seen < 10**10:
        return None
    return datetime.fromtimestamp(seen, UTC)


def _queue_page(title: str, source: str | None = None):
    filters = _filters()
    if source:
        filters = triage.QueueFilters(**{**filters.__dict__, "source": source})
    session = get_session()
    now = utcnow()
    page = triage.list_queue(
        session,
        filters=filters,
        visible=policy.request_filter(current_principal()),
        now=now,
        after=_after(),
    )
    request_ids = [row.help_request.id for row in page.rows]
    seen = _seen()
    arrived = {
        row.help_request.id for row in page.rows if seen and row.help_request.created_at > seen
    }
    template = "requests/_rows.html" if request.headers.get("HX-Request") else "requests/queue.html"
    page_args = {key: value for key, value in request.args.items() if value and key != "seen"}
    next_args = {key: value for key, value in page_args.items() if key != "after"}
    return render_template(
        template,
        title=title,
        rows=page.rows,
        total=page.total,
        more_than_total=page.more_than_total,
        is_first_page=_after() is None,
        next_url=url_for(request.endpoint, **next_args, after=page.next_after)
        if page.next_after
        else None,
        first_url=url_for(request.endpoint, **next_args),
        offers=offer_states(session, request_ids),
        # The call-backs list says how often each request was called back, and how it went.
        attempts=call_back_attempts(session, request_ids) if source == "callback" else None,
        filters=filters,
        # Needs action, then in hand: headed as such where the queue is in its own order.
        grouped=not (filters.status or source == "callback"),
        waiting=queue_waiting_texts(),
        arrived=arrived,
        news=ngettext("%(num)d new request", "%(num)d new requests", len(arrived))
        if arrived
        else "",
        seen_until=f"{now.timestamp():.3f}",
        statuses=list(TRANSITIONS),
        categories=vocabulary.CATEGORIES,
        languages=vocabulary.LANGUAGES,
        postcodes=sorted({code for line in _settings().lines.values() for code in line.postcodes}),
        rows_url=url_for(request.endpoint, **page_args),
    )


@blueprint.get("/")
def queue():
    """The live queue: what needs action before what is in hand, urgent first, then oldest;
    refreshes itself every few seconds, keeping the operator's place."""
    return _queue_page(_("Queue"))


@blueprint.get("/call-backs")
def callbacks():
    """Call-back requests left outside hours or when nobody answered: oldest first."""
    return _queue_page(_("Call-backs"), source="callback")


@blueprint.get("/follow-up")
def follow_up():
    """Accepted requests whose volunteer never reported done, even after a reminder."""
    flagged = follow_up_requests(get_session(), visible=policy.request_filter(current_principal()))
    return render_template(
        "requests/follow_up.html",
        title=_("Needs follow-up"),
        rows=[(row, _line_of(row.help_request)) for row in flagged],
    )


class TriageForm(FlaskForm):
    category = SelectField()
    postcode = SelectField()
    urgency = SelectField()
    language = SelectField()
    notes = TextAreaField(validators=[Length(max=4000)])


class DuplicateForm(FlaskForm):
    original_reference = StringField(validators=[DataRequired(), Length(min=6, max=6)])


class CancelForm(FlaskForm):
    reason = StringField(validators=[DataRequired(), Length(max=500)])


def _triage_form(help_request: HelpRequest, line, formdata=None) -> TriageForm:
    form = TriageForm(formdata=formdata, obj=None if formdata else help_request)
    return set_request_choices(form, line)


# History events an operator has to act on: they stand out on a request's page.
NEEDS_ACTION_EVENTS = (
    "assignment:undelivered",
    "sms_not_sent",
    "sms_undelivered",
    "no_volunteer_found",
    "needs_follow_up",
)


def next_step(help_request: HelpRequest) -> str:
    """What happens next with ``help_request``, in one sentence for the operator."""
    if is_no_volunteer_found(help_request):
        return _(
            "Every suggested volunteer was asked: phone a volunteer yourself and assign them "
            "by hand."
        )
    return {
        RequestStatus.NEW: _(
            "Check what the resident needs and save the triage; the volunteers nearby are "
            "suggested below."
        ),
        RequestStatus.TRIAGED: _(
            "Ask a suggested volunteer: they get an SMS and answer YES or NO; you see the "
            "answer here."
        ),
        RequestStatus.ASSIGNED: _(
            "The volunteer gets an SMS and answers YES or NO; you see the answer here."
        ),
        RequestStatus.ACCEPTED: _(
            "The volunteer calls the resident through the hotline and texts DONE once they "
            "have helped; without it they get a reminder, and then the request is listed "
            "under Needs follow-up."
        ),
        RequestStatus.DONE: _("Nothing more to do: the volunteer has helped."),
        RequestStatus.CANCELLED: _("Nothing more to do: the request is closed."),
    }[RequestStatus(help_request.status)]


@blueprint.get("/<int:request_id>")
def detail(request_id: int, forms: dict | None = None):
    """Everything known about a request, its history, and what can be done with it."""
    session = get_session()
    help_request = visible_request(request_id)
    line = _line_of(help_request)
    events = history(session, help_request_id=help_request.id)
    operators = {operator.id: operator.display_name for operator in session.exec(select(Operator))}
    volunteer_ids = {event.volunteer_id for event in events if event.volunteer_id}
    volunteers = dict(
        session.exec(
            select(Volunteer.id, Volunteer.name).where(col(Volunteer.id).in_(volunteer_ids))
        ).all()
    )
    forms = forms or {}
    return render_template(
        "requests/detail.html",
        help_request=help_request,
        line=line,
        events=events,
        operators=operators,
        volunteers=volunteers,
        # The same caller may have phoned another town's line: only this account's lines show.
        earlier=triage.callers_earlier_requests(
            session, help_request, visible=policy.request_filter(current_principal())
        ),
        duplicate_of=_visible_or_none(session.get(HelpRequest, help_request.duplicate_of_id))
        if help_request.duplicate_of_id
        else None,
        triage_form=forms.get("triage") or _triage_form(help_request, line),
        duplicate_form=forms.get("duplicate") or DuplicateForm(formdata=None),
        cancel_form=forms.get("cancel") or CancelForm(formdata=None),
        is_open=help_request.status not in ("done", "cancelled"),
        next_step=next_step(help_request),
        needs_action_events=NEEDS_ACTION_EVENTS,
        cancel_reason=reason_text(help_request.cancel_reason or ""),
    ), (400 if forms else 200)


def _visible_or_none(help_request: HelpRequest | None) -> HelpRequest | None:
    """``help_request`` if the logged-in account may see it (links to another line's: none)."""
    if help_request is None or not current_principal().sees_line(help_request.line_id):
        return None
    return help_request


def _act(request_id: int, form_name: str, form, action):
    """Validate a form, run the use case, report back on the request's page."""
    help_request = visible_request(request_id)
    if form.validate_on_submit():
        try:
            action(help_request, form)
        except triage.TriageError as error:
            get_session().rollback()
            flash(translated(error), "error")
        except IllegalTransition:
            get_session().rollback()
            flash(
                _("The request has moved on in the meantime: this change no longer fits."), "error"
            )
        else:
            return redirect(url_for("requests.detail", request_id=request_id))
    else:
        flash(_("Please correct the marked fields."), "error")
    return detail(request_id, forms={form_name: form})


@blueprint.post("/<int:request_id>/triage")
def triage_view(request_id: int):
    """Save the operator's corrections of category, area, urgency, language and notes."""
    help_request = visible_request(request_id)
    form = _triage_form(help_request, _line_of(help_request), formdata=request.form)

    def save(help_request, form):
        triage.triage_request(
            get_session(),
            help_request=help_request,
            operator_id=current_user.id,
            line=_line_of(help_request),
            changes={field: form[field].data for field in triage.TRIAGE_FIELDS},
        )
        flash(_("Saved."), "ok")

    return _act(request_id, "triage", form, save)


@blueprint.post("/<int:request_id>/duplicate")
def duplicate(request_id: int):
    """Close the request as a duplicate of another one."""

    def save(help_request, form):
        triage.mark_duplicate(
            get_session(),
            help_request=help_request,
            original_reference=form.original_reference.data,
            operator_id=current_user.id,
        )
        flash(_("Marked as a duplicate."), "ok")

    return _act(request_id, "duplicate", DuplicateForm(), save)


@blueprint.post("/<int:request_id>/cancel")
def cancel(request_id: int):
    """Cancel the request, with a reason."""

    def save(help_request, form):
        triage.cancel_request(
            get_session(),
            help_request=help_request,
            reason=form.reason.data,
            operator_id=current_user.id,
        )
        flash(_("The request is cancelled."), "ok")

    return _act(request_id, "cancel", CancelForm(), save)


class LiveCallForm(FlaskForm):
    # Only for an account of several lines; checked with the access policy, not the choices.
    line = SelectField(validate_choice=False)
    phone_number = TelField(validators=[DataRequired(), Length(max=32)])
    language = SelectField(validators=[DataRequired()])
    category = SelectField(validators=[DataRequired()])
    postcode = SelectField(validators=[DataRequired()])
    urgency = SelectField(validators=[DataRequired()])
    message = TextAreaField(validators=[Length(max=4000)])


def _live_call_form(lines: list) -> LiveCallForm:
    """The form for a call taken by hand, for the account's ``lines`` (LineSettings).

    With one line there is nothing to choose; with several the form asks which line the
    resident called, and offers every postcode and language of those lines (the chosen
    line's own are checked when it is saved).
    """
    form = LiveCallForm()
    languages = [code for code in vocabulary.LANGUAGES if any(code in x.languages for x in lines)]
    set_request_choices(form, lines[0], languages=languages, blank_language=False)
    if len(lines) > 1:
        form.line.choices = [SelectChoice("", "—")] + [
            SelectChoice(line.slug, line.name) for line in lines
        ]
        postcodes = {code: name for line in lines for code, name in line.postcodes.items()}
        form.postcode.choices = [SelectChoice("", "—")] + [
            SelectChoice(code, f"{code} {name}") for code, name in postcodes.items()
        ]
    else:
        del form.line
    return form


def _chosen_line(form: LiveCallForm, lines: list):
    """The line a call is logged for: the account's only one, or the one it chose if the
    access policy lets it work there (None, with the field's error, when not)."""
    if "line" not in form:
        return lines[0]
    settings = _settings()
    slug = form.line.data or ""
    if slug in policy.own_lines(current_principal(), settings.lines):
        return settings.lines[slug]
    form.line.errors = [*form.line.errors, _("Choose one of your lines.")]
    return None


@blueprint.route("/new", methods=["GET", "POST"])
def new():
    """Log a call taken by hand: the same request, the number straight into the vault."""
    settings = _settings()
    own_lines = [
        settings.lines[slug] for slug in policy.own_lines(current_principal(), settings.lines)
    ]
    if not own_lines:
        abort(403)  # an account of lines that are no longer configured files nothing
    form = _live_call_form(own_lines)
    status = 200
    valid = form.validate_on_submit()
    line = _chosen_line(form, own_lines) if form.is_submitted() else None
    if valid and line is not None:
        session = get_session()
        try:
            help_request = triage.log_live_call(
                session,
                line=line,
                line_row=line_row(session, settings, line.slug),
                secrets=settings.secrets,
                operator_id=current_user.id,
                phone_number=form.phone_number.data,
                language=form.language.data,
                category=form.category.data,
                postcode=form.postcode.data,
                urgency=form.urgency.data,
                message=form.message.data or "",
            )
        except triage.TriageError as error:
            session.rollback()
            field = form._fields.get(error.field or "", form.phone_number)
            field.errors = [*field.errors, translated(error)]
        else:
            flash(_("Request %(reference)s saved.", reference=help_request.reference), "ok")
            return redirect(url_for("requests.detail", request_id=help_request.id))
    if request.method == "POST":
        status = 400
    # Never send a typed number back to the browser, not even to correct it.
    form.phone_number.data = ""
    return render_template("requests/new.html", form=form, line=own_lines[0]), status


# The queue's waiting times read like the dashboard's: one formatter for both.
blueprint.app_template_filter("age")(duration)
