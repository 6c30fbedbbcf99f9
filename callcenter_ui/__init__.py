"""The operators' call-centre UI: server-rendered Flask blueprints, htmx for the live parts.

Every page but the login page needs a logged-in operator; every form carries a
CSRF token (Flask-WTF); texts are translated with Flask-Babel (Dutch, French, English:
``hotline.vocabulary.LANGUAGES``), error pages included (callcenter_ui/errors.py).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app, request, send_from_directory
from flask_babel import Babel, get_locale
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from callcenter_ui import (
    accounts,
    api,
    assignments,
    audit_log,
    auth,
    blocked_callers,
    call_words,
    calls,
    dashboard,
    errors,
    help_requests,
    history_words,
    language,
    live_calls,
    offer_words,
    public_pages,
    retention,
    volunteers,
)
from hotline import vocabulary, webhooks

# Templates and static files of the whole UI (Jinja searches every blueprint's folder).
assets = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/ui",
)
csrf = CSRFProtect()
babel = Babel()
LANGUAGES = vocabulary.LANGUAGES
# English message ids; translations/<language> hold the others (see README, Translations).
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# Blueprints whose pages are for logged-in staff (the API has its own token check).
STAFF_BLUEPRINTS = (
    accounts,
    assignments,
    audit_log,
    blocked_callers,
    calls,
    dashboard,
    help_requests,
    live_calls,
    retention,
    volunteers,
)


def select_locale() -> str:
    """The account's language, else the one chosen with the header's switch, else the
    browser's preference, else Dutch."""
    if current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return language.chosen_language() or request.accept_languages.best_match(LANGUAGES) or "nl"


def current_settings(app: Flask):
    """The hotline settings the app was built with."""
    return app.extensions["hotline.settings"]


def init_app(app: Flask) -> None:
    """Register the UI's blueprints, login, CSRF protection and translations on ``app``."""
    csrf.init_app(app)
    vocabulary.use_catalogue(TRANSLATIONS)  # the SMS and the whispers say the UI's words
    auth.login_manager.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_locale="nl",
        default_translation_directories=str(TRANSLATIONS),
        # Times on every page are the line's local time (the first line's, for now).
        default_timezone=next(iter(current_settings(app).lines.values())).timezone,
    )
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a shift is long; the session bounds it
    csrf.exempt(webhooks.blueprint)  # Twilio signs its requests instead
    offer_words.init_app(app)
    call_words.init_app(app)
    history_words.init_app(app)
    app.register_blueprint(assets)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(language.blueprint)
    errors.init_app(app)
    public_pages.init_app(app)  # a line's public page and its neighbour card: no login

    @app.get("/favicon.ico", endpoint="favicon")
    def _favicon():
        # Browsers ask for /favicon.ico whatever the page says: the same icon, not a 404.
        return send_from_directory(
            assets.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400
        )

    for module in STAFF_BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    staff_only = {module.blueprint.name for module in STAFF_BLUEPRINTS}

    @app.before_request
    def _staff_pages_need_a_login():
        if request.blueprint in staff_only:
            return auth.require_login()
        return None

    app.register_blueprint(api.blueprint)
    csrf.exempt(api.blueprint)  # token-authenticated, no cookies

    @app.context_processor
    def _template_globals():
        return {
            "app_settings": current_app.extensions["hotline.settings"],
            "get_locale": get_locale,
            "ENDONYMS": vocabulary.ENDONYMS,
            "vocabulary_label": vocabulary.label,
            "vocabulary_words": vocabulary.all_words,
            "language_name": vocabulary.language_name,
            "category_words": vocabulary.category_words,
        }

    app.add_template_filter(vocabulary.capitalised, "capitalised")
    app.add_template_filter(vocabulary.language_name, "language_name")
