"""Readiness: can the hotline do its work right now? Each check reports; none raises or hangs.

A check is a small dict: ``ok`` and a few figures, or ``error`` with the class of the
exception only (driver messages can name hosts, users and, in URLs, passwords).
The same checks feed ``/ready`` and the gauges of ``/metrics`` (:class:`StateCollector`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from rq import Queue, Worker
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlmodel import Session, select

from hotline.db import normalise_database_url
from hotline.models import OutboxMessage, utcnow
from hotline.outbox import pending_count
from hotline.queue import QUEUE_NAMES, failed_job_counts, get_redis

# Seconds to connect to the database and to run a statement there.
DATABASE_TIMEOUT = 2
# A worker is alive if its last heartbeat is this recent (seconds). rq workers beat every
# worker_ttl - 15 s while idle (hotline.worker.WORKER_TTL); two missed beats fit in.
WORKER_HEARTBEAT_WINDOW = 60
# Work waiting this long (seconds) to be handed to rq means the relay is stuck or Redis
# has been away for a while: announcements and SMS are late.
OUTBOX_MAX_AGE = 300

Check = dict[str, Any]
REGISTRIES = (("started", StartedJobRegistry), ("scheduled", ScheduledJobRegistry))


def readiness(app: Flask) -> dict[str, Check]:
    """Every check that decides readiness: database, outbox, redis, workers."""
    checks = database_checks(app)
    checks["redis"] = _guarded(lambda: _ping(app))
    if checks["redis"]["ok"]:
        checks["workers"] = _guarded(lambda: workers_check(get_redis(app)))
    else:  # every rq question would wait for the same timeout again
        checks["workers"] = {"ok": False, "error": "Redis unavailable"}
    return checks


def is_ready(checks: dict[str, Check]) -> bool:
    """Whether every check passed."""
    return all(check["ok"] for check in checks.values())


def failed_jobs(app: Flask) -> dict[str, Any]:
    """Jobs that failed for good, per queue: reported, they do not make the app unready."""
    try:
        return failed_job_counts(get_redis(app))
    except Exception as error:
        return {"error": type(error).__name__}


def _guarded(check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as error:  # a check reports its failure; it never fails the page
        return {"ok": False, "error": type(error).__name__}


def probe_engine(app: Flask) -> sa.Engine:
    """An engine for health checks only: short timeouts, a fresh connection every time.

    The app's own engine would wait for the operating system's TCP timeout (minutes)
    on a database server that vanished from the network.
    """
    engine = app.extensions.get("hotline.probe_engine")
    if engine is None:
        url = normalise_database_url(app.extensions["hotline.settings"].database_url)
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args = {"timeout": DATABASE_TIMEOUT}
        elif url.startswith("postgresql"):
            connect_args = {
                "connect_timeout": DATABASE_TIMEOUT,
                "options": f"-c statement_timeout={DATABASE_TIMEOUT * 1000}",
            }
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args)
        app.extensions["hotline.probe_engine"] = engine
    return engine


def database_checks(app: Flask) -> dict[str, Check]:
    """The database answers ``SELECT 1``; the outbox is not falling behind."""
    try:
        started = time.perf_counter()
        with probe_engine(app).connect() as connection, Session(bind=connection) as session:
            connection.exec_driver_sql("SELECT 1")
            database = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
            outbox = _guarded(lambda: outbox_check(session))
    except Exception as error:
        database = {"ok": False, "error": type(error).__name__}
        outbox = {"ok": False, "error": "database unavailable"}
    return {"database": database, "outbox": outbox}


def outbox_check(session: Session) -> Check:
    """How much work waits to be handed to rq, and how long the oldest has waited."""
    oldest = session.exec(
        select(sa.func.min(OutboxMessage.created_at)).where(
            OutboxMessage.enqueued_at.is_(None)  # type: ignore[union-attr]
        )
    ).one()
    age = None if oldest is None else round((utcnow() - oldest).total_seconds(), 1)
    return {
        "ok": age is None or age <= OUTBOX_MAX_AGE,
        "pending": pending_count(session),
        "oldest_age_seconds": age,
    }


def _ping(app: Flask) -> Check:
    started = time.perf_counter()
    get_redis(app).ping()
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def workers_check(connection: redis.Redis) -> Check:
    """At least one rq worker whose heartbeat is recent."""
    now = utcnow()
    ages = [
        (now - worker.last_heartbeat).total_seconds()
        for worker in Worker.all(connection=connection)
        if worker.last_heartbeat is not None
    ]
    alive = sum(1 for age in ages if age <= WORKER_HEARTBEAT_WINDOW)
    return {
        "ok": alive > 0,
        "alive": alive,
        "registered": len(ages),
        "last_heartbeat_age_seconds": round(min(ages), 1) if ages else None,
    }


def job_counts(connection: redis.Redis) -> dict[tuple[str, str], int]:
    """rq jobs per (queue, state): queued, started, scheduled, failed. Reads only."""
    failed = failed_job_counts(connection)
    counts = {}
    for name in QUEUE_NAMES:
        counts[name, "queued"] = Queue(name, connection=connection).count
        # cleanup=False: a scrape must not move jobs around (the workers' maintenance does).
        for state, registry in REGISTRIES:
            counts[name, state] = registry(name, connection=connection).get_job_count(cleanup=False)
        counts[name, "failed"] = failed[name]
    return counts


class StateCollector:
    """Gauges computed when Prometheus scrapes: the checks, the outbox, rq's queues."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        checks = readiness(self.app)
        check_ok = GaugeMetricFamily(
            "hotline_check_ok",
            "1 when a readiness check passes (see /ready), else 0.",
            labels=["check"],
        )
        for name, check in checks.items():
            check_ok.add_metric([name], 1.0 if check["ok"] else 0.0)
        yield check_ok
        outbox = checks["outbox"]
        if "pending" in outbox:
            yield GaugeMetricFamily(
                "hotline_outbox_pending",
                "Outbox rows not yet handed to rq.",
                value=outbox["pending"],
            )
            yield GaugeMetricFamily(
                "hotline_outbox_oldest_pending_age_seconds",
                "How long the oldest pending outbox row has waited (0 when none waits).",
                value=outbox["oldest_age_seconds"] or 0.0,
            )
        workers = checks["workers"]
        if "alive" in workers:
            yield GaugeMetricFamily(
                "hotline_rq_workers_alive",
                f"rq workers with a heartbeat in the last {WORKER_HEARTBEAT_WINDOW} s.",
                value=workers["alive"],
            )
        if checks["redis"]["ok"]:
            yield from self._jobs()

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = job_counts(get_redis(self.app))
        except Exception:  # reported by hotline_check_ok; the scrape goes on
            return
        jobs = GaugeMetricFamily(
            "hotline_rq_jobs", "rq jobs by queue and state.", labels=["queue", "state"]
        )
        for (queue, state), count in counts.items():
            jobs.add_metric([queue, state], count)
        yield jobs
