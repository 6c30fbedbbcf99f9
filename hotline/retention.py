"""Retention: personal data goes away on time; the statistics keep adding up.

Per line (``[lines.<slug>.retention]``): ``contact_days`` after a request was closed (done
or cancelled) its personal parts are removed: the caller's hash and vault pointer, the
message, notes, transcript and cancel reason, the recording (deleted at the provider
too), the bodies of the SMS about it, the IVR state of its calls, and the free text in its
audit entries. The row itself stays, with line, reference, category, area, urgency,
language, status and timestamps: every figure of ``hotline.statistics`` and
``hotline.overview`` counts it as before. ``volunteer_days`` after a volunteer left
(deactivated) their name and number go; their assignments stay, anonymous. A
volunteer lead (someone who phoned to offer help) goes ``volunteer_days`` after the call.
A vault entry (:class:`Contact`) is deleted once no row uses it any more.

"Forget this resident" (:func:`forget_resident`) does the same at once for every request
of one caller on one line, audited with who, when and why.

Everything works in batches of ids (a town may have 100,000 old requests), is idempotent
(a purged row is marked ``purged_at`` and never selected again), and a recording the
provider could not delete keeps its sid, so that the next purge tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.config import LineSettings, Settings
from hotline.db import get_engine, line_row, session_scope
from hotline.models import (
    Assignment,
    AuditEvent,
    CallSession,
    Contact,
    HelpRequest,
    Line,
    Operator,
    OutboxMessage,
    PurgeRun,
    RequestStatus,
    SmsMessage,
    Volunteer,
    VolunteerLead,
    utcnow,
)
from hotline.outbox import add_work, relay_written
from hotline.privacy import redact_phone_numbers
from hotline.queue import get_redis
from hotline.telephony import Provider, TelephonyError, get_provider
from hotline.triage import cancel_request

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # rows changed per transaction: short locks, bounded memory
CLOSED_STATUSES = (RequestStatus.DONE, RequestStatus.CANCELLED)
# What replaces free text in the audit log: the entry stays, its words go.
REMOVED = "[removed]"
# Audit entries whose detail holds free text typed about a person: action -> keys.
FREE_TEXT_IN_AUDIT = {
    "status": ("reason",),  # why a request was cancelled
    "triaged": ("notes",),  # {"notes": [old, new]}
    "volunteer:created": ("name",),
    "volunteer:updated": ("name",),
}
# Outgoing SMS still waiting to leave are not sent once their request is forgotten.
NOT_SENT = "not_sent"
IN_FLIGHT = "submitting"  # handed to the provider: its outcome is still to be recorded
DAILY_PURGE_JOB = "hotline.retention.daily_purge"
# A purge job stops after this many seconds and queues its continuation: every job must
# end well within the outbox's job timeout (a recording's deletion may take 10 s more).
JOB_TIME_BUDGET = 10.0
FORGOTTEN = "resident_forgotten"  # audit action
FORGOTTEN_REASON = "resident forgotten"  # the cancel reason of a request open when forgotten


class RetentionError(ValueError):
    """A request to forget that cannot be done as asked (e.g. no reason given)."""


@dataclass
class Removed:
    """What a purge removed (or would remove) on one line, in counts only."""

    requests: int = 0  # closed requests made anonymous
    recordings: int = 0  # recordings deleted at the provider
    recordings_kept: int = 0  # the provider could not delete them now: the next run retries
    sms: int = 0  # SMS texts emptied
    call_sessions: int = 0  # calls' IVR state and answers emptied
    volunteers: int = 0  # volunteers who left: name and number removed
    leads: int = 0  # volunteer leads: recording, transcript and number removed
    contacts: int = 0  # phone numbers deleted from the vault

    def add(self, other: Removed | dict) -> None:
        """Add ``other``'s counts to these."""
        values = other if isinstance(other, dict) else asdict(other)
        for each in fields(self):
            setattr(self, each.name, getattr(self, each.name) + int(values.get(each.name, 0)))

    def __bool__(self) -> bool:
        return any(getattr(self, each.name) for each in fields(self))


