"""The worker process: an rq worker inside the app, plus the outbox relay beside it.

It rides out outages: while Redis is away it waits (one log line when it goes, one when
it is back) and carries on with the same registration, scheduler and relay; a database
that goes away fails the jobs of that moment, which rq retries with backoff, and costs
the relay one log line per outage.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from flask import Flask
from rq import Queue, SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers
from rq.scheduler import RQScheduler
from rq.utils import now as rq_now
from sqlmodel import Session

from hotline.db import database_unreachable, session_scope
from hotline.models import utcnow
from hotline.outbox import RelayThread, relay_pending, requeue_lost
from hotline.queue import QUEUE_NAMES, get_queue, get_redis
from hotline.retention.daily import schedule_daily_purges

log = logging.getLogger(__name__)

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)
# Seconds between heartbeats of an idle worker is WORKER_TTL - 15 (rq's rule); /ready
# counts a worker alive while its last heartbeat is recent.
WORKER_TTL = 30
# How often rq looks for jobs whose worker died (its maintenance pass). rq's default is
# ten minutes; a killed worker's job must come back within a minute.
MAINTENANCE_INTERVAL = 10
# A job's execution expires this long after its timeout (rq's SimpleWorker adds a minute):
# the worker runs one job at a time and every job has a timeout, so a worker that is
# still alive has stopped the job by then.
HEARTBEAT_MARGIN = 5
# A job taken off a queue and not started this long after a maintenance pass first saw
# it was taken by a worker that died (rq's own rule waits a minute).
STUCK_AFTER = timedelta(seconds=5)
# How long to wait between attempts to reach Redis or the database again: 1 s, doubling,
# at most this.
MAX_WAIT = 5.0


def relay_once(app: Flask, *, daily: bool = False, now: datetime | None = None) -> int:
    """Relay pending outbox work, and queue again work Redis lost; returns rows queued.

    With ``daily`` (a long-running worker's relay) then write the daily work that is due
    at ``now`` (default: now; hotline.retention's purge), once per line and day across all
    workers. A failure there is logged and the relay carries on: texts and timers must
    never wait for a purge."""
    with app.app_context(), session_scope(app.extensions["hotline.engine"]) as session:
        connection = get_redis(app)
        sent = relay_pending(session, connection)
        # The sweep walks the open work a batch per relay, then starts over (cursor 0).
        after = app.extensions.get("hotline.sweep_after", 0)
        requeued, app.extensions["hotline.sweep_after"] = requeue_lost(
            session, connection, after_id=after
        )
        if daily and _schedule_daily_work(app, session, now or utcnow()):
            sent += relay_pending(session, connection)  # the new run's job leaves at once
        return sent + requeued


def _schedule_daily_work(app: Flask, session: Session, now: datetime) -> list[int]:
    """schedule_daily_purges, failing quietly: one log line (no data, only the error's
    type) when it starts failing, one when it works again. Returns the new runs' ids."""
    failing = app.extensions.get("hotline.daily_work_failing", False)
    try:
        seen = app.extensions.setdefault("hotline.purges_scheduled", {})
        scheduled = schedule_daily_purges(
            session, app.extensions["hotline.settings"], now, seen=seen
        )
    except Exception as error:
        session.rollback()
        if not failing:
            log.warning(
                "daily purges not scheduled (%s); the relay carries on, retrying each tick",
                type(error).__name__,
            )
        app.extensions["hotline.daily_work_failing"] = True
        return []
    if failing:
        log.warning("daily purges are scheduled again")
        app.extensions["hotline.daily_work_failing"] = False
    return scheduled


def _relay_noting_outages(app: Flask, *, daily: bool = False) -> int:
    """relay_once, for the worker: a database that is away is an outage, said once."""
    try:
        relayed = relay_once(app, daily=daily)
    except redis.RedisError:
        return 0  # the worker's own loop waits for Redis, and says so
    except sa.exc.SQLAlchemyError as error:
        DATABASE.down(error)
        return 0
    DATABASE.up()
    return relayed


def stop_when_parent_exits(parent_pid: int, interval: float = 1.0) -> threading.Thread:
    """Send ourselves SIGTERM (rq's warm shutdown) once ``parent_pid`` is gone."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=watch, name="parent-watch", daemon=True)
    watcher.start()
    return watcher


class Outage:
    """One log line when a service goes away and one when it is back, whoever notices
    (the worker between jobs, a job, the relay thread), however long it lasts."""

    def __init__(self, service: str, errors: tuple[type[BaseException], ...]):
        self.service, self.errors = service, errors
        self.since: float | None = None
        self._lock = threading.Lock()

    def down(self, error: BaseException) -> None:
        with self._lock:
            if self.since is None:
                self.since = time.monotonic()
                log.warning(
                    "%s unavailable (%s); jobs wait until it is back, nothing is lost",
                    self.service,
                    type(error).__name__,
                )

    def up(self) -> None:
        with self._lock:
            if self.since is not None:
                waited, self.since = time.monotonic() - self.since, None
                log.warning("%s is back after %.0f s; carrying on", self.service, waited)

    def wait(self, ping: Callable[[], object], stopped: Callable[[], bool]) -> None:
        """Block until ``ping`` works: 1 s between attempts, doubling up to MAX_WAIT."""
        pause = 1.0
        while True:
            try:
                ping()
            except self.errors as error:
                self.down(error)
            else:
                return self.up()
            if stopped():
                return None
            time.sleep(pause)
            pause = min(pause * 2, MAX_WAIT)


REDIS = Outage("Redis", REDIS_ERRORS)
DATABASE = Outage("database", (sa.exc.SQLAlchemyError,))


def wait_for_redis(connection: redis.Redis, *, stopped: Callable[[], bool] = lambda: False):
    """Block until Redis answers PING (logging one line when away, one when back)."""
    REDIS.wait(connection.ping, stopped)


def wait_for_database(engine: sa.Engine, *, stopped: Callable[[], bool] = lambda: False):
    """Block until the database answers ``SELECT 1`` (one line when away, one when back)."""

    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    DATABASE.wait(ping, stopped)


class _PromptIntermediateQueue(IntermediateQueue):
    """rq's list of jobs taken off a queue but not yet started.

    A job stays there only between being taken and being started (milliseconds), unless
    its worker died in between; rq waits a minute before failing (and so retrying) it,
    we wait STUCK_AFTER.
    """

    def should_be_cleaned_up(self, job_id: str) -> bool:
        first_seen = self.get_first_seen(job_id)
        return first_seen is not None and rq_now() - first_seen > STUCK_AFTER


class WorkerQueue(Queue):
    """A queue as the worker sees it: stuck jobs come back within seconds."""

    @property
    def intermediate_queue(self) -> IntermediateQueue:
        return _PromptIntermediateQueue(self.key, connection=self.connection)


class _QuietRedisRetries(logging.Filter):
    """Drops rq's own line per reconnection attempt: wait_for_redis says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "could not connect to Redis instance" not in str(record.msg)


class PatientScheduler(RQScheduler):
    """rq's scheduler (timers, retries), which rq runs in a process of its own.

    rq's own dies with a traceback when Redis goes away; this one waits, silently (its
    worker says that Redis is away), and carries on: its heartbeat takes its locks anew.
    """

    def work(self) -> None:
        while True:
            try:
                return super().work()
            except REDIS_ERRORS:
                pause = 1.0
                while not self._stop_requested:
                    time.sleep(pause)
                    try:
                        self.connection.ping()
                        break
                    except REDIS_ERRORS:
                        pause = min(pause * 2, MAX_WAIT)
                if self._stop_requested:
                    return None


class HotlineWorker(SimpleWorker):
    """rq's SimpleWorker, tuned to notice dead workers fast and to wait out Redis outages."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long this job's execution counts as running without news from us.

        SimpleWorker sends no heartbeat during a job and allows its timeout plus a
        minute; ours allows the timeout plus HEARTBEAT_MARGIN, so that the job of a
        killed worker is found abandoned (and retried by rq) within seconds of that.
        """
        if job.timeout and job.timeout > 0:
            return int(job.timeout) + HEARTBEAT_MARGIN
        return super().get_heartbeat_ttl(job, working_time)

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        """rq's heartbeat; when Redis is away, wait for it here instead of quitting."""
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        while True:
            try:
                return super().heartbeat(timeout)
            except REDIS_ERRORS:
                self._wait_for_redis()

    def unsubscribe(self) -> None:
        """rq's unsubscribe, in an order that lets redis-py's reader thread end at once.

        rq sends UNSUBSCRIBE, then stops the thread. The reply wakes the reader, which,
        still told to run, waits for a new subscription for up to rq's 60 s; since
        redis-py 8.2 ``stop()`` joins it, so every worker's shutdown took a minute.
        Telling the thread to end first makes that reply its last read.
        """
        thread, pubsub = self.pubsub_thread, self.pubsub
        if thread is None or not hasattr(thread, "_running"):
            return super().unsubscribe()
        thread._running.clear()  # what stop() does, without its join
        with contextlib.suppress(*REDIS_ERRORS):
            pubsub.unsubscribe()
        thread.join(timeout=1)
        with contextlib.suppress(*REDIS_ERRORS):
            pubsub.close()

    def check_for_suspension(self, burst: bool) -> None:
        """rq's suspension check, waiting out a Redis outage."""
        while True:
            try:
                return super().check_for_suspension(burst)
            except REDIS_ERRORS:
                self._wait_for_redis()

    def run_maintenance_tasks(self) -> None:
        """rq's maintenance (abandoned jobs, the scheduler); skipped while Redis is away."""
        try:
            super().run_maintenance_tasks()
        except REDIS_ERRORS:
            self._wait_for_redis()

    engine: sa.Engine | None = None  # the app's, to wait for when the database is away
    _database_lost = False

    def execute_job(self, job: Job, queue) -> None:
        """Run one job. If Redis goes away around it, rq's bookkeeping of the job is
        incomplete: its execution expires and rq retries the job, which is idempotent.
        If the job found the database away, rq retries it; the worker takes no other
        job until the database is back, so the queue does not burn its retries."""
        try:
            super().execute_job(job, queue)
        except REDIS_ERRORS:
            self._wait_for_redis()
        if self._database_lost and self.engine is not None:
            self._database_lost = False
            wait_for_database(self.engine, stopped=lambda: self._stop_requested)

    def handle_exception(self, job: Job, *exc_info) -> None:
        """rq logs a failed job with its traceback; a database that is away is not a bug
        in the job: one line per outage says it (Outage), and the job is retried."""
        if not database_unreachable(exc_info[1]):
            return super().handle_exception(job, *exc_info)
        self._database_lost = True
        DATABASE.down(exc_info[1])
        log.debug("job %s: database unavailable, retried later", job.id)
        call_exception_handlers(self._exc_handlers, job, *exc_info)
        return None

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """rq's own start of its scheduler (rq 3.0), with the PatientScheduler."""
        self.scheduler = PatientScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def _wait_for_redis(self) -> None:
        wait_for_redis(self.connection, stopped=lambda: self._stop_requested)
        if self._stop_requested:
            return
        if not self.connection.exists(self.key):
            # Redis restarted without its data: this worker must be known again (for
            # /ready, `rq info`) and its scheduler lock taken anew.
            self.register_birth()
        self.last_cleaned_at = None  # look for abandoned jobs and restart the scheduler now


_FORK_HOOK: list[bool] = []


def _schedulers_stop_with_their_worker() -> None:
    """rq forks its scheduler; a worker killed outright (SIGKILL, out of memory) would
    leave it running, holding the scheduler lock, for ever. Once per process, make every
    child forked from here stop when its parent is gone."""
    if not _FORK_HOOK:
        os.register_at_fork(after_in_child=lambda: stop_when_parent_exits(os.getppid()))
        _FORK_HOOK.append(True)


def run_worker(app: Flask, *, queues: Sequence[str] | None = None, burst: bool = False) -> bool:
    """Work the queues until stopped (or, with ``burst``, until they are empty).

    rq's scheduler runs beside it: it queues timers (offers that expire, check-ins) and
    retries when their moment comes; in burst mode it queues those already due, once.

    SimpleWorker runs jobs in this process, inside the app context, with the app's
    engine and connection pool; rq's forking worker would pay a fork per job and
    must not share pooled database connections across the fork.

    A worker started while Redis is down waits for it; one whose Redis goes away
    waits and carries on (see HotlineWorker); if rq gives up all the same, a new
    worker takes over once Redis is back.
    """
    settings = app.extensions["hotline.settings"]
    parent = os.environ.get("HOTLINE_WORKER_PARENT_PID")
    if parent and parent.isdigit() and not burst:
        stop_when_parent_exits(int(parent))
    for name in ("rq.worker", "rq.scheduler"):
        logger = logging.getLogger(name)
        if not any(isinstance(each, _QuietRedisRetries) for each in logger.filters):
            logger.addFilter(_QuietRedisRetries())
    if not burst:
        _schedulers_stop_with_their_worker()
    connection = get_redis(app)
    relay = RelayThread(
        lambda: _relay_noting_outages(app, daily=True), settings.outbox_relay_interval
    )
    names = [get_queue(name, app).name for name in queues or QUEUE_NAMES]  # known names only
    worked = False
    try:
        while True:
            wait_for_redis(connection)
            wait_for_database(app.extensions["hotline.engine"])
            _relay_noting_outages(app)  # catch up before the first job, also in burst mode
            if not burst and not relay.is_alive():
                relay.start()
            worker = HotlineWorker(
                [WorkerQueue(name, connection=connection) for name in names],
                connection=connection,
                queue_class=WorkerQueue,
                worker_ttl=WORKER_TTL,
                maintenance_interval=MAINTENANCE_INTERVAL,
            )
            worker.engine = app.extensions["hotline.engine"]
            try:
                with app.app_context():
                    worked = (
                        worker.work(
                            burst=burst, with_scheduler=True, logging_level=settings.log_level
                        )
                        or worked
                    )
            except REDIS_ERRORS:
                pass  # rq's teardown could not say goodbye to a Redis that is away
            if burst or worker._shutdown_requested_date is not None:
                break  # stopped on purpose (SIGTERM, SIGINT) or done
            log.warning("worker stopped unexpectedly; starting a new one")
            time.sleep(1)  # a worker that cannot start must not spin
    finally:
        relay.stop()
    return worked
