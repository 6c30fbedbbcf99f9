"""Assigning volunteers from a request's page, and recording what they answered.

The request page includes ``assignments/_panel.html`` with only ``help_request``
in its context; the panel asks ``assignment_panel(help_request)`` (a template
global registered here) for the suggestions and the request's assignments.
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
from wtforms.validators import InputRequired

from callcenter_ui.auth import visible_request
from callcenter_ui.volunteers import translated
from hotline.config import LineSettings
from hotline.db import get_session
from hotline.dispatch import (
    REPLIES,
    AssignmentError,
    AssignmentRow,
    assign_volunteer,
    assignments_for_request,
    record_assignment_reply,
    why_not_assignable,
)
from hotline.lifecycle import IllegalTransition
from hotline.models import Assignment, HelpRequest, Line, Volunteer, utcnow
from hotline.outbox import relay_written
from hotline.queue import get_redis
from hotline.suggestions import Suggestion, suggest_volunteers
from hotline.volunteers import line_settings

blueprint = Blueprint("assignments", __name__)
SUGGESTED = 5  # how many suggestions the panel shows; the rest are in "other volunteers"


class AssignForm(FlaskForm):
    volunteer_id = IntegerField(validators=[InputRequired()])


class ReplyForm(FlaskForm):
    reply = SelectField(choices=[SelectChoice(reply.value) for reply in REPLIES])


@dataclass(frozen=True)
class AssignmentPanel:
    """What the request page shows about volunteers for one request."""

    help_request: HelpRequest
    line: LineSettings
    assignments: list[AssignmentRow]
    suggestions: list[Suggestion]  # the best few
    others: list[Suggestion]  # every other eligible volunteer, still ranked
    refusal: str | None  # why nobody can be assigned now, in the operator's language


@blueprint.app_template_global()
def assignment_panel(help_request: HelpRequest) -> AssignmentPanel:
    """The suggestions and assignments of ``help_request``, for assignments/_panel.html."""
    session = get_session()
    line = line_settings(
        current_app.extensions["hotline.settings"], session.get(Line, help_request.line_id)
    )
    refusal = why_not_assignable(help_request)
    ranked = (
        []
        if refusal
        else suggest_volunteers(
            session, help_request=help_request, now=utcnow(), limit=None, line=line
        )
    )
    return AssignmentPanel(
        help_request=help_request,
        line=line,
        assignments=assignments_for_request(session, help_request_id=help_request.id),
        suggestions=ranked[:SUGGESTED],
        others=ranked[SUGGESTED:],
        refusal=translated(refusal) if refusal else None,
    )


@blueprint.get("/requests/<int:request_id>/assignments")
def panel(request_id: int) -> str:
    """The volunteers panel of a request: the bare panel for htmx, else a page around it."""
    fragment = request.headers.get("HX-Request") == "true"
    template = "assignments/_panel.html" if fragment else "assignments/page.html"
    return render_template(template, help_request=visible_request(request_id))


@blueprint.post("/requests/<int:request_id>/assign")
def assign(request_id: int):
    """Offer the request to the chosen volunteer; their SMS goes out through the outbox."""
    session = get_session()
    help_request = visible_request(request_id)
    back = redirect(url_for("requests.detail", request_id=help_request.id))
    form = AssignForm()
    volunteer = session.get(Volunteer, form.volunteer_id.data) if form.validate() else None
    if volunteer is None:
        flash(_("Choose a volunteer to assign."), "error")
        return back
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
    """Record what a volunteer said on the phone: accepted, declined or done."""
    session = get_session()
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        abort(404)
    visible_request(assignment.help_request_id)  # 404 for another line's assignment
    back = redirect(url_for("requests.detail", request_id=assignment.help_request_id))
    form = ReplyForm()
    if not form.validate():
        flash(_("Choose what the volunteer answered."), "error")
        return back
    volunteer = session.get(Volunteer, assignment.volunteer_id)
    try:
        record_assignment_reply(
            session, assignment=assignment, reply=form.reply.data, operator_id=current_user.id
        )
    except (AssignmentError, IllegalTransition) as error:
        session.rollback()
        flash(_message(error), "error")
        return back
    flash(
        {
            "accepted": _("Recorded: %(name)s accepted.", name=volunteer.name),
            "declined": _("Recorded: %(name)s declined.", name=volunteer.name),
            "done": _("Recorded: %(name)s has helped; the request is done.", name=volunteer.name),
        }[form.reply.data]
    )
    return back


def _message(error: AssignmentError | IllegalTransition) -> str:
    if isinstance(error, AssignmentError):
        return translated(error)
    return _("This change is not possible in the request's current state.")