@dataclass(frozen=True)
class PurgeReport:
    """What one purge removed, per line slug; ``finished`` False: stopped at its time budget."""

    removed: dict[str, Removed]
    finished: bool = True


@dataclass(frozen=True)
class ForgetReport:
    """What "forget this resident" removed."""

    requests: int
    removed: Removed


# --- which rows are due -------------------------------------------------------------------


def _contact_cutoff(line: LineSettings, now: datetime) -> datetime:
    return now - timedelta(days=line.retention.contact_days)


def _volunteer_cutoff(line: LineSettings, now: datetime) -> datetime:
    return now - timedelta(days=line.retention.volunteer_days)


def _old_closed_requests(line_id: int, cutoff: datetime):
    """Requests closed before ``cutoff`` (updated_at: a closed request's last change is its
    closing, or later, so nothing goes early)."""
    return sa.and_(
        HelpRequest.line_id == line_id,
        col(HelpRequest.status).in_(CLOSED_STATUSES),
        col(HelpRequest.updated_at) < cutoff,
    )


def _due_requests(line_id: int, cutoff: datetime):
    return sa.and_(_old_closed_requests(line_id, cutoff), col(HelpRequest.purged_at).is_(None))


def _due_call_sessions(line_id: int, cutoff: datetime):
    """The calls of requests that are due, and calls older than the cutoff unless their
    request is kept."""
    old_closed = select(HelpRequest.id).where(_old_closed_requests(line_id, cutoff))
    kept_request = sa.and_(
        col(CallSession.help_request_id).is_not(None),
        ~col(CallSession.help_request_id).in_(old_closed),
    )
    return sa.and_(
        CallSession.line_id == line_id,
        col(CallSession.purged_at).is_(None),
        sa.or_(
            col(CallSession.help_request_id).in_(old_closed),
            sa.and_(col(CallSession.started_at) < cutoff, ~kept_request),
        ),
    )


def _due_volunteers(line_id: int, cutoff: datetime):
    return sa.and_(
        Volunteer.line_id == line_id,
        col(Volunteer.active).is_(False),
        col(Volunteer.purged_at).is_(None),
        col(Volunteer.updated_at) < cutoff,  # deactivation is their last change, or earlier
    )


def _due_leads(line_id: int, cutoff: datetime):
    return sa.and_(
        VolunteerLead.line_id == line_id,
        col(VolunteerLead.purged_at).is_(None),
        col(VolunteerLead.created_at) < cutoff,
    )


def _unused_contact():
    """A vault entry no row points at any more."""
    users = (
        HelpRequest.contact_id,
        Volunteer.contact_id,
        Operator.contact_id,
        VolunteerLead.contact_id,
        CallSession.contact_id,
    )
    return sa.and_(
        *(~sa.exists().where(column == Contact.id) for column in users)  # type: ignore[arg-type]
    )


def _count(session: Session, model, condition) -> int:
    return session.exec(select(sa.func.count()).select_from(model).where(condition)).one()


