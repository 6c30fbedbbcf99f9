"""Help requests in the call centre: the live queue, a request's page, triage, live intake."""

from __future__ import annotations

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
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import SelectChoice, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length

from callcenter_ui.auth import current_principal, visible_request
from callcenter_ui.formatting import duration
from hotline import triage, vocabulary
from hotline.access import policy
from hotline.audit import history
from hotline.config import Settings
from hotline.db import get_session, line_row
from hotline.http_bounds import MAX_ID
from hotline.lifecycle import TRANSITIONS, IllegalTransition
from hotline.messaging.conversation import follow_up_requests, offer_states
from hotline.models import HelpRequest, Line, Operator, Volunteer
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
    """Translated labels of categories, urgencies, languages and statuses.

    Built once per web request and language (the queue asks for a label in every cell:
    rebuilding the dict each time was most of the queue page's time at a crisis's scale).
    """
    locale = str(get_locale())
    cached = g.get("_labels")
    if cached is None or cached[0] != locale:
        cached = (locale, _labels())
        g._labels = cached
    return cached[1]


def _labels() -> dict[str, str]:
    return {
        "groceries": _("groceries or pharmacy"),
        "meal": _("a meal"),
        "errand": _("an errand"),
        "dog": _("walking the dog"),
        "talk": _("someone to talk to"),
        "other": _("something else"),
        "today": _("today"),
        "coming_days": _("in the coming days"),
        "nl": _("Dutch"),
        "fr": _("French"),
        "en": _("English"),
        "new": _("new"),
        "triaged": _("triaged"),
        "assigned": _("assigned"),
        "accepted": _("accepted"),
        "done": _("done"),
        "cancelled": _("cancelled"),
        "ivr": _("phone menu"),
        "live": _("taken live"),
        "callback": _("call-back"),
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


def _queue_page(title: str, source: str | None = None):
    filters = _filters()
    if source:
        filters = triage.QueueFilters(**{**filters.__dict__, "source": source})
    session = get_session()
    page = triage.list_queue(
        session,
        filters=filters,
        visible=policy.request_filter(current_principal()),
        after=_after(),
    )
    request_ids = [row.help_request.id for row in page.rows]
    template = "requests/_rows.html" if request.headers.get("HX-Request") else "requests/queue.html"
    next_args = {key: value for key, value in request.args.items() if value and key != "after"}
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
        statuses=list(TRANSITIONS),
        categories=vocabulary.CATEGORIES,
        languages=vocabulary.LANGUAGES,
        postcodes=sorted({code for line in _settings().lines.values() for code in line.postcodes}),
        rows_url=request.full_path,
    )


@blueprint.get("/")
def queue():
    """The live queue: urgent first, then oldest; refreshes itself every few seconds."""
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
        except (triage.TriageError, IllegalTransition) as error:
            get_session().rollback()
            flash(str(error), "error")
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
    phone_number = TelField(validators=[DataRequired(), Length(max=32)])
    language = SelectField(validators=[DataRequired()])
    category = SelectField(validators=[DataRequired()])
    postcode = SelectField(validators=[DataRequired()])
    urgency = SelectField(validators=[DataRequired()])
    message = TextAreaField(validators=[Length(max=4000)])


@blueprint.route("/new", methods=["GET", "POST"])
def new():
    """Log a call taken by hand: the same request, the number straight into the vault."""
    settings = _settings()
    # The operator's (first) line; choosing among several lines is not offered yet.
    own_lines = policy.own_lines(current_principal(), settings.lines)
    if not own_lines:
        abort(403)  # an account of lines that are no longer configured files nothing
    line = settings.lines[own_lines[0]]
    form = set_request_choices(LiveCallForm(), line, languages=line.languages, blank_language=False)
    status = 200
    if form.validate_on_submit():
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
            form.phone_number.errors = [str(error)]
        else:
            flash(_("Request %(reference)s saved.", reference=help_request.reference), "ok")
            return redirect(url_for("requests.detail", request_id=help_request.id))
    if request.method == "POST":
        status = 400
    # Never send a typed number back to the browser, not even to correct it.
    form.phone_number.data = ""
    return render_template("requests/new.html", form=form, line=line), status


# The queue's waiting times read like the dashboard's: one formatter for both.
blueprint.app_template_filter("age")(duration)
