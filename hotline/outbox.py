"""The transactional outbox: work is written with the change that causes it, then relayed to rq.

The database is the source of truth and Redis only the transport, so a Redis that
is down delays work but never loses it: rows stay pending until a relay succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.executions import ExecutionRegistry
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select

from hotline.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

# Backoff for failing jobs: at once, 10 s, 1 min, 5 min, 15 min, 1 h; after that the job
# stays in rq's failed registry where operators can see it. The first retry is immediate
# because it is also how a job abandoned by a killed worker comes back (rq's cleanup of
# its started registry retries it): waiting for the scheduler could cost another minute.
JOB_RETRY = Retry(max=6, interval=[0, 10, 60, 300, 900, 3600])
FAILED_JOB_TTL = 30 * 24 * 3600
# Every job is short (a few queries and at most one request to Twilio, itself limited to
# 10 s). A job still running after this is stopped by rq and retried; a worker killed
# mid-job leaves an execution that expires this long (plus HEARTBEAT_MARGIN) after it began.
JOB_TIMEOUT = 25
# Work queued this long ago and neither finished nor known to rq any more was lost with
# Redis's data (a restart without persistence): the sweep queues it again.
LOST_AFTER = timedelta(seconds=60)
# ... unless it is older than this: then rq's failed registry (30 days) is where it is.
SWEEP_WINDOW = timedelta(days=2)


def add_work(
    session: Session,
    *,
    queue: str,
    job: str,
    run_at: datetime | None = None,
    **payload: int | str,
) -> OutboxMessage:
    """Record work for ``job`` (a dotted path) in the caller's transaction. Ids only.

    With ``run_at`` the work is a timer: rq's scheduler runs it at that moment (a worker
    runs the scheduler), and it survives a Redis restart as long as Redis keeps its data;
    the row itself is the durable record.
    """
    message = OutboxMessage(queue=queue, job=job, payload=payload, run_at=run_at)
    session.add(message)
    session.info["outbox_written"] = True  # tells relay_written() there is something to send
    return message


def relay_written(session: Session, connect: Callable[[], redis.Redis]) -> int:
    """After a commit: relay at once if this session wrote outbox work, else do nothing.

    Best effort: a Redis that is away costs a log line, never an error for the
    caller; the worker's relay sends the rows when Redis is back.
    """
    if not take_written(session):
        return 0
    return relay_safely(session, connect)


def take_written(session: Session) -> bool:
    """Whether ``session`` wrote outbox work since it was last asked (and forget that it did)."""
    return bool(session.info.pop("outbox_written", False))


def relay_safely(session: Session, connect: Callable[[], redis.Redis]) -> int:
    """Relay pending rows now; a Redis that is away costs a log line and leaves them pending."""
    try:
        return relay_pending(session, connect())
    except Exception:
        log.warning("outbox relay deferred: Redis unavailable", exc_info=True)
        session.rollback()
        return 0


def job_id(message: OutboxMessage) -> str:
    """The rq job id of an outbox row: fixed, so a relay that runs twice queues it once."""
    return f"outbox-{message.id}"


def relay_pending(session: Session, connection: redis.Redis, limit: int = 100) -> int:
    """Queue up to ``limit`` pending rows on rq and mark them sent. Returns how many were sent.

    Each row is claimed with a conditional UPDATE before it is queued, so two relays
    (a web process and a worker) never both send it: on PostgreSQL the second waits
    for the first's row lock, on SQLite for its write lock, and then finds it taken.
    rq refuses a second job with the same id (``unique=True``) as a last guard.
    A Redis error stops the relay and is recorded on the row; the row stays pending.
    """
    ids = session.exec(
        select(OutboxMessage.id)
        .where(OutboxMessage.enqueued_at.is_(None))  # type: ignore[union-attr]
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    sent = 0
    for message_id in ids:
        # Claimed and read back in one statement (UPDATE ... RETURNING): the row as it is
        # now, or nothing when another relay took it first.
        message = session.execute(
            CLAIM.values(enqueued_at=utcnow(), last_error=None), {"message_id": message_id}
        ).first()
        if message is None:
            session.rollback()
            continue
        queue = Queue(message.queue, connection=connection)
        try:
            _enqueue(queue, message)
        except DuplicateJobError:
            pass  # already in rq: someone queued it before a crash kept the row pending
        except redis.RedisError as error:
            session.rollback()
            session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    last_error=f"{type(error).__name__}: {error}",
                )
            )
            session.commit()
            # Debug only: the worker's relay says once per outage that Redis is away.
            log.debug("outbox: Redis unavailable, %d row(s) stay pending", len(ids) - sent)
            break
        session.commit()
        _forget_loaded(session, message_id)
        sent += 1
    return sent


def _forget_loaded(session: Session, message_id: int) -> None:
    """A row this session holds as an object (its own work, just written) is read again on
    its next use: the claim changed it behind the ORM's back, and sessions here keep their
    objects across commits."""
    loaded = session.identity_map.get(identity_key(OutboxMessage, message_id))
    if loaded is not None:
        session.expire(loaded)


_OUTBOX = OutboxMessage.__table__
CLAIM = (
    sa.update(_OUTBOX)
    .where(_OUTBOX.c.id == sa.bindparam("message_id"), _OUTBOX.c.enqueued_at.is_(None))
    .values(attempts=_OUTBOX.c.attempts + 1)
    .returning(_OUTBOX.c.id, _OUTBOX.c.queue, _OUTBOX.c.job, _OUTBOX.c.payload, _OUTBOX.c.run_at)
)


def _enqueue(queue: Queue, message: OutboxMessage) -> None:
    """Put one outbox row on rq (at its ``run_at`` if that is still to come)."""
    options = {
        "kwargs": message.payload,
        "job_id": job_id(message),
        "retry": JOB_RETRY,
        "job_timeout": JOB_TIMEOUT,
        "failure_ttl": FAILED_JOB_TTL,
        "on_success": Callback(mark_completed),
        "unique": True,
    }
    if message.run_at is not None and message.run_at > utcnow():
        queue.enqueue_at(message.run_at, message.job, **options)
    else:
        queue.enqueue(message.job, **options)


def mark_completed(job: Job, connection: redis.Redis, result: object, *args, **kwargs) -> None:
    """rq's on_success callback: the outbox row of ``job`` did its work.

    Runs in the worker, inside the app context. Best effort: if the database is away
    now, the sweep finds the row later, queues it again and the job (idempotent) does
    nothing a second time.
    """
    from hotline.db import get_engine, session_scope  # the worker's app engine

    prefix = "outbox-"
    if not job.id.startswith(prefix) or not job.id[len(prefix) :].isdigit():
        return
    try:
        with session_scope(get_engine()) as session:
            session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == int(job.id[len(prefix) :]))
                .values(completed_at=utcnow())
            )
            session.commit()
    except sa.exc.SQLAlchemyError as error:  # the job did succeed: do not fail it now
        log.info("outbox: job %s done, not yet recorded (%s)", job.id, type(error).__name__)


def requeue_lost(
    session: Session, connection: redis.Redis, *, after_id: int = 0, limit: int = 500
) -> tuple[int, int]:
    """Queue again the work that rq lost track of; returns (rows queued again, last id seen).

    Looks at up to ``limit`` rows after ``after_id`` (call again with the id returned, 0
    to start over: a sweep walks all open work, however much is waiting for its timer)
    that were queued more than LOST_AFTER ago and never completed, and asks rq about each:

    - no such job: lost with Redis's data (a restart without persistence);
    - waiting, but in no queue; running, but with no live execution; timed, but in no
      schedule: stranded by a worker killed at the wrong moment, between two of rq's steps;
    - finished: only the note that it did (rq's on_success) was lost; it is noted now.

    Lost and stranded jobs are queued again under the same id (timers at their moment).
    Every job is idempotent, so work that did happen happens no second time.
    """
    now = utcnow()
    rows = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.id > after_id,  # type: ignore[operator]
            OutboxMessage.completed_at.is_(None),  # type: ignore[union-attr]
            OutboxMessage.enqueued_at.is_not(None),  # type: ignore[union-attr]
            OutboxMessage.enqueued_at < now - LOST_AFTER,  # type: ignore[operator]
            OutboxMessage.enqueued_at > now - SWEEP_WINDOW,  # type: ignore[operator]
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0, 0
    states = _job_states(connection, rows)
    requeued = 0
    for message, state in zip(rows, states, strict=True):
        if state == "finished":
            message.completed_at = utcnow()
        elif state in ("lost", "stranded"):
            _enqueue_again(connection, message, exists=state == "stranded")
            message.attempts += 1
            message.enqueued_at = utcnow()
            requeued += 1
        session.add(message)
    session.commit()
    if requeued:
        log.warning("outbox: %d job(s) that rq lost track of were queued again", requeued)
    return requeued, rows[-1].id


def _job_states(connection: redis.Redis, rows: list[OutboxMessage]) -> list[str]:
    """For each row: "lost", "stranded", "finished" or "fine" (rq has it in hand)."""
    with connection.pipeline(transaction=False) as pipeline:
        for message in rows:
            pipeline.hget(Job.key_for(job_id(message)), "status")
        statuses = [status.decode() if status else None for status in pipeline.execute()]
    now = time.time()
    with connection.pipeline(transaction=False) as pipeline:
        for message, status in zip(rows, statuses, strict=True):
            queue = Queue(message.queue, connection=connection)
            identifier = job_id(message)
            if status == "queued":
                pipeline.lpos(queue.key, identifier)
                pipeline.lpos(IntermediateQueue.get_intermediate_queue_key(queue.key), identifier)
            elif status == "started":
                pipeline.zcount(ExecutionRegistry(identifier, connection).key, now, "+inf")
            elif status == "scheduled":
                pipeline.zscore(queue.scheduled_job_registry.key, identifier)
        answers = iter(pipeline.execute())
    states = []
    for status in statuses:
        if status is None:
            states.append("lost")
        elif status == "finished":
            states.append("finished")
        elif status == "queued":
            in_queue, taken = next(answers), next(answers)
            states.append("fine" if in_queue is not None or taken is not None else "stranded")
        elif status == "started":
            states.append("fine" if next(answers) else "stranded")
        elif status == "scheduled":
            states.append("fine" if next(answers) is not None else "stranded")
        else:  # failed (rq's failed registry shows it), deferred, stopped, canceled
            states.append("fine")
    return states


def _enqueue_again(connection: redis.Redis, message: OutboxMessage, *, exists: bool) -> None:
    queue = Queue(message.queue, connection=connection)
    if not exists:
        with contextlib.suppress(DuplicateJobError):  # queued meanwhile by another sweep
            _enqueue(queue, message)
        return
    job = Job.fetch(job_id(message), connection=connection)
    if message.run_at is not None and message.run_at > utcnow():
        queue.schedule_job(job, message.run_at)
    else:
        queue.enqueue_job(job)


def pending_count(session: Session) -> int:
    """How many outbox rows wait to be queued."""
    return session.exec(
        select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.enqueued_at.is_(None))  # type: ignore[union-attr]
    ).one()


class RelayThread(threading.Thread):
    """Relays pending outbox rows every ``interval`` seconds until stopped.

    Runs inside each worker: it catches up on whatever the web processes could
    not queue while Redis was away.
    """

    def __init__(self, relay_once: Callable[[], int], interval: float):
        super().__init__(name="outbox-relay", daemon=True)
        self.relay_once, self.interval = relay_once, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        failing_since: float | None = None  # one line per outage, not one per attempt
        while not self.stopped.is_set():
            try:
                self.relay_once()
            except redis.RedisError:
                pass  # the worker itself says, once, that Redis is away
            except Exception as error:  # keep relaying: one bad moment must not stop it
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning(
                        "outbox relay failing (%s); retrying every %s s",
                        type(error).__name__,
                        self.interval,
                    )
            else:
                if failing_since is not None:
                    waited, failing_since = time.monotonic() - failing_since, None
                    log.warning("outbox relay works again after %.0f s", waited)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
