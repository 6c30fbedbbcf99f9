"""Operator and coordinator accounts: creation, passwords (argon2) and login back-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from hotline.models import Operator, utcnow

ROLES = ("operator", "coordinator")
LOCALES = ("nl", "en")
MIN_PASSWORD_LENGTH = 10
FREE_ATTEMPTS = 5  # failed logins before the account slows down
MAX_LOCK = timedelta(minutes=30)
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about accounts that cannot be done (the message says why)."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``, after checking it is long enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_operator(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    role: str = "operator",
    locale: str = "nl",
) -> Operator:
    """Create an account; usernames are unique, case-insensitively."""
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").isalnum():
        raise AccountError("a username is letters, digits, '.' or '-'")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if locale not in LOCALES:
        raise AccountError(f"language must be one of {', '.join(LOCALES)}")
    if session.exec(select(Operator).where(Operator.username == username)).first():
        raise AccountError(f"the username '{username}' is taken")
    operator = Operator(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=hash_password(password),
        role=role,
        locale=locale,
    )
    session.add(operator)
    session.commit()
    return operator


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
