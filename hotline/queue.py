"""Redis and the rq queues: a configured server, or one run for this instance (local_redis)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis
from flask import Flask, current_app
from rq import Queue

from hotline.config import Settings
from hotline.local_redis import embedded_redis
from hotline.privacy import redact_personal_details

# Queues named by purpose, most urgent first: a worker listening on all of them
# serves them in this order.
QUEUE_NAMES = ("intake", "messages", "default")
SOCKET_TIMEOUT = 2  # seconds: a web request must never hang on a Redis that is down


def connect(settings: Settings) -> redis.Redis:
    """A Redis connection for these settings."""
    if settings.redis_url:
        return redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
        )
    return embedded_redis(settings.embedded_redis_path)


def init_app(app: Flask, settings: Settings) -> None:
    """Connect lazily: an app that never touches the queue never starts a Redis."""
    app.extensions["hotline.redis"] = None


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's Redis connection, opened on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if app.extensions.get("hotline.redis") is None:
        app.extensions["hotline.redis"] = connect(app.extensions["hotline.settings"])
    return app.extensions["hotline.redis"]


def get_queue(name: str, app: Flask | None = None) -> Queue:
    """The rq queue ``name`` (one of QUEUE_NAMES)."""
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUE_NAMES)}")
    return Queue(name, connection=get_redis(app))


def failed_job_counts(connection: redis.Redis) -> dict[str, int]:
    """How many jobs per queue failed for good (retries used up), by queue name."""
    from rq.registry import FailedJobRegistry

    return {name: FailedJobRegistry(name, connection=connection).count for name in QUEUE_NAMES}


@dataclass(frozen=True)
class FailedJob:
    """A job that used up its retries: what an operator of the installation needs to see."""

    id: str
    queue: str
    function: str
    arguments: dict  # ids only: jobs never carry personal data
    ended_at: datetime | None
    error: str  # the last line of its traceback


def failed_jobs(connection: redis.Redis) -> list[FailedJob]:
    """Every job in rq's failed registries, oldest first, most urgent queue first."""
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    found = []
    for name in QUEUE_NAMES:
        ids = FailedJobRegistry(name, connection=connection).get_job_ids()
        for job in Job.fetch_many(ids, connection=connection):
            if job is None:
                continue  # expired between the two calls
            result = job.latest_result()
            lines = ((result.exc_string if result else None) or "").strip().splitlines()
            found.append(
                FailedJob(
                    id=job.id,
                    queue=name,
                    function=job.func_name,
                    arguments=dict(job.kwargs),
                    ended_at=job.ended_at,
                    error=redact_personal_details(lines[-1]) if lines else "",
                )
            )
    return found


def retry_failed(connection: redis.Redis, job_ids: list[str] | None = None) -> list[str]:
    """Queue failed jobs again (all of them without ``job_ids``); returns the ids queued.

    Safe: every job is idempotent, and an SMS asks Twilio before it is sent again.
    """
    from rq.registry import FailedJobRegistry

    retried = []
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(name, connection=connection)
        for job_id in registry.get_job_ids():
            if job_ids is None or job_id in job_ids:
                registry.requeue(job_id)
                retried.append(job_id)
    return retried
