"""Phoning from a request's page: call the resident back, listen to their recorded message.

Numbers never reach the browser: the call is bridged by the system, and the recording
is streamed through the app from the telephony provider (login required, not cached).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from callcenter_ui.auth import visible_lead, visible_request
from hotline import webhooks
from hotline.db import get_session
from hotline.models import Operator
from hotline.privacy import redact_personal_details
from hotline.telephony import TelephonyError, get_provider
from hotline.voice import callbacks

log = logging.getLogger(__name__)
blueprint = Blueprint("calls", __name__)


@blueprint.app_template_filter("redact_numbers")
def redact_numbers(text: str | None) -> str:
    """Hide phone numbers and e-mail addresses in free text shown on pages (transcripts...)."""
    return redact_personal_details(text or "")


@blueprint.post("/requests/<int:request_id>/call-back")
def call_back(request_id: int) -> BaseResponse:
    """Ring the operator's own phone, then connect them to the resident of this request."""
    session = get_session()
    help_request = visible_request(request_id)
    operator = session.get(Operator, current_user.id)
    try:
        callbacks.call_back(
            session,
            settings=current_app.extensions["hotline.settings"],
            provider=get_provider(),
            flows=current_app.extensions["hotline.flows"],
            help_request=help_request,
            operator=operator,
            urls=webhooks.call_back_urls,
        )
    except callbacks.OperatorHasNoPhone:
        flash(
            _(
                "We do not have your own phone number yet, so the system cannot call you. "
                "Add it on your profile page, then press Call back again."
            ),
            "error",
        )
    except callbacks.ResidentHasNoNumber:
        flash(
            _(
                "This request has no phone number on file (none was given, or it has been "
                "deleted after the retention period), so it cannot be called back."
            ),
            "error",
        )
    except callbacks.CallBackAlreadyRinging:
        flash(
            _(
                "Your phone is already being called for this request. "
                "Answer it, or wait a minute before trying again."
            ),
            "error",
        )
    except TelephonyError as error:
        log.warning("call-back for request %s failed: %s", help_request.id, error)
        if error.status is None:
            problem = _("the telephone service cannot be reached")
        else:
            problem = _(
                "the telephone service refused it (error %(code)s)",
                code=error.code or error.status,
            )
        flash(
            _(
                "The call could not be started: %(problem)s. Try again in a minute; "
                "if it keeps failing, tell your coordinator.",
                problem=problem,
            ),
            "error",
        )
    else:
        flash(
            _(
                "Your phone will ring in a moment. Answer it and you will be connected to "
                "the resident of request %(reference)s. Both of you see the hotline's number.",
                reference=help_request.reference,
            )
        )
    return redirect(url_for("requests.detail", request_id=help_request.id))


@blueprint.get("/requests/<int:request_id>/recording")
def recording(request_id: int) -> Response:
    """The resident's recorded message, streamed from the provider; never cached."""
    help_request = visible_request(request_id)
    # Purged or forgotten: a recording_sid kept only so the purge can retry its deletion at
    # the provider is no way to listen to it any more.
    if help_request.purged_at is not None:
        abort(404)
    return _recording_response(help_request.recording_sid, f"request {request_id}")


@blueprint.get("/volunteers/leads/<int:lead_id>/recording")
def lead_recording(lead_id: int) -> Response:
    """What someone who offered to volunteer said (name and area), streamed likewise."""
    lead = visible_lead(lead_id)
    if lead.purged_at is not None:
        abort(404)
    return _recording_response(lead.recording_sid, f"volunteer lead {lead_id}")


def _recording_response(recording_sid: str | None, what: str) -> Response:
    if not recording_sid:
        abort(404)
    try:
        audio, content_type = get_provider().fetch_recording(recording_sid)
    except TelephonyError as error:
        if error.not_found:  # deleted at the provider, e.g. by the retention purge
            abort(404)
        log.warning("recording of %s unavailable: %s", what, error)
        abort(502)
    response = Response(audio, mimetype=content_type or "audio/mpeg")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Byte ranges let the player seek, and Safari plays nothing without them.
    return response.make_conditional(request, accept_ranges=True, complete_length=len(audio))
