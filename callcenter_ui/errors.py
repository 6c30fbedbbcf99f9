"""Error pages people can read: styled, with the menu, in the reader's language.

One handler for every HTTP error of the app (400, 403, 404, 405, 429, 500 ...). The API
answers in problem details (callcenter_ui/api.py), Twilio's webhooks and the health
endpoints keep their short plain answers; everything else gets ``errors/page.html``.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from callcenter_ui import api

log = logging.getLogger(__name__)
# Paths whose errors are for machines, not people.
MACHINE_PATHS = ("/twilio/", "/health", "/ready", "/metrics")


def error_words(code: int) -> tuple[str, str]:
    """A title and one sentence for an HTTP status, in the reader's language."""
    return {
        400: (
            _("This request could not be read"),
            _("Something in the form or the address is not right. Go back and try again."),
        ),
        401: (_("Please log in"), _("Log in to see this page.")),
        403: (_("Not for your account"), _("Your account may not open this page.")),
        404: (
            _("Page not found"),
            _("This page does not exist, or it belongs to a line you do not work on."),
        ),
        405: (
            _("This does not work here"),
            _("This page cannot be used like that. Use the menu to go on."),
        ),
        429: (
            _("Too many attempts"),
            _("Please wait a minute, then try again."),
        ),
        500: (
            _("Something went wrong on our side"),
            _(
                "The error has been noted. Try again in a moment; if it keeps happening, "
                "tell your coordinator."
            ),
        ),
    }.get(code, (_("Something went wrong"), _("Use the menu to go on.")))


def error_page(error: HTTPException):
    """The styled page for ``error``, with its status code and headers (Allow, Retry-After)."""
    code = error.code or 500
    title, sentence = error_words(code)
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    try:
        body = render_template("errors/page.html", code=code, title=title, sentence=sentence)
    except Exception:  # the page itself failed (e.g. the database is gone): say it plainly
        log.exception("the error page for %s could not be rendered", code)
        return error
    return body, code, headers


def _handle_http_error(error: HTTPException):
    if request.path.startswith(f"{api.blueprint.url_prefix}/"):
        return api.problem_for(error)
    if request.path.startswith(MACHINE_PATHS):
        return error
    return error_page(error)


def init_app(app: Flask) -> None:
    """Answer every HTTP error (and any unexpected exception, as a 500) with a page."""
    # An unexpected exception reaches this handler as an InternalServerError (Flask logs it).
    app.register_error_handler(HTTPException, _handle_http_error)
