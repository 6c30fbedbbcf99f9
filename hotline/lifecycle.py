"""A help request's life: the allowed status changes, each one written to the audit log."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from hotline.audit import record
from hotline.models import HelpRequest, RequestStatus, utcnow

S = RequestStatus
# new → triaged → assigned → accepted → done; cancelled from anywhere open.
# assigned/accepted may fall back when a volunteer declines or gives up.
TRANSITIONS: dict[str, set[str]] = {
    S.NEW: {S.TRIAGED, S.ASSIGNED, S.CANCELLED},
    S.TRIAGED: {S.ASSIGNED, S.CANCELLED},
    S.ASSIGNED: {S.ACCEPTED, S.TRIAGED, S.DONE, S.CANCELLED},
    S.ACCEPTED: {S.DONE, S.TRIAGED, S.CANCELLED},
    S.DONE: set(),
    S.CANCELLED: set(),
}


OPEN_STATUSES = (S.NEW, S.TRIAGED, S.ASSIGNED, S.ACCEPTED)


class IllegalTransition(ValueError):
    """A status change the life of a request does not allow."""


def can_change(current: str, new: str) -> bool:
    """Whether a request in ``current`` may move to ``new``."""
    return new in TRANSITIONS.get(current, set())


def change_status(
    session: Session,
    help_request: HelpRequest,
    new: str,
    *,
    operator_id: int | None,
    reason: str | None = None,
) -> HelpRequest:
    """Move a request to ``new`` (or raise IllegalTransition); audited, not committed."""
    old = help_request.status
    if not can_change(old, new):
        raise IllegalTransition(f"a request that is {old} cannot become {new}")
    help_request.status = new
    help_request.updated_at = utcnow()
    _follow_status(help_request, new)
    if new == S.CANCELLED:
        help_request.cancel_reason = reason
    session.add(help_request)
    detail = {"from": old, "to": new, **({"reason": reason} if reason else {})}
    record(session, "status", operator_id=operator_id, help_request_id=help_request.id, **detail)
    return help_request


def claim_status(
    session: Session, help_request: HelpRequest, new: str, *, operator_id: int | None
) -> bool:
    """Move a request to ``new`` only if nobody else moved it first; False when someone did.

    One conditional UPDATE decides, so that of two volunteers texting JA in the same
    second exactly one wins: PostgreSQL makes the second wait for the first's row lock
    and re-check the condition; SQLite lets one writer in at a time. Audited, not committed.
    """
    allowed = [status for status, targets in TRANSITIONS.items() if new in targets]
    old = help_request.status
    claimed = session.execute(
        sa.update(HelpRequest)
        .where(col(HelpRequest.id) == help_request.id, col(HelpRequest.status).in_(allowed))
        .values(status=new, updated_at=utcnow())
    ).rowcount
    # The row as it is now: our change, or the one that beat us to it.
    session.refresh(help_request)
    if not claimed:
        return False
    _follow_status(help_request, new)
    session.add(help_request)
    detail = {"from": old if old != new else None, "to": new}
    record(session, "status", operator_id=operator_id, help_request_id=help_request.id, **detail)
    return True


def _follow_status(help_request: HelpRequest, new: str) -> None:
    """The flags that follow a status: first assignment, no volunteer found, follow-up."""
    if new == S.ASSIGNED and help_request.assigned_at is None:
        help_request.assigned_at = help_request.updated_at
    if new in (S.ASSIGNED, S.ACCEPTED, S.DONE, S.CANCELLED):
        help_request.no_volunteer_at = None
    if new != S.ACCEPTED:
        help_request.follow_up_at = None
