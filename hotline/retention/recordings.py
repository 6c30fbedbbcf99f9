"""Deleting recordings at the provider (Twilio's REST API), after their rows were purged.

A sid is forgotten only once the provider confirms the deletion; one it refuses stays for
the next purge, so nothing is lost when Twilio is away.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.models import HelpRequest, VolunteerLead
from hotline.retention.counts import Removed
from hotline.retention.due import count, in_ids
from hotline.telephony import Provider, TelephonyError

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # sids read per query


def out_of_time(deadline: float | None) -> bool:
    """Whether ``deadline`` (a time.monotonic() value; None: no deadline) has passed."""
    return deadline is not None and time.monotonic() > deadline


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
    these ``request_ids`` and ``lead_ids`` when either is given). Commits.

    A sid is forgotten only once the provider confirms; one it refuses stays for the
    next purge (counted as kept), and a provider that is away or busy ends the pass.
    Returns False when the deadline cut it short.
    """
    only = (
        None
        if request_ids is None and lead_ids is None
        else {HelpRequest: request_ids or [], VolunteerLead: lead_ids or []}
    )

    def pending(model):
        condition = sa.and_(
            model.line_id == line_id,
            col(model.purged_at).is_not(None),
            col(model.recording_sid).is_not(None),
        )
        return condition if only is None else sa.and_(condition, in_ids(model.id, only[model]))

    finished, provider_away, done_one = True, False, False
    for model in (HelpRequest, VolunteerLead):
        refused: list[int] = []  # refused for good in this pass: not asked again now
        while finished and not provider_away:
            rows = session.exec(
                select(model.id, model.recording_sid)
                .where(pending(model), ~in_ids(model.id, refused))
                .order_by(model.id)
                .limit(BATCH_SIZE)
            ).all()
            if not rows:
                break
            for row_id, sid in rows:
                if done_one and out_of_time(deadline):  # one at least: every pass gets on
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
            count(session, m, pending(m)) for m in only or (HelpRequest, VolunteerLead)
        )
    return finished
