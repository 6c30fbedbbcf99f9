"""The outbox: work written with the request reaches rq, once, and survives a Redis outage."""

from __future__ import annotations

import redis
from rq import Queue
from sqlmodel import Session, select

from hotline.db import make_engine
from hotline.models import OutboxMessage
from hotline.outbox import JOB_TIMEOUT, add_work, pending_count, relay_pending


def test_work_written_in_a_transaction_is_relayed_to_its_queue(database_url, redis_conn):
    engine = make_engine(database_url)
    with Session(engine) as session:
        message = add_work(
            session, queue="intake", job="hotline.jobs.announce_request", help_request_id=7
        )
        session.commit()
        assert relay_pending(session, redis_conn) == 1
        job = Queue("intake", connection=redis_conn).jobs[0]
        assert job.id == f"outbox-{message.id}"
        assert job.kwargs == {"help_request_id": 7}
        assert job.retries_left == 6
        assert job.timeout == JOB_TIMEOUT
        assert pending_count(session) == 0
    engine.dispose()


def test_relaying_twice_queues_the_work_once(database_url, redis_conn):
    engine = make_engine(database_url)
    with Session(engine) as session:
        add_work(session, queue="intake", job="hotline.jobs.announce_request", help_request_id=1)
        session.commit()
        relay_pending(session, redis_conn)
        assert relay_pending(session, redis_conn) == 0
        assert Queue("intake", connection=redis_conn).count == 1
    engine.dispose()


def test_when_redis_is_down_the_work_waits_in_the_database(database_url, redis_conn):
    engine = make_engine(database_url)
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    with Session(engine) as session:
        add_work(session, queue="intake", job="hotline.jobs.announce_request", help_request_id=3)
        session.commit()
        assert relay_pending(session, unreachable) == 0
        row = session.exec(select(OutboxMessage)).one()
        assert row.enqueued_at is None and row.attempts == 1
        assert "ConnectionError" in row.last_error
        # Redis is back: the next relay sends it.
        assert relay_pending(session, redis_conn) == 1
        assert Queue("intake", connection=redis_conn).count == 1
    engine.dispose()


def test_work_already_in_rq_after_a_crash_is_not_queued_a_second_time(database_url, redis_conn):
    engine = make_engine(database_url)
    with Session(engine) as session:
        message = add_work(
            session, queue="intake", job="hotline.jobs.announce_request", help_request_id=5
        )
        session.commit()
        # A relay queued it, then died before it could mark the row as sent.
        Queue("intake", connection=redis_conn).enqueue(
            "hotline.jobs.announce_request", kwargs={"help_request_id": 5},
            job_id=f"outbox-{message.id}",
        )  # fmt: skip
        assert relay_pending(session, redis_conn) == 1
        assert Queue("intake", connection=redis_conn).job_ids == [f"outbox-{message.id}"]
        assert pending_count(session) == 0
    engine.dispose()
