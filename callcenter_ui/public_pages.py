"""A line's public pages (no login): ``/<line>/`` and its neighbour card PDF.

Thin views over :mod:`hotline.public`. A visitor who only reads gets no cookie (no form,
no session, no CSRF token), and both answers may be kept by a browser or a proxy for a
while (``Cache-Control: public``), which also makes a flood of visits cheap.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, url_for
from flask_babel import force_locale
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from hotline.config import LineSettings
from hotline.db import get_session, line_row
from hotline.public import line_facts
from hotline.public.needs import CACHE_SECONDS, NeedsCache, waiting_needs
from hotline.public.neighbour_card import NeighbourCards

blueprint = Blueprint("public", __name__)
# How long a browser or proxy may keep the card (it changes only with the configuration).
CARD_MAX_AGE = 3600


def init_app(app: Flask) -> None:
    """Register the public pages and their caches (one per app: tests build many)."""
    slugs = list(app.extensions["hotline.settings"].lines)

    class LineSlug(BaseConverter):
        """A configured line's slug, and nothing else: ``/no-such-page`` stays a plain 404
        instead of a redirect to ``/no-such-page/``, and every other route keeps its path."""

        regex = "|".join(re.escape(slug) for slug in slugs) or "(?!)"

    # Before the blueprint, whose rules look their converters up when they are added.
    app.url_map.converters["line_slug"] = LineSlug
    app.extensions["hotline.public_needs"] = NeedsCache()
    app.extensions["hotline.neighbour_cards"] = NeighbourCards()
    app.register_blueprint(blueprint)


def the_line(slug: str) -> LineSettings:
    """The configured line ``slug`` (the route's converter already knows it), or the 404."""
    line = current_app.extensions["hotline.settings"].lines.get(slug)
    if line is None:
        abort(404)
    return line


def page_language(line: LineSettings) -> str:
    """``?lang=`` if the line speaks it, else the browser's best of the line's languages,
    else the line's first language."""
    asked = request.args.get("lang", "")
    if asked in line.languages:
        return asked
    return request.accept_languages.best_match(line.languages) or line.languages[0]


def render_public(template: str, line: LineSettings, language: str, **context) -> str:
    """``template`` (extending public/base.html) in ``language``, whatever the visitor's
    session or account says (for the volunteer sign-up's pages as well)."""
    with force_locale(language):
        return render_template(template, line=line, language=language, **context)


def volunteer_url(line: LineSettings, language: str) -> str:
    """The line's volunteer sign-up page (its route if the app has one, else its path)."""
    path = f"/{line.slug}/volunteer"
    try:
        endpoint, arguments = current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return f"{request.script_root}{path}?lang={language}"
    return url_for(endpoint, **arguments, lang=language)


def base_url() -> str:
    """The installation's public address, without a trailing slash."""
    return current_app.extensions["hotline.settings"].public_base_url.rstrip("/")


def public_url(line: LineSettings) -> str:
    """The absolute address of the line's page (on the cards' QR code)."""
    return f"{base_url()}/{line.slug}/"


def _cacheable(response: Response, max_age: int, *, by_language: bool = False) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    if by_language:  # without ?lang=, the browser's Accept-Language chose the page's language
        response.vary.add("Accept-Language")
    return response


@blueprint.get("/<line_slug:line>/")
def line_page(line: str):
    """How to get help, how to volunteer and where help is wanted now."""
    settings = the_line(line)
    language = page_language(settings)

    def compute():
        db = get_session()
        line_id = line_row(db, current_app.extensions["hotline.settings"], settings.slug).id
        return waiting_needs(db, line=settings, line_id=line_id)

    needs = current_app.extensions["hotline.public_needs"].get(settings.slug, compute)
    body = render_public(
        "public/line.html",
        settings,
        language,
        needs=needs,
        facts=line_facts,
        volunteer_url=volunteer_url(settings, language),
        register_url=_absolute(settings.register_url),
        base_url=base_url(),
    )
    response = Response(body, mimetype="text/html")
    return _cacheable(response, int(CACHE_SECONDS), by_language=True)


@blueprint.get("/<line_slug:line>/neighbour-card.pdf")
def neighbour_card(line: str):
    """The neighbour card: one A4 page of four A6 cards per language (``?lang=``: one)."""
    settings = the_line(line)
    asked = request.args.get("lang")
    if asked is not None and asked not in settings.languages:
        abort(404)
    languages = (asked,) if asked else settings.languages
    pdf = current_app.extensions["hotline.neighbour_cards"].get(
        settings, languages, public_url(settings)
    )
    response = Response(pdf, mimetype="application/pdf")
    filename = f"{settings.slug}-neighbour-card{'-' + asked if asked else ''}.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return _cacheable(response, CARD_MAX_AGE)


def _absolute(url: str) -> str:
    """A configured address ("www.leuven.be/leuvenhelpt") as a link browsers follow."""
    if not url or "://" in url:
        return url
    return "https://" + url
