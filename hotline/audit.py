"""The audit log: who changed what, and when."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from hotline.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    operator_id: int | None,
    help_request_id: int | None = None,
    volunteer_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the caller's transaction. ``detail`` must hold no phone number."""
    event = AuditEvent(
        action=action,
        operator_id=operator_id,
        help_request_id=help_request_id,
        volunteer_id=volunteer_id,
        detail=detail,
    )
    session.add(event)
    return event


def history(session: Session, *, help_request_id: int) -> list[AuditEvent]:
    """A request's audit trail, oldest first."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.help_request_id == help_request_id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
    )
