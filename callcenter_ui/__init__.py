"""The operators' call-centre UI (a Flask blueprint): server-rendered pages."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from hotline.db import get_session
from hotline.outbox import pending_count
from hotline.overview import open_request_count

blueprint = Blueprint(
    "callcenter",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/callcenter",
)


@blueprint.get("/")
def index() -> str:
    """The first page: the lines served and how many requests wait (counts only, no people)."""
    settings = current_app.extensions["hotline.settings"]
    session = get_session()
    waiting = open_request_count(session)
    return render_template(
        "callcenter/index.html",
        lines=settings.lines.values(),
        waiting=waiting,
        pending_outbox=pending_count(session),
        voice_url=f"{settings.public_base_url}/twilio/voice",
    )
