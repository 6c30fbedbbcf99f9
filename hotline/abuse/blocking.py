"""Blocked callers: a coordinator blocks the caller of a request on its line, by the keyed
hash of their number (nobody sees the number). Their calls then hear one sentence and the
line hangs up; their SMS are ignored. Blocking and unblocking are audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hotline import audit
from hotline.models import BlockedCaller, HelpRequest, Line
from hotline.privacy import redact_personal_details

MAX_REASON = 500


class BlockError(ValueError):
    """A block that cannot be made (the message says why)."""


def is_blocked(session: Session, *, line_slug: str, hashed_caller: str) -> bool:
    """Whether the caller with this keyed hash is blocked on the line ``line_slug``."""
    return (
        session.exec(
            select(BlockedCaller.id)
            .join(Line, col(Line.id) == BlockedCaller.line_id)
            .where(Line.slug == line_slug, BlockedCaller.caller_hash == hashed_caller)
            .limit(1)
        ).first()
        is not None
    )


def block_of(session: Session, help_request: HelpRequest) -> BlockedCaller | None:
    """The block on this request's caller on its line, if there is one."""
    if not help_request.caller_hash:
        return None
    return session.exec(
        select(BlockedCaller).where(
            BlockedCaller.line_id == help_request.line_id,
            BlockedCaller.caller_hash == help_request.caller_hash,
        )
    ).first()


def block_caller(
    session: Session, *, help_request: HelpRequest, operator_id: int, reason: str
) -> BlockedCaller:
    """Block the caller of ``help_request`` on its line (committed); the existing block if
    they are blocked already. Raises BlockError when the request has no caller to block."""
    if not help_request.caller_hash:
        raise BlockError("this request has no caller's number to block (withheld or removed)")
    reason = redact_personal_details(" ".join(reason.split()))[:MAX_REASON]
    if not reason:
        raise BlockError("say why this caller is blocked")
    existing = block_of(session, help_request)
    if existing is not None:
        return existing
    blocked = BlockedCaller(
        line_id=help_request.line_id,
        caller_hash=help_request.caller_hash,
        reason=reason,
        help_request_id=help_request.id,
        reference=help_request.reference,
        blocked_by_id=operator_id,
    )
    session.add(blocked)
    audit.record(
        session, "caller_blocked", operator_id=operator_id, help_request_id=help_request.id,
        reason=reason,
    )  # fmt: skip
    try:
        session.commit()
    except IntegrityError:  # a second coordinator blocked them at the same moment
        session.rollback()
        existing = block_of(session, help_request)
        if existing is None:
            raise
        return existing
    return blocked


def unblock_caller(session: Session, *, blocked: BlockedCaller, operator_id: int) -> None:
    """Lift a block (committed): the caller's next call is answered as anyone's."""
    audit.record(
        session,
        "caller_unblocked",
        operator_id=operator_id,
        help_request_id=blocked.help_request_id,
        reference=blocked.reference,
        reason=blocked.reason,
    )
    session.delete(blocked)
    session.commit()


def blocked_callers(session: Session, *, visible: Any = None) -> list[BlockedCaller]:
    """The blocks the account sees (``visible``: the access policy's
    ``blocked_caller_filter``; None: every line's), newest first."""
    query = select(BlockedCaller)
    if visible is not None:
        query = query.where(visible)
    return list(session.exec(query.order_by(col(BlockedCaller.created_at).desc())))
