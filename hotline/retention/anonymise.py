"""Removing the personal parts of rows, for the purge and for "forget this resident".

Each function changes one kind of row, for a list of ids, in the caller's transaction (it
does not commit) and adds what it removed to a Removed. The rows themselves stay, for the
statistics; the recordings wait for the provider (hotline.retention.recordings).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.models import (
    Assignment,
    AuditEvent,
    BlockedCaller,
    CallSession,
    Contact,
    HelpRequest,
    OutboxMessage,
    SmsMessage,
    Volunteer,
    VolunteerLead,
    utcnow,
)
from hotline.privacy import NUMBER_REVEALED
from hotline.retention.counts import Removed
from hotline.retention.due import in_ids, texts_about_requests, texts_to_empty, unused_contact

# What replaces free text and Twilio's ids in the audit log: the entry stays, its words go.
REMOVED = "[removed]"
# Audit entries whose detail holds free text typed about a person: action -> keys.
FREE_TEXT_IN_AUDIT = {
    "status": ("reason",),  # why a request was cancelled
    "triaged": ("notes",),  # {"notes": [old, new]}
    "volunteer:created": ("name",),
    "volunteer:updated": ("name",),
    "resident_forgotten": ("reason",),  # why a coordinator forgot them
    "caller_blocked": ("reason",),  # why a coordinator blocked the caller
    "caller_unblocked": ("reason",),
}
# Twilio's ids of calls and texts, in any audit entry: they lead to Twilio's own logs of
# the call or text (numbers, times, recordings), so they go with the rest.
SIDS_IN_AUDIT = ("call", "call_sid", "message_sid")
# Outgoing SMS still waiting to leave are not sent once their request is forgotten.
NOT_SENT = "not_sent"
# The vault's audit names the call a number was decrypted for, not the request: entries
# are found by the call's sid within its time (created_at is indexed), plus this margin.
REVEALED_MARGIN = timedelta(hours=1)


def anonymise_requests(
    session: Session, ids: list[int], now: datetime, removed: Removed
) -> set[int]:
    """Remove the personal parts of these requests, their texts, calls and blocks; returns
    the vault entries they used. The recordings' sids stay until the provider deleted them."""
    contact_ids = set(
        session.exec(
            select(HelpRequest.contact_id).where(
                in_ids(HelpRequest.id, ids), col(HelpRequest.contact_id).is_not(None)
            )
        )
    )
    about_them = texts_about_requests(ids)
    stop_pending_texts(session, about_them)
    removed.sms += empty_texts(session, about_them, now)
    cancel_timers(
        session,
        list(session.exec(select(Assignment.id).where(in_ids(Assignment.help_request_id, ids)))),
    )
    call_ids = list(
        session.exec(
            select(CallSession.id).where(
                in_ids(CallSession.help_request_id, ids), col(CallSession.purged_at).is_(None)
            )
        )
    )
    contact_ids |= anonymise_call_sessions(session, call_ids, now, removed)
    session.execute(
        sa.update(HelpRequest)
        .where(in_ids(HelpRequest.id, ids))
        .values(
            message="",
            notes="",
            transcript=None,
            cancel_reason=None,
            caller_hash=None,
            contact_id=None,
            call_sid=None,
            purged_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    scrub_audit(session, in_ids(AuditEvent.help_request_id, ids))
    unlink_blocks(session, in_ids(BlockedCaller.help_request_id, ids))
    removed.requests += len(ids)
    removed.contacts += delete_unused_contacts(session, contact_ids)
    return contact_ids


def anonymise_call_sessions(
    session: Session, ids: list[int], now: datetime, removed: Removed
) -> set[int]:
    """Empty these calls' IVR state (typed numbers, answers) and replayed TwiML, and put a
    placeholder for Twilio's call sid; returns the vault entries they used."""
    if not ids:
        return set()
    rows = session.exec(
        select(
            CallSession.contact_id,
            CallSession.call_sid,
            CallSession.started_at,
            CallSession.updated_at,
        ).where(in_ids(CallSession.id, ids))
    ).all()
    contact_ids = {row.contact_id for row in rows if row.contact_id is not None}
    sids = [row.call_sid for row in rows if row.call_sid.startswith("CA")]
    removed.call_sessions += session.execute(
        sa.update(CallSession)
        .where(in_ids(CallSession.id, ids))
        .values(
            state={},
            last_response="",
            contact_id=None,
            # call_sid is unique and required: "purged-<id>" leads nowhere and a late
            # webhook of the call finds no call (it is answered as a new one, or ignored).
            call_sid=sa.literal("purged-", sa.String) + sa.cast(CallSession.id, sa.String),
            purged_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if sids:
        _scrub_revealed_calls(
            session,
            sids,
            since=min(row.started_at for row in rows) - REVEALED_MARGIN,
            until=max(row.updated_at for row in rows) + REVEALED_MARGIN,
        )
    removed.contacts += delete_unused_contacts(session, contact_ids)
    return contact_ids


def anonymise_volunteers(session: Session, ids: list[int], now: datetime, removed: Removed):
    """Volunteers who left long ago: name, number and texts go; their assignments stay."""
    contact_ids = set(
        session.exec(
            select(Volunteer.contact_id).where(
                in_ids(Volunteer.id, ids), col(Volunteer.contact_id).is_not(None)
            )
        )
    )
    theirs = in_ids(SmsMessage.volunteer_id, ids)
    stop_pending_texts(session, theirs)
    removed.sms += empty_texts(session, theirs, now)
    session.execute(
        sa.update(Volunteer)
        .where(in_ids(Volunteer.id, ids))
        .values(name="", contact_id=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    scrub_audit(session, in_ids(AuditEvent.volunteer_id, ids))
    removed.volunteers += len(ids)
    removed.contacts += delete_unused_contacts(session, contact_ids)


def anonymise_leads(session: Session, ids: list[int], now: datetime, removed: Removed):
    """Volunteer leads: transcript and number go; the recording once the provider deleted it."""
    contact_ids = set(
        session.exec(
            select(VolunteerLead.contact_id).where(
                in_ids(VolunteerLead.id, ids), col(VolunteerLead.contact_id).is_not(None)
            )
        )
    )
    session.execute(
        sa.update(VolunteerLead)
        .where(in_ids(VolunteerLead.id, ids))
        .values(transcript=None, caller_hash=None, contact_id=None, call_sid=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    removed.leads += len(ids)
    removed.contacts += delete_unused_contacts(session, contact_ids)


def empty_texts(session: Session, which, now: datetime) -> int:
    """Empty these texts' bodies and answers and drop Twilio's id of them; returns how many.

    A text in flight (handed to the provider, outcome not yet recorded) is left to its
    send job; a later purge empties it (hotline.retention.due.texts_left_behind).
    """
    return session.execute(
        sa.update(SmsMessage)
        .where(which, texts_to_empty(now))
        .values(body="", response="", message_sid=None)
    ).rowcount


def stop_pending_texts(session: Session, which) -> None:
    """Texts that have not left yet never will: marked not sent (the send job skips them)."""
    pending = list(session.exec(select(SmsMessage.id).where(which, SmsMessage.status == "pending")))
    if not pending:
        return
    session.execute(
        sa.update(SmsMessage)
        .where(in_ids(SmsMessage.id, pending))
        .values(status=NOT_SENT, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    _cancel_outbox(session, OutboxMessage.payload["sms_id"].as_integer(), pending)


def cancel_timers(session: Session, assignment_ids: list[int]) -> None:
    """Timers of these assignments (offer expiry, reminders) that have not run yet."""
    if assignment_ids:
        _cancel_outbox(session, OutboxMessage.payload["assignment_id"].as_integer(), assignment_ids)


def _cancel_outbox(session: Session, key, ids: list[int]) -> None:
    """Mark outbox work on ``ids`` done without doing it: the relay skips it, the sweep too;
    a job rq already holds finds its row changed and does nothing."""
    session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.completed_at).is_(None), key.in_(ids))
        .values(
            completed_at=utcnow(),
            enqueued_at=sa.func.coalesce(OutboxMessage.enqueued_at, utcnow()),
            last_error="cancelled: personal data removed",
        )
        .execution_options(synchronize_session=False)
    )


def scrub_audit(session: Session, which) -> None:
    """Replace the free text (a cancel or block reason, notes, a name) and Twilio's call and
    message ids in these audit entries; who did what, and when, stays."""
    for event in session.exec(select(AuditEvent).where(which)):
        _scrub(session, event, FREE_TEXT_IN_AUDIT.get(event.action, ()) + SIDS_IN_AUDIT)


def _scrub(session: Session, event: AuditEvent, keys: tuple[str, ...]) -> None:
    # Only text: a "call" that is a row id (a dismissed call) says nothing about anyone.
    found = [key for key in keys if isinstance(event.detail.get(key), str | list)]
    if any(event.detail[key] != REMOVED for key in found):
        event.detail = {
            key: (REMOVED if key in found else value) for key, value in event.detail.items()
        }
        session.add(event)


def _scrub_revealed_calls(
    session: Session, sids: list[str], *, since: datetime, until: datetime
) -> None:
    """The vault's audit of numbers decrypted during these calls: the call's sid goes."""
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == NUMBER_REVEALED,
            col(AuditEvent.created_at) >= since,
            col(AuditEvent.created_at) <= until,
            col(AuditEvent.detail)["call"].as_string().in_(sids),
        )
    )
    for event in events:
        _scrub(session, event, ("call",))


def unlink_blocks(session: Session, which) -> int:
    """Blocks stay (by the caller's keyed hash), but no longer say which request they came
    from nor why: that would tie an anonymous request to a caller again."""
    return session.execute(
        sa.update(BlockedCaller)
        .where(which)
        .values(help_request_id=None, reference="", reason=REMOVED)
        .execution_options(synchronize_session=False)
    ).rowcount


def delete_unused_contacts(session: Session, contact_ids: set[int]) -> int:
    """Delete these vault entries unless some row still uses them; returns how many went."""
    if not contact_ids:
        return 0
    session.flush()
    return session.execute(
        sa.delete(Contact)
        .where(in_ids(Contact.id, sorted(contact_ids)), unused_contact())
        .execution_options(synchronize_session=False)
    ).rowcount
