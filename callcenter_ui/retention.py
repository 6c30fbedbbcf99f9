"""'Forget this resident': a coordinator removes one resident's personal data from a line.

A confirmation page with a reason, then a POST (with its CSRF token); the use case is
hotline.retention.forget_resident. Only for requests the account may see; coordinators only.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from callcenter_ui.auth import coordinator_required, visible_request
from hotline.db import get_session
from hotline.models import HelpRequest
from hotline.retention import forget_resident
from hotline.telephony import get_provider

blueprint = Blueprint("retention", __name__, url_prefix="/requests")


class ForgetForm(FlaskForm):
    reason = TextAreaField(validators=[DataRequired(), Length(max=500)])


def _same_resident(help_request: HelpRequest) -> list[HelpRequest]:
    """The requests that would be forgotten with this one (same caller, same line)."""
    if not help_request.caller_hash:
        return [help_request]
    return list(
        get_session().exec(
            select(HelpRequest)
            .where(
                HelpRequest.line_id == help_request.line_id,
                HelpRequest.caller_hash == help_request.caller_hash,
            )
            .order_by(col(HelpRequest.created_at))
        )
    )


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
        report = forget_resident(
            get_session(),
            provider=get_provider(),
            help_request=help_request,
            operator_id=current_user.id,
            reason=form.reason.data,
        )
        flash(
            _(
                "The resident is forgotten: %(count)d request(s) are now anonymous.",
                count=report.requests,
            ),
            "ok",
        )
        if report.removed.recordings_kept:
            flash(
                _(
                    "%(count)d recording(s) could not be deleted at the telephone provider "
                    "yet; the nightly purge tries again.",
                    count=report.removed.recordings_kept,
                ),
                "error",
            )
        return redirect(url_for("requests.detail", request_id=request_id))
    return render_template(
        "retention/forget.html",
        help_request=help_request,
        requests=_same_resident(help_request),
        form=form,
    ), (400 if form.is_submitted() else 200)
