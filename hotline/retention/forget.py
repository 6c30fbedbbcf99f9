""" "Forget this resident": one resident's personal data leaves a line at once, audited.

The database part happens in the coordinator's request, in one transaction; deleting the
recordings at the provider and emptying SQLite's write-ahead log wait for nobody: a job
(finish_forgetting) does them moments later, through the outbox.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.db import get_engine, session_scope
from hotline.models import BlockedCaller, CallSession, HelpRequest, VolunteerLead, utcnow
from hotline.outbox import add_work, relay_written
from hotline.privacy import redact_personal_details
from hotline.queue import get_redis
from hotline.retention.anonymise import (
    anonymise_call_sessions,
    anonymise_leads,
    anonymise_requests,
    unlink_blocks,
)
from hotline.retention.counts import Removed
from hotline.retention.due import CLOSED_STATUSES, RetentionError, in_ids
from hotline.retention.housekeeping import erase_traces, secure_delete
from hotline.retention.purging import FORGOTTEN, JOB_TIME_BUDGET
from hotline.retention.recordings import delete_recordings
from hotline.telephony import get_provider
from hotline.triage import cancel_request

FORGOTTEN_REASON = "resident forgotten"  # the cancel reason of a request open when forgotten
# The job that deletes the recordings at the provider (a dotted path, stored in the outbox).
FINISH_FORGETTING_JOB = "hotline.retention.forget.finish_forgetting"


@dataclass(frozen=True)
class ForgetReport:
    """What "forget this resident" removed (recordings: by the job that follows)."""

    requests: int
    removed: Removed


def residents_requests(session: Session, help_request: HelpRequest) -> list[HelpRequest]:
    """The requests forgotten with this one: every request on its line of the same caller
    (same keyed hash, or same vault entry), oldest first."""
    same_person = [HelpRequest.id == help_request.id]
    if help_request.caller_hash:
        same_person.append(HelpRequest.caller_hash == help_request.caller_hash)
    if help_request.contact_id:
        same_person.append(HelpRequest.contact_id == help_request.contact_id)
    return list(
        session.exec(
            select(HelpRequest)
            .where(HelpRequest.line_id == help_request.line_id, sa.or_(*same_person))
            .order_by(col(HelpRequest.id))
        )
    )


def forget_resident(
    session: Session,
    *,
    help_request: HelpRequest,
    operator_id: int,
    reason: str,
    now: datetime | None = None,
) -> ForgetReport:
    """Remove one resident from a line at once: every request of theirs there
    (residents_requests), transcripts, the SMS about them, their calls' IVR state, their
    volunteer-lead calls, the reasons and links of their blocks and, once unused, their
    number. Their recordings are deleted at the provider by a job queued here.

    Open requests are cancelled first (their volunteers' offers withdrawn, texts that
    have not left yet not sent). The requests stay as anonymous rows. Audited on each
    request: who, when and why (numbers and e-mail addresses in ``reason`` are
    redacted). Commits; relay the outbox afterwards (the caller's connection to Redis).
    """
    reason = redact_personal_details((reason or "").strip())
    if not reason:
        raise RetentionError("say why this resident is forgotten")
    now = now or utcnow()
    line_id, hashed, contact_id = (
        help_request.line_id,
        help_request.caller_hash,
        help_request.contact_id,
    )
    theirs = residents_requests(session, help_request)
    for each in theirs:
        if each.status not in CLOSED_STATUSES:
            cancel_request(
                session, help_request=each, reason=FORGOTTEN_REASON, operator_id=operator_id
            )
    removed = Removed()
    request_ids = [each.id for each in theirs]
    secure_delete(session)
    anonymise_requests(session, request_ids, now, removed)
    session.execute(
        sa.update(HelpRequest)
        .where(in_ids(HelpRequest.id, request_ids))
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
        anonymise_call_sessions(session, list(session.exec(calls)), now, removed)
    if hashed:
        lead_ids = list(
            session.exec(
                select(VolunteerLead.id).where(
                    VolunteerLead.line_id == line_id, VolunteerLead.caller_hash == hashed
                )
            )
        )
        if lead_ids:
            anonymise_leads(session, lead_ids, now, removed)
        # A block stays (by hash: they still cannot call), without its reason or request.
        unlink_blocks(
            session, (BlockedCaller.line_id == line_id) & (BlockedCaller.caller_hash == hashed)
        )
    for each in request_ids:
        detail = {"reason": reason} if each == help_request.id else {"via": help_request.reference}
        record(session, FORGOTTEN, operator_id=operator_id, help_request_id=each, **detail)
    add_work(session, queue="default", job=FINISH_FORGETTING_JOB, line_id=line_id)
    session.commit()
    for each in theirs:
        session.refresh(each)
    return ForgetReport(requests=len(request_ids), removed=removed)


def finish_forgetting(line_id: int) -> bool:
    """rq job: delete at the provider the recordings of the line's purged (and forgotten)
    requests and leads, then empty SQLite's write-ahead log; returns whether all went.

    A recording the provider refuses now keeps its sid: the nightly purge tries again.
    Out of time, the job queues its own continuation.
    """
    with session_scope(get_engine()) as session:
        removed = Removed()
        finished = delete_recordings(
            session,
            get_provider(),
            line_id=line_id,
            removed=removed,
            deadline=time.monotonic() + JOB_TIME_BUDGET,
        )
        if not finished:
            add_work(session, queue="default", job=FINISH_FORGETTING_JOB, line_id=line_id)
            session.commit()
            relay_written(session, get_redis)
        erase_traces(session)
    return finished
