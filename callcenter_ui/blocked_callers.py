"""Blocked callers: coordinators block the caller of a request (never seeing the number),
list the blocks on their lines, and lift them. Operators see that a caller is blocked.
"""

from __future__ import annotations

from flask import (
    Blueprint,
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
from sqlmodel import col, select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from callcenter_ui.auth import coordinator_required, current_principal, visible_request
from hotline.abuse import blocking
from hotline.access import policy
from hotline.db import get_session
from hotline.models import BlockedCaller, HelpRequest, Line, Operator

blueprint = Blueprint("blocked_callers", __name__, url_prefix="/blocked-callers")


class BlockForm(FlaskForm):
    reason = TextAreaField(validators=[DataRequired(), Length(max=blocking.MAX_REASON)])


@blueprint.app_context_processor
def _template_globals() -> dict:
    return {"caller_block": caller_block}


def caller_block(help_request: HelpRequest) -> BlockedCaller | None:
    """For the request page: the block on this request's caller, if any."""
    return blocking.block_of(get_session(), help_request)


@blueprint.get("/")
@coordinator_required
def index():
    """The blocks on the lines this coordinator works on, newest first."""
    session = get_session()
    blocks = blocking.blocked_callers(
        session, visible=policy.blocked_caller_filter(current_principal())
    )
    configured = current_app.extensions["hotline.settings"].lines
    line_names = {
        line.id: configured[line.slug].name if line.slug in configured else line.name
        for line in session.exec(select(Line))
    }
    operator_ids = {block.blocked_by_id for block in blocks if block.blocked_by_id}
    operators = dict(
        session.exec(
            select(Operator.id, Operator.display_name).where(col(Operator.id).in_(operator_ids))
        ).all()
    )
    return render_template(
        "blocked_callers/index.html", blocks=blocks, line_names=line_names, operators=operators
    )


@blueprint.post("/request/<int:request_id>")
@coordinator_required
def block(request_id: int):
    """Block the caller of this request on its line (404 for another line's request)."""
    help_request = visible_request(request_id)
    back = redirect(url_for("requests.detail", request_id=help_request.id))
    form = BlockForm()
    if not form.validate():
        flash(_("Say why this caller is blocked."), "error")
        return back
    try:
        blocking.block_caller(
            get_session(),
            help_request=help_request,
            operator_id=current_user.id,
            reason=form.reason.data,
        )
    except blocking.BlockError:
        flash(_("This request has no phone number to block."), "error")
        return back
    flash(_("This caller is blocked: their calls and SMS to this line are refused."), "ok")
    return back


@blueprint.post("/<int:block_id>/unblock")
@coordinator_required
def unblock(block_id: int):
    """Lift a block (404 for a block on another line)."""
    session = get_session()
    blocked = policy.check_blocked_caller(current_principal(), session.get(BlockedCaller, block_id))
    request_id = blocked.help_request_id
    blocking.unblock_caller(session, blocked=blocked, operator_id=current_user.id)
    flash(_("The caller is no longer blocked."), "ok")
    if request.form.get("back") == "request" and request_id:
        return redirect(url_for("requests.detail", request_id=request_id))
    return redirect(url_for("blocked_callers.index"))