def plan_purge(
    session: Session, settings: Settings, now: datetime, *, lines: Iterable[str] | None = None
) -> dict[str, Removed]:
    """What a purge at ``now`` would remove, per line, without changing anything.

    Vault entries are counted when every row using them is due (as if only that line
    were purged); recordings include those an earlier purge could not delete.
    """
    plan = {}
    for slug in _slugs(settings, lines):
        line, line_id = settings.lines[slug], line_row(session, settings, slug).id
        contact_cutoff, volunteer_cutoff = _contact_cutoff(line, now), _volunteer_cutoff(line, now)
        due_requests = _due_requests(line_id, contact_cutoff)
        due_sessions = _due_call_sessions(line_id, contact_cutoff)
        due_volunteers = _due_volunteers(line_id, volunteer_cutoff)
        due_leads = _due_leads(line_id, volunteer_cutoff)
        request_ids = select(HelpRequest.id).where(due_requests)
        volunteer_ids = select(Volunteer.id).where(due_volunteers)
        texts = sa.and_(
            SmsMessage.body != "",
            sa.or_(
                col(SmsMessage.help_request_id).in_(request_ids),
                col(SmsMessage.volunteer_id).in_(volunteer_ids),
            ),
        )
        recordings = _count(
            session,
            HelpRequest,
            sa.and_(
                HelpRequest.line_id == line_id,
                col(HelpRequest.recording_sid).is_not(None),
                sa.or_(due_requests, col(HelpRequest.purged_at).is_not(None)),
            ),
        ) + _count(
            session,
            VolunteerLead,
            sa.and_(
                VolunteerLead.line_id == line_id,
                col(VolunteerLead.recording_sid).is_not(None),
                sa.or_(due_leads, col(VolunteerLead.purged_at).is_not(None)),
            ),
        )
        # A vault entry goes when the rows using it are all due: none is left that is not.
        not_due = sa.and_(
            ~sa.exists().where(HelpRequest.contact_id == Contact.id, ~due_requests),
            ~sa.exists().where(Volunteer.contact_id == Contact.id, ~due_volunteers),
            ~sa.exists().where(VolunteerLead.contact_id == Contact.id, ~due_leads),
            ~sa.exists().where(CallSession.contact_id == Contact.id, ~due_sessions),
            ~sa.exists().where(Operator.contact_id == Contact.id),
        )
        used_by_due = sa.or_(
            sa.exists().where(HelpRequest.contact_id == Contact.id, due_requests),
            sa.exists().where(Volunteer.contact_id == Contact.id, due_volunteers),
            sa.exists().where(VolunteerLead.contact_id == Contact.id, due_leads),
            sa.exists().where(CallSession.contact_id == Contact.id, due_sessions),
        )
        plan[slug] = Removed(
            requests=_count(session, HelpRequest, due_requests),
            recordings=recordings,
            sms=_count(session, SmsMessage, texts),
            call_sessions=_count(session, CallSession, due_sessions),
            volunteers=_count(session, Volunteer, due_volunteers),
            leads=_count(session, VolunteerLead, due_leads),
            contacts=_count(session, Contact, sa.and_(used_by_due, not_due)),
        )
    return plan


def _slugs(settings: Settings, lines: Iterable[str] | None) -> list[str]:
    slugs = list(settings.lines) if lines is None else list(lines)
    unknown = [slug for slug in slugs if slug not in settings.lines]
    if unknown:
        raise RetentionError(f"no line '{unknown[0]}' (lines: {', '.join(settings.lines)})")
    return slugs


# --- purging ------------------------------------------------------------------------------


def purge(
    session: Session,
    settings: Settings,
    provider: Provider,
    now: datetime,
    *,
    lines: Iterable[str] | None = None,
    batch_size: int = BATCH_SIZE,
    time_budget: float | None = None,
) -> PurgeReport:
    """Remove what is due at ``now`` on ``lines`` (default: all), a batch per transaction.

    With ``time_budget`` (seconds) it stops after the batch that runs out of time and
    says so (``finished`` False): call it again to carry on. Each line that lost
    something gets one audit entry with the counts.
    """
    deadline = None if time_budget is None else time.monotonic() + time_budget
    report: dict[str, Removed] = {}
    for slug in _slugs(settings, lines):
        line, line_id = settings.lines[slug], line_row(session, settings, slug).id
        removed = report[slug] = Removed()
        contact_cutoff, volunteer_cutoff = _contact_cutoff(line, now), _volunteer_cutoff(line, now)
        steps: list[tuple[object, object, Callable]] = [
            (HelpRequest, _due_requests(line_id, contact_cutoff), _anonymise_requests),
            (CallSession, _due_call_sessions(line_id, contact_cutoff), _anonymise_call_sessions),
            (Volunteer, _due_volunteers(line_id, volunteer_cutoff), _anonymise_volunteers),
            (VolunteerLead, _due_leads(line_id, volunteer_cutoff), _anonymise_leads),
        ]
        finished = all(  # all() stops at the first step cut short
            _batches(
                session,
                select(model.id).where(due).order_by(model.id),
                lambda ids, anonymise=anonymise, removed=removed: anonymise(
                    session, ids, now, removed
                ),
                batch_size,
                deadline,
            )
            for model, due, anonymise in steps
        ) and delete_recordings(
            session, provider, line_id=line_id, removed=removed, deadline=deadline
        )
        if removed:
            record(session, "retention:purge", operator_id=None, line=slug, **asdict(removed))
            session.commit()
            log.info("purge of line %s: %s", slug, _counts_for_log(removed))
        if not finished:
            return PurgeReport(report, finished=False)
    _erase_traces(session)
    return PurgeReport(report)


