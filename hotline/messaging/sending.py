"""Sending SMS to volunteers: each text is a row, written with the change that causes it.

``queue_text`` adds an ``sms_message`` row (pending) and outbox work for it in the
caller's transaction; the ``send_sms`` job sends it through the provider, from the
line's SMS sender, with a status callback, and records Twilio's message sid.

Exactly once, whatever crashes when. Sending is three steps, each its own commit:

1. The intent: the row goes from ``pending`` to ``submitting`` with ``submitted_at``
   (a conditional UPDATE: of two runs, one wins).
2. The provider is asked to send.
3. The answer: the sid is recorded and the row becomes ``queued``.

A crash (a killed worker, a lost connection, a database gone) between 1 and 3 leaves
the row ``submitting``: whether the provider got the message is then unknown, so the
retried job does not send blindly. It first asks the provider which messages went to
that number with that body since ``submitted_at``; one found (and not already another
row's) is recorded as this row's, and nothing is sent. Only when none is found is it
sent. The job waits SUBMIT_LEASE after ``submitted_at`` before asking, so that an
attempt still under way (a worker that is slow, not dead) cannot be overtaken: the
job's own timeout is shorter than the lease, so by then that attempt has ended. A row
in any other state is never sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.config import Settings
from hotline.models import (
    Assignment,
    Contact,
    Line,
    SmsMessage,
    Volunteer,
    VolunteerApplication,
    utcnow,
)
from hotline.outbox import JOB_TIMEOUT, add_work
from hotline.privacy import reveal_number
from hotline.telephony import Provider, TelephonyError

log = logging.getLogger(__name__)

SEND_SMS_JOB = "hotline.jobs.send_sms"
PENDING, SUBMITTING = "pending", "submitting"
# Longer than a job may run (rq stops it after JOB_TIMEOUT): after this, an attempt that
# left a row "submitting" is over, and the provider can be asked whether it sent it.
SUBMIT_LEASE = timedelta(seconds=JOB_TIMEOUT + 5)
# How much earlier than our submitted_at the provider's clock may date the message.
CLOCK_SKEW = timedelta(minutes=5)
STATUS_CALLBACK_PATH = "/twilio/sms/status"
SMS_SENT = "sms_sent"  # audit action: the detail holds the provider's message_sid
SMS_NOT_SENT = "sms_not_sent"  # audit action: the detail's reason says why, as one of:
OFFER_CLOSED = "offer_closed"  # withdrawn or answered before the SMS left
OPTED_OUT = "opted_out"  # the volunteer texted STOP
NO_NUMBER = "no_number"  # no mobile number in the vault
NO_SENDER = "no_sender"  # the line has no sms_from or messaging_service_sid


@dataclass(frozen=True)
class SendResult:
    """What became of one text: sent (with its sid), skipped, or refused for good."""

    sms: SmsMessage | None
    message_sid: str | None = None
    refused_code: int | None = None  # the provider refused it for good (e.g. 21610)
    reason: str = ""  # the provider's words, without phone numbers

    @property
    def refused(self) -> bool:
        return self.refused_code is not None


def queue_text(
    session: Session,
    *,
    volunteer: Volunteer | None = None,
    application: VolunteerApplication | None = None,
    kind: str,
    body: str,
    help_request_id: int | None = None,
    assignment_id: int | None = None,
) -> SmsMessage:
    """Write a text to ``volunteer`` (or to someone signing up, ``application``) and the work
    to send it, in the caller's transaction."""
    addressee = volunteer if volunteer is not None else application
    if addressee is None:
        raise ValueError("queue_text: a volunteer or an application is needed")
    sms = SmsMessage(
        line_id=addressee.line_id,
        volunteer_id=volunteer.id if volunteer is not None else None,
        application_id=application.id if application is not None else None,
        help_request_id=help_request_id,
        assignment_id=assignment_id,
        direction="out",
        kind=kind,
        body=body,
        status=PENDING,
    )
    session.add(sms)
    session.flush()
    add_work(session, queue="messages", job=SEND_SMS_JOB, sms_id=sms.id)
    return sms


def status_callback_url(settings: Settings) -> str:
    """Where Twilio reports what became of a message (the public contract's URL)."""
    return settings.public_base_url + STATUS_CALLBACK_PATH


