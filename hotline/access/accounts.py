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
    lines: list[str] | None = None,
) -> Operator:
    """Create an account; usernames are unique, case-insensitively.

    ``lines``: slugs of the lines the account works on (None or empty: every line).
    """
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
        lines=sorted(set(lines or [])),
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


def update_account(
    session: Session,
    *,
    operator: Operator,
    changed_by: int,
    role: str | None = None,
    active: bool | None = None,
) -> Operator:
    """A coordinator changes someone's role or (de)activates them; nobody locks themselves out."""
    if operator.id == changed_by and (role == "operator" or active is False):
        raise AccountError("you cannot remove your own coordinator rights or deactivate yourself")
    if role is not None:
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        operator.role = role
    if active is not None:
        operator.active = active
        operator.failed_logins, operator.locked_until = 0, None
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
) -> Operator:
    """An operator's own settings; their phone (for call-backs) goes into the vault."""
    from hotline.config import normalise_number
    from hotline.privacy import store_contact

    if display_name is not None and display_name.strip():
        operator.display_name = display_name.strip()
    if locale is not None:
        if locale not in LOCALES:
            raise AccountError(f"language must be one of {', '.join(LOCALES)}")
        operator.locale = locale
    if phone_number:
        number = normalise_number(phone_number, country)
        if number is None:
            raise AccountError("that is not a valid phone number")
        operator.contact_id = store_contact(session, secrets, number).id
    if new_password:
        operator.password_hash = hash_password(new_password)
    session.add(operator)
    session.commit()
    return operator


def list_accounts(session: Session) -> list[Operator]:
    """Every account, active ones first, by name."""
    return list(
        session.exec(select(Operator).order_by(Operator.active.desc(), Operator.display_name))  # type: ignore[attr-defined]
    )


def visible_line_ids(session: Session, operator: Operator) -> set[int] | None:
    """Ids of the Line rows an account may see; None when it may see every line."""
    from hotline.models import Line

    if not operator.lines:
        return None
    return set(session.exec(select(Line.id).where(Line.slug.in_(operator.lines))).all())  # type: ignore[attr-defined]
