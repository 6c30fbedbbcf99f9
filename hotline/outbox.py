"""The transactional outbox: work is written with the change that causes it, then relayed to rq.

The database is the source of truth and Redis only the transport, so a Redis that
is down delays work but never loses it: rows stay pending until a relay succeeds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

import redis
import sqlalchemy as sa
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from sqlmodel import Session, select

from hotline.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

# Backoff for failing jobs: 10 s, 1 min, 5 min, 15 min, 1 h; after that the job
# stays in rq's failed registry where operators can see it.
JOB_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])
FAILED_JOB_TTL = 30 * 24 * 3600


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
    if not session.info.pop("outbox_written", False):
        return 0
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
        claimed = session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.enqueued_at.is_(None))  # type: ignore[union-attr]
            .values(enqueued_at=utcnow(), attempts=OutboxMessage.attempts + 1)
        ).rowcount
        if not claimed:
            session.rollback()
            continue
        message = session.get(OutboxMessage, message_id, populate_existing=True)
        queue = Queue(message.queue, connection=connection)
        options = {
            "kwargs": message.payload,
            "job_id": job_id(message),
            "retry": JOB_RETRY,
            "failure_ttl": FAILED_JOB_TTL,
            "unique": True,
        }
        try:
            if message.run_at is not None and message.run_at > utcnow():
                queue.enqueue_at(message.run_at, message.job, **options)
            else:
                queue.enqueue(message.job, **options)
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
            log.warning("outbox: Redis unavailable, %d row(s) stay pending", len(ids) - sent)
            break
        message.last_error = None
        session.add(message)
        session.commit()
        sent += 1
    return sent


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
        while not self.stopped.is_set():
            try:
                self.relay_once()
            except Exception:  # keep relaying: one bad moment must not stop the transport
                log.exception("outbox relay failed; retrying in %s s", self.interval)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
