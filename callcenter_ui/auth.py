"""Logging in and out; who may see what."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from hotline.access.accounts import authenticate, visible_line_ids
from hotline.db import get_session
from hotline.models import HelpRequest, Operator, VolunteerLead

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


class StaffUser(UserMixin):
    """The logged-in operator, as Flask-Login sees them (no password hash, no phone)."""

    def __init__(self, operator: Operator, line_ids: set[int] | None = None):
        self.id = operator.id
        self.username = operator.username
        self.display_name = operator.display_name
        self.role = operator.role
        self.locale = operator.locale
        self.line_slugs = tuple(operator.lines)
        self.line_ids = line_ids  # None: every line

    def may_see_line(self, line_id: int) -> bool:
        """Whether this account works on the line with row id ``line_id``."""
        return self.line_ids is None or line_id in self.line_ids

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    session = get_session()
    operator = session.get(Operator, int(user_id)) if user_id.isdigit() else None
    if operator is None or not operator.active:
        return None
    return StaffUser(operator, visible_line_ids(session, operator))


def visible_request(request_id: int) -> HelpRequest:
    """A request the logged-in account may see, or 404 (another line's looks like none)."""
    help_request = get_session().get(HelpRequest, request_id)
    if help_request is None or not current_user.may_see_line(help_request.line_id):
        abort(404)
    return help_request


def visible_lead(lead_id: int) -> VolunteerLead:
    """A volunteer lead the logged-in account may see, or 404 (another line's looks like none)."""
    lead = get_session().get(VolunteerLead, lead_id)
    if lead is None or not current_user.may_see_line(lead.line_id):
        abort(404)
    return lead


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
        if not current_user.is_coordinator:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired()])
    password = PasswordField("password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect (//host, /\\host, /<tab>/host...)."""
    if target and target.startswith("/") and not any(c < " " or c == "\\" for c in target):
        parts = urlsplit(target)
        if not target.startswith("//") and not parts.scheme and not parts.netloc:
            return target
    return url_for("requests.queue")


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    """The login page; repeated failures slow the account down, and the page says so."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = authenticate(
            get_session(), username=form.username.data, password=form.password.data
        )
        if result.operator is not None:
            login_user(StaffUser(result.operator, visible_line_ids(get_session(), result.operator)))
            return redirect(_safe_next(request.args.get("next")))
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
    """Log out (a POST with a CSRF token, so no other site can log you out)."""
    logout_user()
    return redirect(url_for("auth.login"))


@blueprint.get("/")
def home():
    """The start page: the queue for staff, the login page for everyone else."""
    if current_user.is_authenticated:
        return redirect(url_for("requests.queue"))
    return redirect(url_for("auth.login"))