def send_text(
    session: Session, *, settings: Settings, provider: Provider, sms_id: int
) -> SendResult:
    """Send one pending text, exactly once (see the module's docstring).

    Commits the intent before asking the provider; the outcome is added to ``session``
    for the caller to commit. Not sent (and never retried): a volunteer who texted STOP,
    one without a number, a line without an SMS sender, an offer withdrawn before it
    left. A provider that is busy or away raises TelephonyError so that rq retries; one
    that refuses for good is recorded on the row and returned (``refused``): the caller
    acts on it (``hotline.messaging.delivery.message_failed``).
    """
    sms = session.get(SmsMessage, sms_id)
    if sms is None or sms.status not in (PENDING, SUBMITTING):
        return SendResult(sms)
    # The addressee: a volunteer, or someone signing up who is none yet (their code).
    volunteer = session.get(Volunteer, sms.volunteer_id) if sms.volunteer_id else None
    addressee = volunteer or (
        session.get(VolunteerApplication, sms.application_id) if sms.application_id else None
    )
    contact_id = addressee.contact_id if addressee is not None else None
    contact = session.get(Contact, contact_id) if contact_id else None
    if sms.status == SUBMITTING:
        if sms.submitted_at > utcnow() - SUBMIT_LEASE:
            raise SendingUnderWay(f"sms {sms.id}: an earlier attempt may still be under way")
        if contact is not None:
            found = _sent_by_earlier_attempt(session, settings, provider, sms, contact)
            if found is not None:
                return _recorded(session, sms, found, recovered=True)
    line_row = session.get(Line, sms.line_id)
    line = settings.lines.get(line_row.slug) if line_row else None
    assignment = session.get(Assignment, sms.assignment_id) if sms.assignment_id else None
    if sms.kind == "offer" and assignment is not None and assignment.status != "offered":
        # Withdrawn (or answered another way) before the SMS left: nothing to ask any more.
        return _not_sent(session, sms, OFFER_CLOSED)
    if volunteer is not None and volunteer.sms_opted_out_at is not None:
        return _not_sent(session, sms, OPTED_OUT)
    if contact is None:
        return _not_sent(session, sms, NO_NUMBER)
    if line is None or not line.sends_sms:
        return _not_sent(session, sms, NO_SENDER)
    if not _claim(session, sms):
        return SendResult(sms)  # another run got there first
    try:
        message_sid = provider.send_sms(
            to=_volunteer_number(session, settings, sms, contact, "sms_to_volunteer"),
            from_=line.sms_from or None,
            messaging_service_sid=line.messaging_service_sid or None,
            body=sms.body,
            # The row's id too: a report may come back before this job has committed the sid.
            status_callback=f"{status_callback_url(settings)}?sms={sms.id}",
        )
    except TelephonyError as error:
        if not error.permanent:
            _attempt_ended(session, sms, refused=error.status is not None)
            raise  # busy or away: rq retries with backoff
        # Refused for good (an invalid number, a volunteer who texted STOP): retrying
        # cannot help; the request's history tells operators to phone instead.
        sms.status, sms.error_code, sms.updated_at = "failed", error.code, utcnow()
        session.add(sms)
        log.warning("sms %s: refused for good (%s)", sms.id, error.code)
        return SendResult(sms, refused_code=error.code or 0, reason=str(error))
    return _recorded(session, sms, message_sid)


class SendingUnderWay(TelephonyError):
    """A text is being handed to the provider by another attempt: rq retries this one later."""


def _claim(session: Session, sms: SmsMessage) -> bool:
    """Step 1: commit that this text is being handed to the provider now."""
    claimed = session.execute(
        sa.update(SmsMessage)
        .where(
            col(SmsMessage.id) == sms.id,
            col(SmsMessage.status) == sms.status,
            # A "submitting" row is taken over only by the run that saw its submitted_at.
            col(SmsMessage.submitted_at).is_(None)
            if sms.submitted_at is None
            else col(SmsMessage.submitted_at) == sms.submitted_at,
        )
        .values(status=SUBMITTING, submitted_at=utcnow(), updated_at=utcnow())
    ).rowcount
    session.commit()
    session.refresh(sms)
    return bool(claimed)


