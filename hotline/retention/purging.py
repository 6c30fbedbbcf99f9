"""The purge: what is due on a line goes, a batch of rows per transaction.

Idempotent (a purged row is marked ``purged_at`` and never selected again) and resumable:
with a time budget it stops after the batch that ran out of time and is called again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from hotline.access.sessions import forget_old_sessions
from hotline.audit import record
from hotline.config import Settings
from hotline.db import in_batches, line_row
from hotline.models import (
    AuditEvent,
    CallSession,
    HelpRequest,
    SmsMessage,
    Volunteer,
    VolunteerLead,
)
from hotline.retention.anonymise import (
    REMOVED,
    anonymise_call_sessions,
    anonymise_leads,
    anonymise_requests,
    anonymise_volunteers,
    empty_texts,
    scrub_audit,
)
from hotline.retention.counts import Removed
from hotline.retention.due import (
    contact_cutoff,
    due_call_sessions,
    due_leads,
    due_requests,
    due_volunteers,
    in_ids,
    line_slugs,
    texts_left_behind,
    volunteer_cutoff,
)
from hotline.retention.housekeeping import erase_traces, secure_delete
from hotline.retention.recordings import delete_recordings, out_of_time
from hotline.telephony import Provider

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # rows changed per transaction: short locks, bounded memory
# A purge job stops after this many seconds and queues its continuation: every job must
# end well within the outbox's job timeout (a recording's deletion may take 10 s more).
JOB_TIME_BUDGET = 10.0
PURGED = "retention:purge"  # audit action: one entry per line and purge, counts only
FORGOTTEN = "resident_forgotten"  # audit action of "forget this resident"
# Staff sessions (hotline.access.sessions) that ended, or were last seen, this long ago are
# deleted: no session lives that long (idle limit: a shift), and a month of logins is
# enough to answer "who was logged in when" after an incident.
STAFF_SESSIONS_KEPT = timedelta(days=30)


@dataclass(frozen=True)
class PurgeReport:
    """What one purge removed, per line slug; ``finished`` False: stopped at its time budget."""

    removed: dict[str, Removed]
    finished: bool = True


def purge(
    session: Session,
    settings: Settings,
    provider: Provider,
    now: datetime,
    *,
    lines: Iterable[str] | None = None,
    batch_size: int = BATCH_SIZE,
    time_budget: float | None = None,
    audit: bool = True,
) -> PurgeReport:
    """Remove what is due at ``now`` on ``lines`` (default: all), a batch per transaction.

    With ``time_budget`` (seconds) it stops after the batch that runs out of time and
    says so (``finished`` False): call it again to carry on. With ``audit`` each line that
    lost something gets one audit entry with the counts (the daily job writes its own,
    once per run). A finished purge also deletes old staff sessions.
    """
    deadline = None if time_budget is None else time.monotonic() + time_budget
    report: dict[str, Removed] = {}
    for slug in line_slugs(settings, lines):
        removed = report[slug] = Removed()
        finished = purge_line(session, settings, provider, now, slug, removed, batch_size, deadline)
        if removed:
            if audit:
                record_purge(session, slug, removed)
                session.commit()
            log.info("purge of line %s: %s", slug, removed.for_log())
        if not finished:
            return PurgeReport(report, finished=False)
    forget_old_sessions(session, now - STAFF_SESSIONS_KEPT)
    erase_traces(session)
    return PurgeReport(report)


def record_purge(session: Session, slug: str, removed: Removed) -> None:
    """The line's audit entry for a purge: counts only, by the system (not committed)."""
    record(session, PURGED, operator_id=None, line=slug, **asdict(removed))


def purge_line(
    session: Session,
    settings: Settings,
    provider: Provider,
    now: datetime,
    slug: str,
    removed: Removed,
    batch_size: int,
    deadline: float | None,
) -> bool:
    """One line's purge, step by step; False when the deadline cut it short."""
    line, line_id = settings.lines[slug], line_row(session, settings, slug).id
    contact_before, volunteer_before = contact_cutoff(line, now), volunteer_cutoff(line, now)

    def by_ids(handle: Callable[[Session, list[int], datetime, Removed], object]):
        return lambda ids: handle(session, ids, now, removed)

    def empty_left_behind(ids: list[int]) -> None:
        removed.sms += empty_texts(session, in_ids(SmsMessage.id, ids), now)

    forgotten_long_ago = select(HelpRequest.id).where(
        HelpRequest.line_id == line_id, col(HelpRequest.forgotten_at) < contact_before
    )
    steps: list[tuple[object, object, Callable[[list[int]], object]]] = [
        (HelpRequest.id, due_requests(line_id, contact_before), by_ids(anonymise_requests)),
        (
            CallSession.id,
            due_call_sessions(line_id, contact_before),
            by_ids(anonymise_call_sessions),
        ),
        (Volunteer.id, due_volunteers(line_id, volunteer_before), by_ids(anonymise_volunteers)),
        (VolunteerLead.id, due_leads(line_id, volunteer_before), by_ids(anonymise_leads)),
        # Texts an earlier purge left because they were in flight then.
        (SmsMessage.id, texts_left_behind(line_id, now), empty_left_behind),
        # Why a resident was forgotten stays in the audit as long as a request's words do.
        (
            AuditEvent.id,
            (AuditEvent.action == FORGOTTEN)
            & col(AuditEvent.help_request_id).in_(forgotten_long_ago)
            & (col(AuditEvent.detail)["reason"].as_string() != REMOVED),
            lambda ids: scrub_audit(session, in_ids(AuditEvent.id, ids)),
        ),
    ]
    for key, due, handle in steps:
        for ids in in_batches(session, select(key).where(due), key, batch_size):
            secure_delete(session)
            handle(ids)
            session.commit()
            if out_of_time(deadline):
                return False
    return delete_recordings(session, provider, line_id=line_id, removed=removed, deadline=deadline)
