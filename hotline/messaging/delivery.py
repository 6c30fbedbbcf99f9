"""What became of an SMS: Twilio's delivery reports (``POST /twilio/sms/status``).

Reports arrive late, twice, or out of order; a message's status only moves forward
(queued → sent → delivered or undelivered/failed). An offer that cannot be
delivered is closed as *undelivered* and moves on to the next volunteer; error
21610 (the volunteer texted STOP) also stops all SMS to them.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from hotline.config import Settings
from hotline.messaging.offers import offer_not_delivered
from hotline.messaging.sending import audit_sms, opt_out
from hotline.models import Line, SmsMessage, Volunteer, utcnow

log = logging.getLogger(__name__)

# How far along a message is; a report never moves it back.
STATUS_RANK = {
    "pending": 0,
    "submitting": 0,  # ours: being handed to Twilio (hotline.messaging.sending)
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
    "canceled": 4,
}
FAILED_STATUSES = ("undelivered", "failed")
FINAL_STATUSES = ("delivered", "undelivered", "failed", "read", "canceled")
UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient": they texted STOP


def record_delivery(
    session: Session,
    *,
    settings: Settings,
    message_sid: str,
    status: str,
    error_code: int | None,
    sms_id: int | None = None,
) -> SmsMessage | None:
    """Record a delivery report and act on a failure. Not committed.

    ``sms_id`` comes from the status URL of an answer sent in TwiML, whose sid we learn
    only from this report. Returns the message, or None when it is not ours.
    """
    sms = session.exec(select(SmsMessage).where(SmsMessage.message_sid == message_sid)).first()
    if sms is None and sms_id is not None:
        candidate = session.get(SmsMessage, sms_id)
        # An emptied body: the text was purged, and Twilio's id of it must not come back.
        if (
            candidate is not None
            and candidate.direction == "out"
            and not candidate.message_sid
            and candidate.body
        ):
            sms, sms.message_sid = candidate, message_sid
    if sms is None:
        log.info("delivery report for a message we did not send")
        return None
    final = sms.status in FINAL_STATUSES and status != "read"
    if final or status == sms.status or STATUS_RANK.get(status, 0) < STATUS_RANK.get(sms.status, 0):
        session.add(sms)
        return sms
    sms.status, sms.updated_at = status, utcnow()
    if error_code:
        sms.error_code = error_code
    session.add(sms)
    if status in FAILED_STATUSES:
        message_failed(session, settings=settings, sms=sms, code=error_code)
    return sms


def message_failed(
    session: Session,
    *,
    settings: Settings,
    sms: SmsMessage,
    code: int | None,
    action: str = "sms_undelivered",
    **detail: object,
) -> None:
    """An SMS that did not reach its volunteer: in the history (``action``: undelivered, or
    "sms_not_sent" when Twilio refused it at once), and an offer moves on."""
    audit_sms(session, sms, action, code=code, kind=sms.kind, **detail)
    volunteer = session.get(Volunteer, sms.volunteer_id) if sms.volunteer_id else None
    if volunteer is not None and code == UNSUBSCRIBED:
        opt_out(session, volunteer, why="Twilio: unsubscribed recipient (21610)")
    if sms.kind == "offer" and sms.assignment_id is not None:
        line_row = session.get(Line, sms.line_id)
        line = settings.lines.get(line_row.slug) if line_row else None
        if line is not None:
            offer_not_delivered(session, assignment_id=sms.assignment_id, code=code, line=line)
    log.info("sms %s (%s) not delivered: error %s", sms.id, sms.kind, code)