def _attempt_ended(session: Session, sms: SmsMessage, *, refused: bool) -> None:
    """The provider call failed without sending for good; commit what we know.

    Refused with an HTTP error: the provider created nothing, the text is pending again.
    Not reached or no answer: unknown whether it went; the row stays "submitting", dated
    back by the lease so that the next attempt asks the provider at once.
    """
    values = (
        {"status": PENDING, "submitted_at": None}
        if refused
        else {"submitted_at": utcnow() - SUBMIT_LEASE}
    )
    session.execute(
        sa.update(SmsMessage)
        .where(col(SmsMessage.id) == sms.id, col(SmsMessage.status) == SUBMITTING)
        .values(**values)
    )
    session.commit()


def _sent_by_earlier_attempt(
    session: Session, settings: Settings, provider: Provider, sms: SmsMessage, contact: Contact
) -> str | None:
    """Ask the provider whether an attempt cut short did send this text; its sid if so."""
    candidates = provider.find_sent_sms(
        to=_volunteer_number(session, settings, sms, contact, "sms_check"),
        body=sms.body,
        since=sms.submitted_at - SUBMIT_LEASE - CLOCK_SKEW,
    )
    if not candidates:
        return None
    taken = set(
        session.exec(
            select(SmsMessage.message_sid).where(col(SmsMessage.message_sid).in_(candidates))
        ).all()
    )
    return next((sid for sid in candidates if sid not in taken), None)


def _volunteer_number(
    session: Session, settings: Settings, sms: SmsMessage, contact: Contact, reason: str
) -> str:
    """The volunteer's number, decrypted for this text (audited; committed with the outcome)."""
    return reveal_number(
        session,
        contact,
        settings.secrets,
        reason=reason,
        line_id=sms.line_id,
        help_request_id=sms.help_request_id,
        assignment_id=sms.assignment_id,
        volunteer_id=sms.volunteer_id,
        job="send_sms",
    )


def _recorded(
    session: Session, sms: SmsMessage, message_sid: str, *, recovered: bool = False
) -> SendResult:
    """Step 3: the provider has the text; record its sid (added, not committed)."""
    # Only if no delivery report came first (it records the sid and a later status itself).
    session.execute(
        sa.update(SmsMessage)
        .where(col(SmsMessage.id) == sms.id, col(SmsMessage.status) == SUBMITTING)
        .values(message_sid=message_sid, status="queued", updated_at=utcnow())
    )
    session.refresh(sms)
    detail = {"recovered": True} if recovered else {}
    audit_sms(session, sms, SMS_SENT, message_sid=message_sid, kind=sms.kind, **detail)
    if recovered:
        log.warning("sms %s: an interrupted attempt had sent it; not sent again", sms.id)
    else:
        to = (
            f"volunteer {sms.volunteer_id}" if sms.volunteer_id else f"sign-up {sms.application_id}"
        )
        log.info("sms %s (%s) sent to %s", sms.id, sms.kind, to)
    return SendResult(sms, message_sid=message_sid)


def opt_out(session: Session, volunteer: Volunteer, *, why: str) -> bool:
    """The volunteer wants no SMS (STOP, or Twilio says they are unsubscribed). Not committed."""
    if volunteer.sms_opted_out_at is not None:
        return False
    volunteer.sms_opted_out_at = utcnow()
    session.add(volunteer)
    record(session, "sms_opted_out", operator_id=None, volunteer_id=volunteer.id, why=why)
    return True


def opt_in(session: Session, volunteer: Volunteer) -> bool:
    """The volunteer texted START (or a bare YES): SMS may be sent again. Not committed."""
    if volunteer.sms_opted_out_at is None:
        return False
    volunteer.sms_opted_out_at = None
    session.add(volunteer)
    record(session, "sms_opted_in", operator_id=None, volunteer_id=volunteer.id)
    return True


def _not_sent(session: Session, sms: SmsMessage, reason: str) -> SendResult:
    sms.status, sms.updated_at = "not_sent", utcnow()
    session.add(sms)
    audit_sms(session, sms, SMS_NOT_SENT, reason=reason)
    log.info("sms %s (%s) not sent: %s", sms.id, sms.kind, reason)
    return SendResult(sms)


def audit_sms(session: Session, sms: SmsMessage, action: str, **detail: object) -> None:
    """Put what happened to a text in its request's history (texts of no request: not)."""
    if sms.help_request_id is None:
        return  # a how-to or a reminder of no request: the conversation shows it
    record(
        session,
        action,
        operator_id=None,
        help_request_id=sms.help_request_id,
        volunteer_id=sms.volunteer_id,
        assignment_id=sms.assignment_id,
        **detail,
    )
