"""Logging in and out; who may see what."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden, NotFound
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from hotline.abuse.limits import login_over_limit
from hotline.access import policy, sessions
from hotline.access.accounts import authenticate
from hotline.access.policy import AccessDenied, Principal
from hotline.db import get_session
from hotline.models import HelpRequest, Operator, VolunteerLead
from hotline.vocabulary import N_

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"
# Flask-Login's own words, translated when shown (localize_callback).
login_manager.login_message = N_("Please log in to see this page.")
login_manager.login_message_category = "info"
login_manager.needs_refresh_message = N_("Please log in again to see this page.")
login_manager.localize_callback = _
# The browser's cookie holds this session's secret (the database only its hash).
SESSION_KEY = "hotline_sid"
# Sent by the pages' own background refreshes: they keep no session alive.
BACKGROUND_HEADER = "X-Hotline-Background"


class StaffUser(UserMixin):
    """The logged-in operator, as Flask-Login sees them (no password hash, no phone)."""

    def __init__(self, operator: Operator, principal: Principal):
        self.id = operator.id
        self.username = operator.username
        self.display_name = operator.display_name
        self.role = operator.role
        self.locale = operator.locale
        # What this account may see and do is the access policy's to say (hotline.access.policy).
        self.principal = principal

    @property
    def is_coordinator(self) -> bool:
        return self.principal.is_coordinator


def session_limits() -> sessions.SessionLimits:
    """The configured idle timeout and maximum age of staff sessions."""
    settings = current_app.extensions["hotline.settings"]
    return sessions.SessionLimits(
        idle=timedelta(seconds=settings.session_idle_seconds),
        max_age=timedelta(seconds=settings.session_max_age_seconds),
    )


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """The account behind this browser's session, if that session is still open."""
    db = get_session()
    operator = db.get(Operator, int(user_id)) if user_id.isdigit() and len(user_id) < 10 else None
    if operator is None or not operator.active:
        return None
    live = sessions.resume_session(
        db,
        session.get(SESSION_KEY),
        operator.id,
        session_limits(),
        active=request.headers.get(BACKGROUND_HEADER) != "1",
    )
    if live is None:
        session.pop(SESSION_KEY, None)
        return None
    return StaffUser(operator, policy.principal_for(db, operator))


def current_principal() -> Principal:
    """Who the logged-in account is to the access policy."""
    return current_user.principal


@blueprint.app_errorhandler(AccessDenied)
def _access_denied(error: AccessDenied):
    # The policy's two answers become the app's usual 404 and 403 (HTML pages, or the
    # API's problem details): another line's thing looks exactly like a missing one.
    http_error = NotFound() if isinstance(error, policy.NotVisible) else Forbidden()
    return current_app.handle_http_exception(http_error)


def visible_request(request_id: int) -> HelpRequest:
    """A request the logged-in account may see, or 404 (another line's looks like none)."""
    return policy.check_request(current_principal(), get_session().get(HelpRequest, request_id))


def visible_lead(lead_id: int) -> VolunteerLead:
    """A volunteer lead the logged-in account may see, or 404 (another line's looks like none)."""
    return policy.check_lead(current_principal(), get_session().get(VolunteerLead, lead_id))


@login_manager.unauthorized_handler
def _to_the_login_page():
    """Not logged in (or the session ended): to the login page, then back here.

    A page's own htmx request gets the login page's address in ``HX-Redirect`` instead of a
    302, which htmx would follow and paste the login form into the queue table.
    """
    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        page = current.path + (f"?{current.query}" if current.query else "")
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = url_for("auth.login", next=safe_next(page or None))
        return response
    flash(_(login_manager.login_message), login_manager.login_message_category)
    return redirect(url_for("auth.login", next=safe_next(request.full_path.rstrip("?"))))


def require_login():
    """before_request hook of every staff blueprint."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def coordinator_required(view):
    """Only coordinators may use this view (403 for operators)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        policy.check_coordinator(current_principal())
        return view(*args, **kwargs)

    return wrapper


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired()])
    password = PasswordField("password", validators=[DataRequired()])


def safe_next(target: str | None) -> str:
    """Where to go after a login or a language switch: only a path on this site, never
    an open redirect (//host, /\\host, /<tab>/host...)."""
    if target and target.startswith("/") and not any(c < " " or c == "\\" for c in target):
        parts = urlsplit(target)
        if not target.startswith("//") and not parts.scheme and not parts.netloc:
            return target
    return url_for("requests.queue")


def login_rate_limited(view):
    """Refuse (429) a login from an address, or for a username, that failed too often
    lately (hotline.abuse.limits); the account's own lock-out comes on top of this."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.method == "POST" and login_over_limit(request.form.get("username", "")):
            flash(_("Too many failed logins. Please wait a minute and try again."), "error")
            return render_template("auth/login.html", form=LoginForm()), 429
        return view(*args, **kwargs)

    return wrapper


@blueprint.route("/login", methods=["GET", "POST"])
@login_rate_limited
def login():
    """The login page; repeated failures slow the account down, and the page says so."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = authenticate(
            get_session(), username=form.username.data, password=form.password.data
        )
        if result.operator is not None:
            next_page = safe_next(request.args.get("next"))
            session.clear()  # nothing from before the login carries over
            session[SESSION_KEY] = sessions.start_session(get_session(), result.operator.id)
            principal = policy.principal_for(get_session(), result.operator)
            login_user(StaffUser(result.operator, principal))
            return redirect(next_page)
        status = 401
        if result.locked_until is not None:
            flash(
                _(
                    "Too many failed attempts. This account is locked until %(time)s.",
                    time=format_datetime(result.locked_until, "HH:mm:ss"),
                ),
                "error",
            )
        else:
            flash(_("Unknown username or wrong password."), "error")
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@blueprint.post("/logout")
def logout():
    """Log out (a POST with a CSRF token, so no other site can log you out).

    The session ends on the server too: a copy of the cookie opens nothing afterwards.
    """
    sessions.end_session(get_session(), session.pop(SESSION_KEY, None))
    logout_user()
    return redirect(url_for("auth.login"))


@blueprint.post("/logout/everywhere")
def logout_everywhere():
    """End every session of this account, in every browser, this one included."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    sessions.end_all_sessions(get_session(), current_user.id, "logout_everywhere")
    session.pop(SESSION_KEY, None)
    logout_user()
    flash(_("You are logged out everywhere."), "ok")
    return redirect(url_for("auth.login"))


@blueprint.get("/")
def home():
    """The start page: the queue for staff, the login page for everyone else."""
    if current_user.is_authenticated:
        return redirect(url_for("requests.queue"))
    return redirect(url_for("auth.login"))
