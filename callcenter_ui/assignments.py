"""Assigning volunteers from a request's page, and recording what they answered.

The request page includes ``assignments/_panel.html`` with only ``help_request``
in its context; the panel asks ``assignment_panel(help_request)`` (a template
global registered here) for the suggestions, the request's assignments, the state
of each offer's SMS and the texts with each volunteer. The panel reloads itself
every few seconds (htmx), except while the operator is using it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField
from wtforms.validators import InputRequired, NumberRange

from callcenter_ui.auth import current_principal, visible_request
from callcenter_ui.help_requests import labels_for
from callcenter_ui.offer_words import offer_status_text
from callcenter_ui.volunteers import translated
from hotline.access import policy
from hotline.config import LineSettings
from hotline.db import get_session
from hotline.dispatch import (
    REPLIES,
    ROW_LOCK,
    AssignmentError,
    AssignmentRow,
    assign_volunteer,
    assignments_for_request,
    why_not_assignable,
)
from hotline.http_bounds import MAX_ID
from hotline.lifecycle import IllegalTransition
from hotline.messaging.conversation import is_no_volunteer_found, request_conversation
from hotline.messaging.offers import answer_offer, offer_next
from hotline.models import Assignment, HelpRequest, Line, SmsMessage, Volunteer, utcnow
from hotline.outbox import relay_written
from hotline.queue import get_redis
from hotline.suggestions import Suggestion, find_volunteers, suggest_volunteers
from hotline.volunteers import line_settings

blueprint = Blueprint("assignments", __name__)
SUGGESTED = 5  # how many suggestions the panel shows with their reasons
MORE_SUGGESTED = 10  # the next best, in "other volunteers"; anyone else is found by search
FOUND = 10  # how many volunteers a search shows
MAX_SEARCH = 100  # characters of a search: names are at most 120, and one word is enough


class AssignForm(FlaskForm):
    # Bounded: a number beyond the id column's range would crash the lookup (500).
    volunteer_id = IntegerField(validators=[InputRequired(), NumberRange(1, MAX_ID)])


class ReplyForm(FlaskForm):
    reply = SelectField(choices=[SelectChoice(reply.value) for reply in REPLIES])


class AskBestForm(FlaskForm):
    """Only the CSRF token: asking the best suggested volunteers is a button."""


@dataclass(frozen=True)
class AssignmentPanel:
    """What the request page shows about volunteers for one request."""

    help_request: HelpRequest
    line: LineSettings
    assignments: list[AssignmentRow]
    suggestions: list[Suggestion]  # the best few
    others: list[Suggestion]  # the next best (MORE_SUGGESTED at most), still ranked
    refusal: str | None  # why nobody can be assigned now, in the operator's language
    offer_sms: dict[int, SmsMessage]  # assignment id -> the SMS that offered it
    texts: dict[int, list[SmsMessage]]  # assignment id -> the texts with that volunteer
    no_volunteer_found: bool  # the automatic offers ran out
    ask_best: int  # how many the "ask the best" button asks by SMS; 0: no button


@blueprint.app_template_global()
def assignment_panel(help_request: HelpRequest) -> AssignmentPanel:
    """The suggestions and assignments of ``help_request``, for assignments/_panel.html."""
    session = get_session()
    line = _line(help_request)
    refusal = why_not_assignable(help_request)
    ranked = (
        []
        if refusal
        else suggest_volunteers(
            session,
            help_request=help_request,
            now=utcnow(),
            limit=SUGGESTED + MORE_SUGGESTED,
            line=line,
        )
    )
    assignments = assignments_for_request(session, help_request_id=help_request.id)
    offer_sms, texts = _conversations(
        assignments, request_conversation(session, help_request_id=help_request.id)
    )
    return AssignmentPanel(
        help_request=help_request,
        line=line,
        assignments=assignments,
        suggestions=ranked[:SUGGESTED],
        others=ranked[SUGGESTED:],
        refusal=translated(refusal) if refusal else None,
        offer_sms=offer_sms,
        texts=texts,
        no_volunteer_found=is_no_volunteer_found(help_request),
        ask_best=_how_many_to_ask(line, assignments, ranked),
    )


def _how_many_to_ask(
    line: LineSettings, assignments: list[AssignmentRow], ranked: list[Suggestion]
) -> int:
    """How many volunteers "ask the best" would ask: up to the line's ``offers_at_once``
    open offers (0 when the line sends no SMS)."""
    if not line.sends_sms:
        return 0
    still_open = sum(1 for row in assignments if row.is_open)
    return max(0, min(line.offers_at_once - still_open, len(ranked)))


def _conversations(
    assignments: list[AssignmentRow], conversation: list[SmsMessage]
) -> tuple[dict[int, SmsMessage], dict[int, list[SmsMessage]]]:
    """Each offer's SMS, and the request's texts under the assignment they belong to.

    A text of no particular assignment goes under that volunteer's latest one.
    """
    latest: dict[int, int] = {}
    for row in assignments:  # newest first
        latest.setdefault(row.volunteer.id, row.assignment.id)
    known = {row.assignment.id for row in assignments}
    offer_sms: dict[int, SmsMessage] = {}
    texts: dict[int, list[SmsMessage]] = {}
    for sms in conversation:  # oldest first: a resent offer replaces the first one
        if sms.direction == "out" and sms.kind == "offer" and sms.assignment_id in known:
            offer_sms[sms.assignment_id] = sms
        owner = sms.assignment_id if sms.assignment_id in known else latest.get(sms.volunteer_id)
        if owner is not None:
            texts.setdefault(owner, []).append(sms)
    return offer_sms, texts


@blueprint.get("/requests/<int:request_id>/assignments")
def panel(request_id: int) -> str:
    """The volunteers panel of a request: the bare panel for htmx, else a page around it."""
    fragment = request.headers.get("HX-Request") == "true"
    template = "assignments/_panel.html" if fragment else "assignments/page.html"
    return render_template(template, help_request=visible_request(request_id))


@blueprint.get("/requests/<int:request_id>/volunteers")
def find(request_id: int) -> str:
    """Volunteers found by name, postcode or number (``?q=``), scored for the request: for
    anyone beyond the suggestions. The bare list for htmx, else a page around it."""
    help_request = visible_request(request_id)
    text = (request.args.get("q") or "")[:MAX_SEARCH]
    refusal = why_not_assignable(help_request)
    found = (
        []
        if refusal
        else find_volunteers(
            get_session(),
            help_request=help_request,
            text=text,
            now=utcnow(),
            line=_line(help_request),
            limit=FOUND + 1,
        )
    )
    fragment = request.headers.get("HX-Request") == "true"
    return render_template(
        "assignments/_found.html" if fragment else "assignments/find.html",
        help_request=help_request,
        line=_line(help_request),
        text=text,
        found=found[:FOUND],
        more=len(found) > FOUND,
        refusal=translated(refusal) if refusal else None,
    )


@blueprint.post("/requests/<int:request_id>/assign")
def assign(request_id: int):
    """Offer the request to the chosen volunteer; their SMS goes out through the outbox."""
    session = get_session()
    help_request = visible_request(request_id)
    back = redirect(url_for("requests.detail", request_id=help_request.id))
    form = AssignForm()
    volunteer = session.get(Volunteer, form.volunteer_id.data) if form.validate() else None
    if volunteer is None or not current_principal().sees_line(volunteer.line_id):
        flash(_("Choose a volunteer to assign."), "error")  # another line's: as if none
        return back
    policy.check_assign(current_principal(), help_request, volunteer)
    try:
        assignment = assign_volunteer(
            session, help_request=help_request, volunteer=volunteer, operator_id=current_user.id
        )
    except (AssignmentError, IllegalTransition) as error:
        session.rollback()
        flash(_message(error), "error")
        return back
    relay_written(session, get_redis)  # the SMS leaves now, or with the worker's next relay
    flash(
        _(
            "%(name)s has been asked to help (code %(code)s); the SMS is on its way.",
            name=volunteer.name,
            code=assignment.code,
        )
    )
    return back


@blueprint.post("/assignments/<int:assignment_id>/reply")
def reply(assignment_id: int):
    """Record what a volunteer said on the phone: accepted, declined or done.

    It counts as their answer by SMS would: the others are told, and after a decline
    the next volunteer is asked when the line offers by itself.
    """
    session = get_session()
    assignment = policy.check_assignment(
        current_principal(), session.get(Assignment, assignment_id), session
    )  # 404 for another line's
    help_request = visible_request(assignment.help_request_id)
    back = redirect(url_for("requests.detail", request_id=help_request.id))
    form = ReplyForm()
    if not form.validate():
        flash(_("Choose what the volunteer answered."), "error")
        return back
    volunteer = session.get(Volunteer, assignment.volunteer_id)
    asked_before = _open_assignment_ids(help_request.id)
    try:
        outcome = answer_offer(
            session,
            assignment=assignment,
            reply=form.reply.data,
            operator_id=current_user.id,
            line=_line(help_request),
        )
    except (AssignmentError, IllegalTransition) as error:
        session.rollback()
        flash(_message(error), "error")
        return back
    session.commit()
    relay_written(session, get_redis)  # the texts that follow leave now
    if outcome.result == "taken":
        flash(
            _(
                "%(name)s was too late: another volunteer had already accepted.",
                name=volunteer.name,
            ),
            "error",
        )
        return back
    if outcome.result == "closed":  # the request was closed while the offer was open
        flash(_("This change is not possible in the request's current state."), "error")
        return back
    said = form.reply.data if outcome.result == "unchanged" else outcome.result
    flash(
        {
            "accepted": _("Recorded: %(name)s accepted.", name=volunteer.name),
            "declined": _("Recorded: %(name)s declined.", name=volunteer.name),
            "given_back": _("Recorded: %(name)s gave the request back.", name=volunteer.name),
            "done": _("Recorded: %(name)s has helped; the request is done.", name=volunteer.name),
        }[said]
    )
    _flash_moved_on(help_request, asked_before)
    return back


@blueprint.post("/requests/<int:request_id>/ask-best")
def ask_best(request_id: int):
    """Offer the request by SMS to the best suggested volunteers not asked before."""
    session = get_session()
    help_request = visible_request(request_id)
    back = redirect(url_for("requests.detail", request_id=help_request.id))
    if not AskBestForm().validate_on_submit():
        abort(400)
    line = _line(help_request)
    refusal = why_not_assignable(help_request)
    if refusal is not None:
        flash(translated(refusal), "error")
        return back
    if not line.sends_sms:
        flash(_("This line sends no SMS: phone a volunteer and assign them by hand."), "error")
        return back
    # Two operators pressing at once: the second waits for the first's offers, then sees them.
    session.refresh(help_request, with_for_update=ROW_LOCK)
    asked_before = _open_assignment_ids(help_request.id)
    try:
        offer_next(session, help_request=help_request, line=line, operator_id=current_user.id)
    except (AssignmentError, IllegalTransition) as error:
        session.rollback()
        flash(_message(error), "error")
        return back
    session.commit()
    relay_written(session, get_redis)  # the SMS leave now, or with the worker's next relay
    if not _flash_moved_on(help_request, asked_before):
        flash(_("Nobody new was asked: the open offers still wait for an answer."), "error")
    return back


def _line(help_request: HelpRequest) -> LineSettings:
    return line_settings(
        current_app.extensions["hotline.settings"], get_session().get(Line, help_request.line_id)
    )


def _open_assignment_ids(help_request_id: int) -> set[int]:
    rows = assignments_for_request(get_session(), help_request_id=help_request_id)
    return {row.assignment.id for row in rows if row.is_open}


def _flash_moved_on(help_request: HelpRequest, asked_before: set[int]) -> bool:
    """Say who was asked since ``asked_before``, or that nobody is left; False if neither."""
    rows = assignments_for_request(get_session(), help_request_id=help_request.id)
    asked = [
        row.volunteer.name for row in rows if row.is_open and row.assignment.id not in asked_before
    ]
    if asked:
        flash(_("Asked by SMS: %(names)s.", names=", ".join(reversed(asked))))
        return True
    if is_no_volunteer_found(help_request):
        flash(_("No volunteer found: every suggested volunteer was asked."), "error")
        return True
    return False


def _message(error: AssignmentError | IllegalTransition) -> str:
    if isinstance(error, AssignmentError):
        # Statuses are codes ("given_back"): an operator reads them in words.
        params = dict(error.params)
        if "reply" in params:  # an offer's status and the answer it cannot take
            for key in ("status", "reply"):
                params[key] = offer_status_text(params[key])
        elif "status" in params:  # a request's status
            params["status"] = labels_for().get(params["status"], params["status"])
        return _(error.message, **params)
    return _("This change is not possible in the request's current state.")