def _counts_for_log(removed: Removed) -> str:
    return ", ".join(f"{name} {count}" for name, count in asdict(removed).items() if count)


def _out_of_time(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _batches(
    session: Session,
    ids_query,
    handle: Callable[[list[int]], None],
    batch_size: int,
    deadline: float | None,
) -> bool:
    """Handle the ids ``ids_query`` finds, a batch per transaction, until none is left
    (True) or the deadline passed (False). Handled rows must no longer match the query."""
    while True:
        ids = list(session.exec(ids_query.limit(batch_size)))
        if not ids:
            return True
        _secure_delete(session)
        handle(ids)
        session.commit()
        if _out_of_time(deadline):
            return False


def _in(column, ids: list[int]):
    return col(column).in_(ids)


def _anonymise_requests(
    session: Session, ids: list[int], now: datetime, removed: Removed
) -> set[int]:
    """Remove the personal parts of these requests (not committed); returns nothing left
    to do but the recordings, whose sids stay until the provider confirms the deletion."""
    contact_ids = set(
        session.exec(
            select(HelpRequest.contact_id).where(
                _in(HelpRequest.id, ids), col(HelpRequest.contact_id).is_not(None)
            )
        )
    )
    assignment_ids = select(Assignment.id).where(_in(Assignment.help_request_id, ids))
    about_them = sa.or_(
        _in(SmsMessage.help_request_id, ids), col(SmsMessage.assignment_id).in_(assignment_ids)
    )
    _stop_pending_texts(session, about_them)
    removed.sms += session.execute(
        sa.update(SmsMessage)
        .where(
            about_them,
            SmsMessage.status != IN_FLIGHT,
            sa.or_(SmsMessage.body != "", SmsMessage.response != ""),
        )
        .values(body="", response="")
    ).rowcount
    _cancel_timers(session, list(session.exec(assignment_ids)))
    call_ids = list(
        session.exec(
            select(CallSession.id).where(
                _in(CallSession.help_request_id, ids), col(CallSession.purged_at).is_(None)
            )
        )
    )
    contact_ids |= _anonymise_call_sessions(session, call_ids, now, removed)
    session.execute(
        sa.update(HelpRequest)
        .where(_in(HelpRequest.id, ids))
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
    _scrub_audit(session, _in(AuditEvent.help_request_id, ids))
    removed.requests += len(ids)
    removed.contacts += _delete_unused_contacts(session, contact_ids)
    return contact_ids


def _anonymise_call_sessions(
    session: Session, ids: list[int], now: datetime, removed: Removed
) -> set[int]:
    """Empty these calls' IVR state (typed numbers, answers) and replayed TwiML; returns the
    vault entries they pointed at (the caller deletes those no longer used)."""
    if not ids:
        return set()
    contact_ids = set(
        session.exec(
            select(CallSession.contact_id).where(
                _in(CallSession.id, ids), col(CallSession.contact_id).is_not(None)
            )
        )
    )
    removed.call_sessions += session.execute(
        sa.update(CallSession)
        .where(_in(CallSession.id, ids))
        .values(state={}, last_response="", contact_id=None, purged_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    removed.contacts += _delete_unused_contacts(session, contact_ids)
    return contact_ids


def _anonymise_volunteers(session: Session, ids: list[int], now: datetime, removed: Removed):
    """Volunteers who left long ago: name, number and texts go; their assignments stay."""
    contact_ids = set(
        session.exec(
            select(Volunteer.contact_id).where(
                _in(Volunteer.id, ids), col(Volunteer.contact_id).is_not(None)
            )
        )
    )
    theirs = _in(SmsMessage.volunteer_id, ids)
    _stop_pending_texts(session, theirs)
    removed.sms += session.execute(
        sa.update(SmsMessage)
        .where(
            theirs,
            SmsMessage.status != IN_FLIGHT,
            sa.or_(SmsMessage.body != "", SmsMessage.response != ""),
        )
        .values(body="", response="")
    ).rowcount
    session.execute(
        sa.update(Volunteer)
        .where(_in(Volunteer.id, ids))
        .values(name="", contact_id=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    _scrub_audit(session, _in(AuditEvent.volunteer_id, ids))
    removed.volunteers += len(ids)
    removed.contacts += _delete_unused_contacts(session, contact_ids)


def _anonymise_leads(session: Session, ids: list[int], now: datetime, removed: Removed):
    """Volunteer leads: transcript and number go; the recording once the provider deleted it."""
    contact_ids = set(
        session.exec(
            select(VolunteerLead.contact_id).where(
                _in(VolunteerLead.id, ids), col(VolunteerLead.contact_id).is_not(None)
            )
        )
    )
    session.execute(
        sa.update(VolunteerLead)
        .where(_in(VolunteerLead.id, ids))
        .values(transcript=None, caller_hash=None, contact_id=None, call_sid=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    removed.leads += len(ids)
    removed.contacts += _delete_unused_contacts(session, contact_ids)


def _stop_pending_texts(session: Session, which) -> None:
    """Texts that have not left yet never will: marked not sent (the send job skips them)."""
    pending = list(session.exec(select(SmsMessage.id).where(which, SmsMessage.status == "pending")))
    if not pending:
        return
    session.execute(
        sa.update(SmsMessage)
        .where(_in(SmsMessage.id, pending))
        .values(status=NOT_SENT, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    _cancel_outbox(session, OutboxMessage.payload["sms_id"].as_integer(), pending)


def _cancel_timers(session: Session, assignment_ids: list[int]) -> None:
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


def _scrub_audit(session: Session, which) -> None:
    """Replace the free text in these audit entries (a cancel reason, notes, a name)."""
    events = session.exec(
        select(AuditEvent).where(which, col(AuditEvent.action).in_(FREE_TEXT_IN_AUDIT))
    )
    for event in events:
        keys = [key for key in FREE_TEXT_IN_AUDIT[event.action] if key in event.detail]
        if keys:
            event.detail = {
                key: (REMOVED if key in keys else value) for key, value in event.detail.items()
            }
            session.add(event)


def _delete_unused_contacts(session: Session, contact_ids: set[int]) -> int:
    """Delete these vault entries unless some row still uses them; returns how many went."""
    if not contact_ids:
        return 0
    session.flush()
    return session.execute(
        sa.delete(Contact)
        .where(_in(Contact.id, sorted(contact_ids)), _unused_contact())
        .execution_options(synchronize_session=False)
    ).rowcount


def delete_recordings(
    session: Session,
    provider: Provider,
    *,
    line_id: int,
    removed: Removed,
    deadline: float | None = None,
    request_ids: list[int] | None = None,
    lead_ids: list[int] | None = None,
) -> bool:
    """Delete at the provider the recordings of a line's purged requests and leads (only
    these ``request_ids`` and ``lead_ids`` when either is given).

    A sid is forgotten only once the provider confirms; one it refuses stays for the
    next purge (counted as kept), and a provider that is away or busy ends the pass.
    Returns False when the deadline cut it short.
    """
    only = (
        None
        if request_ids is None and lead_ids is None
        else {
            HelpRequest: request_ids or [],
            VolunteerLead: lead_ids or [],
        }
    )

    def pending(model):
        condition = sa.and_(
            model.line_id == line_id,
            col(model.purged_at).is_not(None),
            col(model.recording_sid).is_not(None),
        )
        return condition if only is None else sa.and_(condition, _in(model.id, only[model]))

    finished, provider_away, done_one = True, False, False
    for model in (HelpRequest, VolunteerLead):
        refused: list[int] = []  # refused for good in this pass: not asked again now
        while finished and not provider_away:
            rows = session.exec(
                select(model.id, model.recording_sid)
                .where(pending(model), ~_in(model.id, refused))
                .order_by(model.id)
                .limit(BATCH_SIZE)
            ).all()
            if not rows:
                break
            for row_id, sid in rows:
                if done_one and _out_of_time(deadline):  # one at least: every pass gets on
                    finished = False
                    break
                done_one = True
                try:
                    provider.delete_recording(sid)
                except TelephonyError as error:
                    log.warning("recording of %s %s kept: %s", model.__tablename__, row_id, error)
                    refused.append(row_id)
                    provider_away = not error.permanent
                    if provider_away:
                        break
                    continue
                session.execute(
                    sa.update(model).where(model.id == row_id).values(recording_sid=None)
                )
                removed.recordings += 1
            session.commit()
    if finished:
        removed.recordings_kept += sum(
            _count(session, m, pending(m)) for m in only or (HelpRequest, VolunteerLead)
        )
    return finished


def _erase_traces(session: Session) -> None:
    """On SQLite, what was removed must not survive in free pages or the write-ahead log.

    secure_delete zeroes what a change frees; a checkpoint writes the WAL back and
    empties it. PostgreSQL's VACUUM does the like on its own schedule.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    session.commit()
    connection = session.connection()
    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    session.commit()


def _secure_delete(session: Session) -> None:
    """On SQLite, zero the bytes that changes free (before changing anything)."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA secure_delete=ON")


# --- "forget this resident" ---------------------------------------------------------------


def forget_resident(
    session: Session,
    *,
    provider: Provider,
    help_request: HelpRequest,
    operator_id: int,
    reason: str,
    now: datetime | None = None,
) -> ForgetReport:
    """Remove one resident from a line at once: every request of theirs there (same caller
    hash or vault entry), their recordings (at the provider too), transcripts, the SMS about
    them, their calls' IVR state, their volunteer-lead calls and, once unused, their number.

    Open requests are cancelled first (their volunteers' offers withdrawn, texts that
    have not left yet not sent). The requests stay as anonymous rows. Audited on each
    request: who, when and why (phone numbers in ``reason`` are redacted). Commits.
    """
    reason = redact_phone_numbers((reason or "").strip())
    if not reason:
        raise RetentionError("say why this resident is forgotten")
    now = now or utcnow()
    line_id, hashed, contact_id = (
        help_request.line_id,
        help_request.caller_hash,
        help_request.contact_id,
    )
    same_person = [HelpRequest.id == help_request.id]
    if hashed:
        same_person.append(HelpRequest.caller_hash == hashed)
    if contact_id:
        same_person.append(HelpRequest.contact_id == contact_id)
    theirs = list(
        session.exec(
            select(HelpRequest)
            .where(HelpRequest.line_id == line_id, sa.or_(*same_person))
            .order_by(HelpRequest.id)
        )
    )
    for each in theirs:
        if each.status not in CLOSED_STATUSES:
            cancel_request(
                session, help_request=each, reason=FORGOTTEN_REASON, operator_id=operator_id
            )
    removed = Removed()
    request_ids = [each.id for each in theirs]
    _secure_delete(session)
    _anonymise_requests(session, request_ids, now, removed)
    session.execute(
        sa.update(HelpRequest)
        .where(_in(HelpRequest.id, request_ids))
        .values(forgotten_at=now)
        .execution_options(synchronize_session=False)
    )
    # Their other calls to this line (a masked call, one that ended before a request).
    if contact_id:
        calls = select(CallSession.id).where(
            CallSession.line_id == line_id,
            CallSession.contact_id == contact_id,
            col(CallSession.purged_at).is_(None),
        )
        _anonymise_call_sessions(session, list(session.exec(calls)), now, removed)
    lead_ids: list[int] = []
    if hashed:
        lead_ids = list(
            session.exec(
                select(VolunteerLead.id).where(
                    VolunteerLead.line_id == line_id, VolunteerLead.caller_hash == hashed
                )
            )
        )
        if lead_ids:
            _anonymise_leads(session, lead_ids, now, removed)
    for each in request_ids:
        detail = {"reason": reason} if each == help_request.id else {"via": help_request.reference}
        record(session, FORGOTTEN, operator_id=operator_id, help_request_id=each, **detail)
    session.commit()
    delete_recordings(
        session,
        provider,
        line_id=line_id,
        removed=removed,
        request_ids=request_ids,
        lead_ids=lead_ids,
    )
    _erase_traces(session)
    for each in theirs:
        session.refresh(each)
    return ForgetReport(requests=len(request_ids), removed=removed)


# --- the daily purge ----------------------------------------------------------------------


def schedule_daily_purges(
    session: Session, settings: Settings, now: datetime, *, seen: dict[str, object] | None = None
) -> list[int]:
    """Write today's purge job for every line whose purge time (local) has passed and that
    has none yet; returns the new PurgeRun ids. Commits.

    At most one run per line and local day, whichever process gets there first: the
    unique (line, day) row decides, in the same transaction as the outbox work, so the
    job is relayed to rq even if this process dies right after. ``seen`` (slug -> day
    already scheduled) spares the database the question on every relay tick.
    """
    seen = {} if seen is None else seen
    scheduled = []
    for slug, line in settings.lines.items():
        local = now.astimezone(ZoneInfo(line.timezone))
        if local.time() < line.retention.purge_at or seen.get(slug) == local.date():
            continue
        line_id = line_row(session, settings, slug).id
        exists = session.exec(
            select(PurgeRun.id).where(PurgeRun.line_id == line_id, PurgeRun.day == local.date())
        ).first()
        if exists is None:
            try:
                with session.begin_nested():
                    run = PurgeRun(line_id=line_id, day=local.date(), scheduled_at=now)
                    session.add(run)
                    session.flush()
                    add_work(session, queue="default", job=DAILY_PURGE_JOB, purge_run_id=run.id)
                session.commit()
                scheduled.append(run.id)
            except sa.exc.IntegrityError:  # another worker scheduled it a moment ago
                session.rollback()
        seen[slug] = local.date()
    return scheduled


def daily_purge(purge_run_id: int) -> bool:
    """rq job: one line's purge of the day, a time budget at a time; the rest is queued
    as a continuation of the same run. Returns whether the run is finished."""
    settings = current_app.extensions["hotline.settings"]
    with session_scope(get_engine()) as session:
        run = session.get(PurgeRun, purge_run_id)
        if run is None or run.finished_at is not None:
            return True  # done before (rq retried a job whose success was not noted)
        slug = session.get(Line, run.line_id).slug
        finished = True
        if slug in settings.lines:  # a line removed from config.toml keeps its data as it is
            report = purge(
                session,
                settings,
                get_provider(),
                utcnow(),
                lines=[slug],
                time_budget=JOB_TIME_BUDGET,
            )
            total = Removed()
            total.add(run.removed or {})
            total.add(report.removed[slug])
            run.removed, finished = asdict(total), report.finished
        if finished:
            run.finished_at = utcnow()
        else:
            add_work(session, queue="default", job=DAILY_PURGE_JOB, purge_run_id=run.id)
        session.add(run)
        session.commit()
        relay_written(session, get_redis)
    return finished
