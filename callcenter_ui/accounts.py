"""Accounts: coordinators manage operators; everyone edits their own profile."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
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

from callcenter_ui.auth import coordinator_required
from hotline.access import accounts
from hotline.db import get_session
from hotline.models import Operator

blueprint = Blueprint("accounts", __name__, url_prefix="/accounts")


class NewAccountForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=64)])
    display_name = StringField(validators=[DataRequired(), Length(max=120)])
    password = PasswordField(validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH)])
    coordinator = BooleanField()
    locale = SelectField(choices=[SelectChoice("nl", "Nederlands"), SelectChoice("en", "English")])


class AccountForm(FlaskForm):
    role = SelectField(choices=[SelectChoice("operator"), SelectChoice("coordinator")])
    active = BooleanField()


class ProfileForm(FlaskForm):
    display_name = StringField(validators=[DataRequired(), Length(max=120)])
    locale = SelectField(choices=[SelectChoice("nl", "Nederlands"), SelectChoice("en", "English")])
    phone_number = TelField(validators=[Optional(), Length(max=32)])
    new_password = PasswordField(validators=[Optional(), Length(min=accounts.MIN_PASSWORD_LENGTH)])


@blueprint.route("/", methods=["GET", "POST"])
@coordinator_required
def index():
    """Coordinators: every account, and a form to add one."""
    session = get_session()
    form = NewAccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            created = accounts.create_operator(
                session,
                username=form.username.data,
                display_name=form.display_name.data,
                password=form.password.data,
                role="coordinator" if form.coordinator.data else "operator",
                locale=form.locale.data,
            )
        except accounts.AccountError as error:
            session.rollback()
            form.username.errors = [str(error)]
            status = 400
        else:
            flash(_("Account %(name)s created.", name=created.username), "ok")
            return redirect(url_for("accounts.index"))
    elif form.is_submitted():
        status = 400
    return render_template(
        "accounts/index.html", form=form, accounts=accounts.list_accounts(session)
    ), status


@blueprint.post("/<int:operator_id>")
@coordinator_required
def update(operator_id: int):
    """Coordinators: change someone's role or (de)activate the account."""
    session = get_session()
    operator = session.get(Operator, operator_id) or abort(404)
    form = AccountForm()
    if form.validate_on_submit():
        try:
            accounts.update_account(
                session,
                operator=operator,
                changed_by=current_user.id,
                role=form.role.data,
                active=form.active.data,
            )
        except accounts.AccountError as error:
            session.rollback()
            flash(str(error), "error")
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
    if form.validate_on_submit():
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
            )
        except accounts.AccountError as error:
            session.rollback()
            form.phone_number.errors = [str(error)]
            status = 400
        else:
            flash(_("Your profile is saved."), "ok")
            return redirect(url_for("accounts.profile"))
    elif form.is_submitted():
        status = 400
    form.phone_number.data = ""  # the number on file is never shown again
    return render_template(
        "accounts/profile.html", form=form, has_phone=operator.contact_id is not None
    ), status
