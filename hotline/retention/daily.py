"""The nightly purge: each line's run is scheduled once per local day, by whichever worker
sees its time first, and done by an rq job in short steps, each claimed by one delivery."""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, col, select

from hotline.config import Settings
from hotline.db import get_engine, line_row, session_scope
from hotline.models import Line, PurgeRun, utcnow
from hotline.outbox import JOB_TIMEOUT, add_work, relay_written
from hotline.queue import get_redis
from hotline.retention.counts import Removed
from hotline.retention.purging import BATCH_SIZE, JOB_TIME_BUDGET, purge, record_purge
from hotline.telephony import get_provider

log = logging.getLogger(__name__)

# The job's dotted path, stored in outbox rows: keep it (hotline.retention re-exports it).
DAILY_PURGE_JOB = "hotline.retention.daily_purge"
# A step is claimed for as long as a job may run (rq stops it at JOB_TIMEOUT): a claim
# older than that was its worker's, which died; the next delivery (rq's retry) takes over.
CLAIM_LASTS = timedelta(seconds=JOB_TIMEOUT)


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
                    add_work(
                        session, queue="default", job=DAILY_PURGE_JOB, purge_run_id=run.id, step=0
                    )
                session.commit()
                scheduled.append(run.id)
            except sa.exc.IntegrityError:  # another worker scheduled it a moment ago
                session.rollback()
        seen[slug] = local.date()
    return scheduled


def daily_purge(purge_run_id: int, step: int = 0) -> bool:
    """rq job: one step of a line's purge of the day (a time budget's worth); the rest is
    queued as the next step of the same run. Returns whether the run is finished.

    A step is claimed first (a conditional UPDATE): a second delivery of the same job
    (rq may deliver twice) finds it claimed or done and does nothing. The line's audit
    entry is written once, with the run's totals, by the step that finishes it.
    """
    settings = current_app.extensions["hotline.settings"]
    with session_scope(get_engine()) as session:
        claim = _claim_step(session, purge_run_id, step, utcnow())
        if claim is None:
            run = session.get(PurgeRun, purge_run_id)
            log.info("purge run %s, step %s: done or being done already", purge_run_id, step)
            return run is None or run.finished_at is not None
        run = session.get(PurgeRun, purge_run_id, populate_existing=True)
        slug = session.get(Line, run.line_id).slug
        total = Removed()
        total.add(run.removed or {})
        finished = True
        if slug in settings.lines:  # a line removed from config.toml keeps its data as it is
            report = purge(
                session,
                settings,
                get_provider(),
                utcnow(),
                lines=[slug],
                batch_size=BATCH_SIZE,
                time_budget=JOB_TIME_BUDGET,
                audit=False,
            )
            total.add(report.removed[slug])
            finished = report.finished
        ended = session.execute(
            sa.update(PurgeRun)
            .where(PurgeRun.id == purge_run_id, PurgeRun.claim == claim)
            .values(
                removed=asdict(total),
                step=step + 1,
                claim=None,
                claimed_until=None,
                finished_at=utcnow() if finished else None,
            )
        ).rowcount
        if not ended:  # overran its claim, and another delivery took the step over
            session.rollback()
            return False
        if finished:
            if total:
                record_purge(session, slug, total)
        else:
            add_work(
                session, queue="default", job=DAILY_PURGE_JOB, purge_run_id=run.id, step=step + 1
            )
        session.commit()
        relay_written(session, get_redis)
    return finished


def _claim_step(session: Session, run_id: int, step: int, now: datetime) -> str | None:
    """Claim ``step`` of a run for this delivery (committed); its token, or None when the
    run is finished, further along, or the step claimed by a delivery still running."""
    token = secrets.token_hex(8)
    claimed = session.execute(
        sa.update(PurgeRun)
        .where(
            PurgeRun.id == run_id,
            col(PurgeRun.finished_at).is_(None),
            PurgeRun.step == step,
            sa.or_(col(PurgeRun.claimed_until).is_(None), col(PurgeRun.claimed_until) < now),
        )
        .values(claim=token, claimed_until=now + CLAIM_LASTS)
    ).rowcount
    session.commit()
    return token if claimed else None
