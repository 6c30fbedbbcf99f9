"""Operator and coordinator accounts: creation, passwords (argon2) and login back-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from hotline.access.sessions import end_all_sessions
from hotline.audit import record
from hotline.models import Operator, utcnow
from hotline.vocabulary import LANGUAGES, N_
from hotline.volunteers import TranslatableError

ROLES = ("operator", "coordinator")
LOCALES = LANGUAGES  # the call centre speaks every language of the vocabulary
MIN_PASSWORD_LENGTH = 10
FREE_ATTEMPTS = 5  # failed logins before the account slows down
MAX_LOCK = timedelta(minutes=30)
_hasher = PasswordHasher()


class AccountError(TranslatableError):
    """A request about accounts that cannot be done; ``message`` (English, translated by the
    UI) says why, ``field`` names the form field at fault when there is one."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``, after checking it is long enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            N_("A password needs at least %(num)d characters."),
            field="password",
            num=MIN_PASSWORD_LENGTH,
        )
    return _hasher.hash(password)


def create_operator(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    role: str = "operator",
    locale: str = "nl",
    lines: list[str] | None = None,
    created_by: int | None = None,
) -> Operator:
    """Create an account; usernames are unique, case-insensitively; audited.

    ``lines``: slugs of the lines the account works on (None or empty: every line).
    ``created_by``: the coordinator who made it, for the audit log (None: the command line
    or a setup script, not audited).
    """
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").isalnum():
        raise AccountError(
            N_("A username is made of letters, digits, '.' or '-'."), field="username"
        )
    if role not in ROLES:
        raise AccountError(N_("Unknown role: %(role)s."), field="role", role=role)
    if locale not in LOCALES:
        raise AccountError(N_("Unknown language: %(code)s."), field="locale", code=locale)
    if session.exec(select(Operator).where(Operator.username == username)).first():
        raise AccountError(N_("The username %(name)s is taken."), field="username", name=username)
    operator = Operator(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=hash_password(password),
        role=role,
        locale=locale,
        lines=sorted(set(lines or [])),
    )
    session.add(operator)
    session.flush()
    if created_by is not None:  # a coordinator's doing (the command line is the administrator's)
        record(
            session,
            "account:created",
            operator_id=created_by,
            account_id=operator.id,
            role=operator.role,
            lines=list(operator.lines),
        )
    session.commit()
    return operator


def password_matches(operator: Operator, password: str) -> bool:
    """Whether ``password`` is the account's current password."""
    try:
        return _hasher.verify(operator.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def lock_duration(failed_logins: int) -> timedelta:
    """How long an account waits after ``failed_logins`` failures: doubling, capped."""
    if failed_logins < FREE_ATTEMPTS:
        return timedelta(0)
    return min(timedelta(minutes=1) * 2 ** (failed_logins - FREE_ATTEMPTS), MAX_LOCK)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: the operator, or why not (and until when)."""

    operator: Operator | None
    locked_until: datetime | None = None


def authenticate(
    session: Session, *, username: str, password: str, now: datetime | None = None
) -> LoginResult:
    """Check a username and password; failures slow the account down.

    While an account is locked even the right password is refused, so that
    guessing gains nothing from waiting less.
    """
    now = now or utcnow()
    operator = session.exec(
        select(Operator).where(Operator.username == username.strip().lower())
    ).first()
    if operator is None or not operator.active:
        _hasher.hash(password)  # same cost as a real check: timing reveals no usernames
        return LoginResult(None)
    if operator.locked_until and operator.locked_until > now:
        return LoginResult(None, operator.locked_until)
    try:
        _hasher.verify(operator.password_hash, password)
    except (VerificationError, InvalidHashError):
        operator.failed_logins += 1
        wait = lock_duration(operator.failed_logins)
        operator.locked_until = now + wait if wait else None
        session.add(operator)
        session.commit()
        return LoginResult(None, operator.locked_until)
    operator.failed_logins, operator.locked_until, operator.last_login_at = 0, None, now
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    session.add(operator)
    session.commit()
    return LoginResult(operator)


def update_account(
    session: Session,
    *,
    operator: Operator,
    changed_by: int | None,
    role: str | None = None,
    active: bool | None = None,
    lines: list[str] | None = None,
) -> Operator:
    """A coordinator changes someone's role or lines, or (de)activates them; audited.

    Nobody locks themselves out or changes their own lines. ``lines``: slugs (empty list:
    every line; None: unchanged). Whether ``changed_by`` may give those lines is the access
    policy's to decide (:func:`hotline.access.policy.check_grant_lines`), before this.
    """
    if operator.id == changed_by and (role == "operator" or active is False):
        raise AccountError(
            N_("You cannot remove your own coordinator rights or deactivate yourself.")
        )
    before = {"role": operator.role, "active": operator.active, "lines": list(operator.lines)}
    if lines is not None:
        lines = sorted(set(lines))
        if operator.id == changed_by and lines != sorted(operator.lines):
            raise AccountError(N_("You cannot change your own lines."))
        operator.lines = lines
    if role is not None:
        if role not in ROLES:
            raise AccountError(N_("Unknown role: %(role)s."), field="role", role=role)
        operator.role = role
    if active is not None:
        if operator.active and not active:  # reactivating later must not revive a cookie
            end_all_sessions(session, operator.id, "deactivated", commit=False)
        operator.active = active
        operator.failed_logins, operator.locked_until = 0, None
    after = {"role": operator.role, "active": operator.active, "lines": list(operator.lines)}
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changes:
        record(
            session, "account:updated", operator_id=changed_by, account_id=operator.id, **changes
        )
    session.add(operator)
    session.commit()
    return operator


def update_profile(
    session: Session,
    *,
    operator: Operator,
    secrets,
    country: str,
    display_name: str | None = None,
    locale: str | None = None,
    phone_number: str | None = None,
    new_password: str | None = None,
    keep_session: str | None = None,
) -> Operator:
    """An operator's own settings; their phone (for call-backs) goes into the vault.

    A new password ends the account's other sessions (``keep_session``: the secret of
    the session that changed it, which stays open).
    """
    from hotline.config import normalise_number
    from hotline.privacy import store_contact

    if display_name is not None and display_name.strip():
        operator.display_name = display_name.strip()
    if locale is not None:
        if locale not in LOCALES:
            raise AccountError(N_("Unknown language: %(code)s."), field="locale", code=locale)
        operator.locale = locale
    if phone_number:
        number = normalise_number(phone_number, country)
        if number is None:
            raise AccountError(N_("This is not a valid phone number."), field="phone_number")
        operator.contact_id = store_contact(session, secrets, number).id
    if new_password:
        operator.password_hash = hash_password(new_password)
        end_all_sessions(session, operator.id, "password_changed", keep=keep_session, commit=False)
    session.add(operator)
    session.commit()
    return operator


def set_language(session: Session, *, operator: Operator, locale: str) -> Operator:
    """The language an account reads the call centre in (the header's language switch)."""
    if locale not in LOCALES:
        raise AccountError(N_("Unknown language: %(code)s."), field="locale", code=locale)
    operator.locale = locale
    session.add(operator)
    session.commit()
    return operator


def list_accounts(session: Session, *, where: Any = None) -> list[Operator]:
    """Every account (or those ``where`` selects: the access policy's account filter),
    active ones first, by name."""
    query = select(Operator)
    if where is not None:
        query = query.where(where)
    return list(
        session.exec(query.order_by(Operator.active.desc(), Operator.display_name))  # type: ignore[attr-defined]
    )
