"""The operators' call-centre UI (a Flask blueprint): server-rendered pages."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlmodel import select

from hotline.db import get_session
from hotline.models import HelpRequest, RequestStatus
from hotline.outbox import pending_count

blueprint = Blueprint(
    "callcenter",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/callcenter",
)

OPEN_STATUSES = (
    RequestStatus.NEW,
    RequestStatus.TRIAGED,
    RequestStatus.ASSIGNED,
    RequestStatus.ACCEPTED,
)


@blueprint.get("/")
def index() -> str:
    """The first page: the lines served and how many requests wait (counts only, no people)."""
    settings = current_app.extensions["hotline.settings"]
    session = get_session()
    waiting = len(
        session.exec(
            select(HelpRequest.id).where(HelpRequest.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
        ).all()
    )
    return render_template(
        "callcenter/index.html",
        lines=settings.lines.values(),
        waiting=waiting,
        pending_outbox=pending_count(session),
        voice_url=f"{settings.public_base_url}/twilio/voice",
    )
