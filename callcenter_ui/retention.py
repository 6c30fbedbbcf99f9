"""'Forget this resident': a coordinator removes one resident's personal data from a line.

A confirmation page with a reason, then a POST (with its CSRF token); the use case is
hotline.retention.forget_resident. Only for requests the account may see; coordinators only.
The page lists the requests the use case will forget (its own selection, residents_requests).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from callcenter_ui.auth import coordinator_required, visible_request
from hotline.db import get_session
from hotline.outbox import relay_written
from hotline.queue import get_redis
from hotline.retention import forget_resident, residents_requests

blueprint = Blueprint("retention", __name__, url_prefix="/requests")


class ForgetForm(FlaskForm):
    reason = TextAreaField(validators=[DataRequired(), Length(max=500)])


@blueprint.route("/<int:request_id>/forget", methods=["GET", "POST"])
@coordinator_required
def forget(request_id: int):
    """Ask for a reason and confirmation; then remove the resident's data and say so."""
    help_request = visible_request(request_id)
    if help_request.forgotten_at is not None:
        flash(_("This resident has already been forgotten."), "ok")
        return redirect(url_for("requests.detail", request_id=request_id))
    form = ForgetForm()
    if form.validate_on_submit():
        session = get_session()
        report = forget_resident(
            session,
            help_request=help_request,
            operator_id=current_user.id,
            reason=form.reason.data,
        )
        relay_written(session, get_redis)  # the recordings' deletion at the provider
        flash(
            ngettext(
                "The resident is forgotten: %(num)d request is now anonymous.",
                "The resident is forgotten: %(num)d requests are now anonymous.",
                report.requests,
            ),
            "ok",
        )
        return redirect(url_for("requests.detail", request_id=request_id))
    return render_template(
        "retention/forget.html",
        help_request=help_request,
        requests=residents_requests(get_session(), help_request),
        form=form,
    ), (400 if form.is_submitted() else 200)
