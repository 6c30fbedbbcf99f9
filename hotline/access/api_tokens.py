"""Tokens for the JSON API: created for an operator, shown once, stored only as a hash.

A token acts as the operator it belongs to (audit entries name that operator);
it stops working when it is revoked or when its operator is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.models import ApiToken, Operator, utcnow

TOKEN_PREFIX = "hlt_"  # recognisable in a leaked config file or a secret scanner
MAX_NAME_LENGTH = 120
# last_used_at is a hint for coordinators ("is this token still in use?"), not a log:
# writing it at most once a minute keeps a busy integration from writing on every read.
LAST_USED_PRECISION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token request that cannot be done (the message says why)."""


def hash_token(raw: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    session: Session, *, operator_id: int, name: str, created_by: int | None = None
) -> str:
    """Create a token for an active operator and return its secret (the only time it is seen).

    ``name`` says what the token is for ("weekly report", "city dashboard");
    ``created_by`` is the staff member who asked (None: the command line), for the audit log.
    """
    name = name.strip()
    if not name:
        raise TokenError("a token needs a name that says what it is for")
    if len(name) > MAX_NAME_LENGTH:
        raise TokenError(f"a token name has at most {MAX_NAME_LENGTH} characters")
    operator = session.get(Operator, operator_id)
    if operator is None or not operator.active:
        raise TokenError("tokens are only made for active staff accounts")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=hash_token(raw), operator_id=operator_id)
    session.add(token)
    session.flush()
    record(
        session,
        "api_token_created",
        operator_id=created_by,
        token_id=token.id,
        name=name,
        for_operator_id=operator_id,
    )
    session.commit()
    return raw


def revoke_token(
    session: Session,
    *,
    token_id: int,
    revoked_by: int | None = None,
    now: datetime | None = None,
) -> ApiToken:
    """Revoke a token for good (revoking twice keeps the first moment); audited."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise TokenError(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.add(token)
        record(
            session,
            "api_token_revoked",
            operator_id=revoked_by,
            token_id=token.id,
            name=token.name,
            for_operator_id=token.operator_id,
        )
        session.commit()
    return token


def list_tokens(session: Session, *, operator_id: int | None = None) -> list[ApiToken]:
    """Tokens (all, or one operator's), newest first; the secrets themselves are not stored."""
    query = select(ApiToken).order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    if operator_id is not None:
        query = query.where(ApiToken.operator_id == operator_id)
    return list(session.exec(query))


def authenticate_token(
    session: Session, raw: str, *, now: datetime | None = None
) -> Operator | None:
    """The active operator a valid, unrevoked token belongs to, else None; notes its use."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(raw))).first()
    if token is None or token.revoked_at is not None:
        return None
    operator = session.get(Operator, token.operator_id)
    if operator is None or not operator.active:
        return None
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        session.add(token)
        session.commit()
    return operator
