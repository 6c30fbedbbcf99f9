"""The worker process: an rq worker inside the app, plus the outbox relay beside it."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence

from flask import Flask
from rq import SimpleWorker

from hotline.db import session_scope
from hotline.outbox import RelayThread, relay_pending
from hotline.queue import QUEUE_NAMES, get_queue, get_redis


def relay_once(app: Flask) -> int:
    """Relay whatever outbox work is pending; returns how many rows were queued."""
    with app.app_context(), session_scope(app.extensions["hotline.engine"]) as session:
        return relay_pending(session, get_redis(app))


def stop_when_parent_exits(parent_pid: int, interval: float = 1.0) -> threading.Thread:
    """Send ourselves SIGTERM (rq's warm shutdown) once ``parent_pid`` is gone."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=watch, name="parent-watch", daemon=True)
    watcher.start()
    return watcher


def run_worker(app: Flask, *, queues: Sequence[str] | None = None, burst: bool = False) -> bool:
    """Work the queues until stopped (or, with ``burst``, until they are empty).

    rq's scheduler runs beside it: it queues timers (offers that expire, check-ins) and
    retries when their moment comes; in burst mode it queues those already due, once.

    SimpleWorker runs jobs in this process, inside the app context, with the app's
    engine and connection pool; rq's forking worker would pay a fork per job and
    must not share pooled database connections across the fork.
    """
    settings = app.extensions["hotline.settings"]
    parent = os.environ.get("HOTLINE_WORKER_PARENT_PID")
    if parent and parent.isdigit() and not burst:
        stop_when_parent_exits(int(parent))
    relay = RelayThread(lambda: relay_once(app), settings.outbox_relay_interval)
    relay_once(app)  # catch up before the first job, also in burst mode
    if not burst:
        relay.start()
    names = list(queues or QUEUE_NAMES)
    worker = SimpleWorker([get_queue(name, app) for name in names], connection=get_redis(app))
    try:
        with app.app_context():
            return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
    finally:
        relay.stop()
