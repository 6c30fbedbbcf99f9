"""The language switch in every page's header: one click, for the account or the browser.

A logged-in account keeps its choice (it is the profile's "Language of this site"); on
the login page the choice is kept in the browser's session until someone logs in.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, session
from flask_login import current_user

from callcenter_ui.auth import safe_next
from hotline.access import accounts
from hotline.db import get_session
from hotline.models import Operator
from hotline.vocabulary import LANGUAGES

blueprint = Blueprint("language", __name__)
# The session key of a language chosen before logging in.
SESSION_LANGUAGE = "language"


@blueprint.post("/language")
def choose():
    """Speak ``language`` from now on, and go back to the page the switch was on."""
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        abort(400)
    if current_user.is_authenticated:
        db = get_session()
        operator = db.get(Operator, current_user.id)
        accounts.set_language(db, operator=operator, locale=language)
    else:
        session[SESSION_LANGUAGE] = language
    return redirect(safe_next(request.form.get("next")))


def chosen_language() -> str | None:
    """The language chosen with the switch before logging in, if any."""
    language = session.get(SESSION_LANGUAGE)
    return language if language in LANGUAGES else None
