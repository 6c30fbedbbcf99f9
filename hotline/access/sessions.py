"""Staff sessions that end: one row per login, checked on every request.

A browser holds a random secret in its (signed) session cookie; the database holds only
its SHA-256. A cookie copied before logout is therefore worth nothing after it, and the
account's other sessions can be ended from anywhere: a password change, deactivation and
"log out everywhere" end them all at once. A session also ends by itself after a spell
of idleness (background refreshes of an open page do not count as activity) and at a
fixed age however active it is, so a laptop left logged in does not stay a way in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, or_, select, update

from hotline.models import StaffSession, utcnow

# last_seen_at is written at most this often: an active operator's clicks do not each
# cost a write, and idleness is measured to within this much.
LAST_SEEN_PRECISION = timedelta(minutes=1)
ENDED_BY_ACCOUNT_CHANGES = ("logout_everywhere", "password_changed", "deactivated")


@dataclass(frozen=True)
class SessionLimits:
    """How long a staff session may stay idle, and how long it may live at most."""

    idle: timedelta
    max_age: timedelta


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start_session(session: Session, operator_id: int, *, now: datetime | None = None) -> str:
    """Record a new login and return the secret for the browser's cookie (stored hashed)."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_hash(raw), operator_id=operator_id, created_at=now, last_seen_at=now
        )
    )
    session.commit()
    return raw


def resume_session(
    session: Session,
    raw: str | None,
    operator_id: int,
    limits: SessionLimits,
    *,
    active: bool = True,
    now: datetime | None = None,
) -> StaffSession | None:
    """The live session behind a cookie's secret, or None (and ended, if it just ran out).

    ``active``: whether this request is the person's doing; a page refreshing itself in the
    background keeps nothing alive.
    """
    if not raw:
        return None
    now = now or utcnow()
    staff_session = session.exec(
        select(StaffSession).where(StaffSession.token_hash == _hash(raw))
    ).first()
    if staff_session is None or staff_session.operator_id != operator_id:
        return None
    if staff_session.ended_at is not None:
        return None
    if now - staff_session.created_at >= limits.max_age:
        _end(session, staff_session, "expired", now)
        return None
    if now - staff_session.last_seen_at >= limits.idle:
        _end(session, staff_session, "idle", now)
        return None
    if active and now - staff_session.last_seen_at >= LAST_SEEN_PRECISION:
        staff_session.last_seen_at = now
        session.add(staff_session)
        session.commit()
    return staff_session


def _end(session: Session, staff_session: StaffSession, reason: str, now: datetime) -> None:
    staff_session.ended_at, staff_session.ended_reason = now, reason
    session.add(staff_session)
    session.commit()


def end_session(session: Session, raw: str | None, *, now: datetime | None = None) -> None:
    """Log out: the session behind this cookie's secret ends (nothing happens without one)."""
    if not raw:
        return
    session.exec(
        update(StaffSession)
        .where(col(StaffSession.token_hash) == _hash(raw), col(StaffSession.ended_at).is_(None))
        .values(ended_at=now or utcnow(), ended_reason="logout")
    )
    session.commit()


def end_all_sessions(
    session: Session,
    operator_id: int,
    reason: str,
    *,
    keep: str | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> int:
    """End every open session of an account (but ``keep``'s, the secret of the session
    that asked, if given); returns how many ended."""
    if reason not in ENDED_BY_ACCOUNT_CHANGES:
        raise ValueError(f"unknown reason to end sessions: {reason}")
    query = (
        update(StaffSession)
        .where(col(StaffSession.operator_id) == operator_id, col(StaffSession.ended_at).is_(None))
        .values(ended_at=now or utcnow(), ended_reason=reason)
    )
    if keep:
        query = query.where(col(StaffSession.token_hash) != _hash(keep))
    ended = session.exec(query).rowcount  # type: ignore[attr-defined]
    if commit:
        session.commit()
    return ended


def open_sessions(session: Session, operator_id: int) -> list[StaffSession]:
    """The account's sessions that have not ended (some may have run out unnoticed)."""
    return list(
        session.exec(
            select(StaffSession)
            .where(StaffSession.operator_id == operator_id, col(StaffSession.ended_at).is_(None))
            .order_by(col(StaffSession.last_seen_at).desc())
        )
    )


def forget_old_sessions(session: Session, before: datetime) -> int:
    """Delete session records that ended (or were last seen) before ``before``."""
    result = session.exec(
        delete(StaffSession).where(
            or_(col(StaffSession.ended_at) < before, col(StaffSession.last_seen_at) < before)
        )
    )
    session.commit()
    return result.rowcount  # type: ignore[attr-defined]
