"""Accounts: coordinators manage operators; everyone edits their own profile."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, Length, Optional

from callcenter_ui.auth import SESSION_KEY, coordinator_required, current_principal
from callcenter_ui.volunteers import translated
from hotline.access import accounts, policy
from hotline.access.sessions import open_sessions
from hotline.db import get_session
from hotline.models import Operator
from hotline.vocabulary import ENDONYMS

blueprint = Blueprint("accounts", __name__, url_prefix="/accounts")
# The lines select's "every line" option (an account with no lines works on every line).
ALL_LINES = "*"


class NewAccountForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=64)])
    display_name = StringField(validators=[DataRequired(), Length(max=120)])
    password = PasswordField(validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH)])
    coordinator = BooleanField()
    locale = SelectField(choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.locale.choices = language_choices()


class AccountForm(FlaskForm):
    role = SelectField(choices=[SelectChoice("operator"), SelectChoice("coordinator")])
    active = BooleanField()


class ProfileForm(FlaskForm):
    display_name = StringField(validators=[DataRequired(), Length(max=120)])
    locale = SelectField(choices=[])
    phone_number = TelField(validators=[Optional(), Length(max=32)])
    new_password = PasswordField(validators=[Optional(), Length(min=accounts.MIN_PASSWORD_LENGTH)])
    # Asked only with a new password: a browser left logged in cannot lock its owner out.
    current_password = PasswordField(validators=[Optional(), Length(max=256)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.locale.choices = language_choices()


def language_choices() -> list[SelectChoice]:
    """The call centre's languages, each in its own words ("français"), for choosing one."""
    return [SelectChoice(code, name, render_kw={"lang": code}) for code, name in ENDONYMS.items()]


@blueprint.route("/", methods=["GET", "POST"])
@coordinator_required
def index():
    """Coordinators: the accounts they manage (those of their own lines), and a form to add one."""
    session = get_session()
    principal = current_principal()
    form = NewAccountForm()
    status = 200
    if form.validate_on_submit():
        chosen = _chosen_lines()
        if chosen is None:  # nothing chosen: the coordinator's own lines (every line: all)
            chosen = sorted(principal.line_slugs or [])
        lines = policy.check_grant_lines(principal, _configured(chosen))
        try:
            created = accounts.create_operator(
                session,
                username=form.username.data,
                display_name=form.display_name.data,
                password=form.password.data,
                role="coordinator" if form.coordinator.data else "operator",
                locale=form.locale.data,
                lines=lines,
                created_by=principal.id,
            )
        except accounts.AccountError as error:
            session.rollback()
            form.username.errors = [translated(error)]
            status = 400
        else:
            flash(_("Account %(name)s created.", name=created.username), "ok")
            return redirect(url_for("accounts.index"))
    elif form.is_submitted():
        status = 400
    settings = current_app.extensions["hotline.settings"]
    return render_template(
        "accounts/index.html",
        form=form,
        accounts=accounts.list_accounts(session, where=policy.account_filter(session, principal)),
        grantable=[
            (slug, settings.lines[slug].name)
            for slug in policy.own_lines(principal, settings.lines)
        ],
        may_grant_all_lines=principal.all_lines,
        all_lines=ALL_LINES,
    ), status


def _chosen_lines() -> list[str] | None:
    """The lines ticked in a form: None when the form has no lines field, [] for every line."""
    values = [value for value in request.form.getlist("lines") if value]
    if not values:
        return None
    return [] if ALL_LINES in values else values


def _configured(slugs: list[str]) -> list[str]:
    """``slugs`` if every one is a configured line (a typo would silently hide everything)."""
    configured = current_app.extensions["hotline.settings"].lines
    if any(slug not in configured for slug in slugs):
        abort(400)
    return slugs


@blueprint.post("/<int:operator_id>")
@coordinator_required
def update(operator_id: int):
    """Coordinators: change the role or the lines of an account they manage, or (de)activate it."""
    session = get_session()
    principal = current_principal()
    # Another line's account is not found; one of every line, only for a coordinator of all.
    operator = policy.check_manage_account(principal, session.get(Operator, operator_id))
    form = AccountForm()
    if form.validate_on_submit():
        chosen = _chosen_lines()
        lines = None if chosen is None else policy.check_grant_lines(principal, _configured(chosen))
        try:
            accounts.update_account(
                session,
                operator=operator,
                changed_by=current_user.id,
                role=form.role.data,
                active=form.active.data,
                lines=lines,
            )
        except accounts.AccountError as error:
            session.rollback()
            flash(translated(error), "error")
        else:
            flash(_("Account %(name)s updated.", name=operator.username), "ok")
    else:
        flash(_("Please correct the marked fields."), "error")
    return redirect(url_for("accounts.index"))


@blueprint.route("/me", methods=["GET", "POST"])
def profile():
    """Your own name, language, phone (for call-backs) and password."""
    session = get_session()
    operator = session.get(Operator, current_user.id)
    form = ProfileForm(obj=operator)
    status = 200
    if (
        form.validate_on_submit()
        and form.new_password.data
        and not accounts.password_matches(operator, form.current_password.data or "")
    ):
        form.current_password.errors = [_("Type your current password to choose a new one.")]
        status = 400
    elif form.validate_on_submit():
        settings = current_app.extensions["hotline.settings"]
        try:
            accounts.update_profile(
                session,
                operator=operator,
                secrets=settings.secrets,
                country=next(iter(settings.lines.values())).country,
                display_name=form.display_name.data,
                locale=form.locale.data,
                phone_number=form.phone_number.data,
                new_password=form.new_password.data,
                keep_session=flask_session.get(SESSION_KEY),
            )
        except accounts.AccountError as error:
            session.rollback()
            field = form._fields.get(error.field or "", form.phone_number)
            field.errors = [*field.errors, translated(error)]
            status = 400
        else:
            with force_locale(operator.locale):  # the next page is in the language chosen
                flash(_("Your profile is saved."), "ok")
            return redirect(url_for("accounts.profile"))
    elif form.is_submitted():
        status = 400
    form.phone_number.data = ""  # the number on file is never shown again
    return render_template(
        "accounts/profile.html",
        form=form,
        has_phone=operator.contact_id is not None,
        open_sessions=len(open_sessions(session, operator.id)),
    ), status
