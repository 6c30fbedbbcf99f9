"""Every offer reaches its volunteer exactly once, whatever crashes when.

The unit stories cut one send short at each step with the Twilio sandbox; the slow
story SIGKILLs real `hotline worker` processes at random while they send 100 offers.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from rq import Queue
from sqlmodel import Session, select

from hotline.db import line_row
from hotline.dispatch import offer_volunteer
from hotline.messaging.sending import SEND_SMS_JOB, SUBMIT_LEASE, SendingUnderWay, send_text
from hotline.models import (
    AuditEvent,
    HelpRequest,
    OutboxMessage,
    SmsMessage,
    Volunteer,
    utcnow,
)
from hotline.outbox import job_id, relay_pending, requeue_lost
from hotline.privacy import store_contact
from hotline.telephony import TelephonyError, get_provider
from tests.processes import hotline_environment

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

HOTLINE = Path(sys.executable).with_name("hotline")


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


@pytest.fixture
def engine(app):
    return app.extensions["hotline.engine"]


def offers(app, count: int) -> list[int]:
    """``count`` volunteers, each offered a request of their own; returns the SMS ids."""
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        line = line_row(session, settings, "leuven")
        resident = store_contact(session, settings.secrets, "+32470555666")
        for n in range(count):
            contact = store_contact(session, settings.secrets, f"+3247010{n:04d}")
            volunteer = Volunteer(
                line_id=line.id,
                name=f"Volunteer {n}",
                contact_id=contact.id,
                postcode="3000",
                languages=["nl"],
                skills=["groceries"],
                safety_accepted_at=utcnow(),
            )
            help_request = HelpRequest(
                line_id=line.id,
                reference=f"{100000 + n}",
                category="groceries",
                postcode="3000",
                urgency="today",
                contact_id=resident.id,
            )
            session.add_all([volunteer, help_request])
            session.flush()
            offer_volunteer(
                session,
                help_request=help_request,
                volunteer=volunteer,
                operator_id=None,
                line=settings.lines["leuven"],
            )
        session.commit()
        return list(session.exec(select(SmsMessage.id).order_by(SmsMessage.id)).all())


def send(app, sms_id: int):
    """What the send_sms job does, in this process."""
    with app.app_context(), Session(app.extensions["hotline.engine"]) as session:
        result = send_text(
            session,
            settings=app.extensions["hotline.settings"],
            provider=get_provider(),
            sms_id=sms_id,
        )
        session.commit()
        return result


def row(engine, sms_id: int) -> SmsMessage:
    with Session(engine) as session:
        return session.get(SmsMessage, sms_id)


def sent_per_sms(fake_twilio) -> Counter:
    """How many messages "Twilio" created for each of our rows (from the status URL)."""
    return Counter(
        int(parse_qs(urlsplit(request.form["StatusCallback"]).query)["sms"][0])
        for request in fake_twilio.messages
    )


def test_an_sms_whose_answer_was_lost_is_found_at_twilio_and_not_sent_again(
    app, engine, fake_twilio
):
    [sms_id] = offers(app, 1)
    fake_twilio.lose_answer_next("Messages.json")

    with pytest.raises(TelephonyError):
        send(app, sms_id)
    assert row(engine, sms_id).status == "submitting"  # it may have gone: nobody knows yet

    result = send(app, sms_id)  # rq's immediate retry

    assert sent_per_sms(fake_twilio) == {sms_id: 1}
    [created] = fake_twilio.sent
    assert result.message_sid == created["sid"]
    assert row(engine, sms_id).status == "queued"
    assert row(engine, sms_id).message_sid == created["sid"]
    with Session(engine) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "sms_sent")).all()
    assert event.detail["recovered"] is True
    lookups = [r for r in fake_twilio.requests if r.method == "GET"]
    assert len(lookups) == 1


def test_an_sms_that_never_reached_twilio_is_sent_by_the_retry(app, engine, fake_twilio):
    [sms_id] = offers(app, 1)
    fake_twilio.disconnect_next("Messages.json")

    with pytest.raises(TelephonyError):
        send(app, sms_id)
    send(app, sms_id)

    assert sent_per_sms(fake_twilio) == {sms_id: 1}
    assert row(engine, sms_id).status == "queued"


def test_an_sms_twilio_refused_for_now_is_pending_again_and_sent_without_a_lookup(
    app, engine, fake_twilio
):
    [sms_id] = offers(app, 1)
    fake_twilio.fail_next("Messages.json", status=503, code=20503, message="Unavailable")

    with pytest.raises(TelephonyError):
        send(app, sms_id)
    assert row(engine, sms_id).status == "pending"
    send(app, sms_id)

    assert sent_per_sms(fake_twilio) == {sms_id: 1}
    assert [r for r in fake_twilio.requests if r.method == "GET"] == []


def test_an_attempt_still_under_way_is_not_overtaken(app, engine, fake_twilio):
    [sms_id] = offers(app, 1)
    with Session(engine) as session:
        session.execute(
            sa.update(SmsMessage)
            .where(SmsMessage.id == sms_id)
            .values(status="submitting", submitted_at=utcnow())
        )
        session.commit()

    with pytest.raises(SendingUnderWay):
        send(app, sms_id)

    assert fake_twilio.requests == []


def test_a_worker_killed_after_twilio_took_the_sms_does_not_send_it_twice(app, engine, fake_twilio):
    """The worst moment: Twilio has it, our commit of its sid never happened."""
    [sms_id, other_id] = offers(app, 2)
    send(app, sms_id)
    with Session(engine) as session:  # roll the row back to how the killed worker left it
        session.execute(
            sa.update(SmsMessage)
            .where(SmsMessage.id == sms_id)
            .values(status="submitting", message_sid=None, submitted_at=utcnow() - 2 * SUBMIT_LEASE)
        )
        session.commit()

    send(app, sms_id)
    send(app, other_id)

    assert sent_per_sms(fake_twilio) == {sms_id: 1, other_id: 1}
    assert row(engine, sms_id).message_sid == fake_twilio.sent[0]["sid"]


def test_the_same_text_sent_before_to_the_same_number_is_not_taken_for_this_one(
    app, engine, fake_twilio
):
    [sms_id] = offers(app, 1)
    send(app, sms_id)
    with Session(engine) as session:  # a second row with the same body, cut short
        first = session.get(SmsMessage, sms_id)
        again = SmsMessage(
            line_id=first.line_id,
            volunteer_id=first.volunteer_id,
            direction="out",
            kind="reminder",
            body=first.body,
            status="submitting",
            submitted_at=utcnow() - 2 * SUBMIT_LEASE,
        )
        session.add(again)
        session.commit()
        again_id = again.id

    send(app, again_id)

    assert len(fake_twilio.sent) == 2  # the first row's message is not this row's
    assert row(engine, again_id).message_sid == fake_twilio.sent[1]["sid"]


# --- real workers, killed -------------------------------------------------------------


def worker_environment(app_config: dict, fake_twilio) -> dict[str, str]:
    """`hotline worker` configured like the test's app, sending to the Twilio sandbox."""
    return hotline_environment(
        app_config,
        HOTLINE_TWILIO_API_BASE_URL=fake_twilio.url,
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
    )


class Progress(threading.Thread):
    """Watches the SMS rows and notes when each one was recorded as sent."""

    def __init__(self, engine):
        super().__init__(daemon=True)
        self.engine, self.sent_at, self.stopped = engine, {}, threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            with Session(self.engine) as session:
                rows = session.exec(select(SmsMessage.id, SmsMessage.status)).all()
            now = time.monotonic()
            for sms_id, status in rows:
                if status not in ("pending", "submitting"):
                    self.sent_at.setdefault(sms_id, now)
            time.sleep(0.1)


@pytest.mark.slow
def test_workers_killed_at_random_while_sending_100_offers_lose_none_and_send_none_twice(
    app, app_config, engine, redis_conn, fake_twilio, tmp_path
):
    sms_ids = offers(app, 100)
    with Session(engine) as session:
        while relay_pending(session, redis_conn):
            pass
    fake_twilio.answer_delay = 0.2  # Twilio has the SMS; the worker does not know yet
    seed = int(os.environ.get("HOTLINE_KILL_SEED", time.time()))
    rng = random.Random(seed)
    environment = worker_environment(app_config, fake_twilio)
    progress = Progress(engine)
    progress.start()
    interrupted: dict[int, float] = {}  # sms id -> when the next worker started
    logs = []

    def start_worker() -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(logs)}.log", "wb")  # noqa: SIM115 (closed below)
        logs.append(log)
        return subprocess.Popen(
            [str(HOTLINE), "worker"], env=environment, stdout=log, stderr=subprocess.STDOUT
        )

    try:
        worker = start_worker()
        for _ in range(20):
            # Once this worker is sending (it takes a moment to start), at a random point.
            sent_before = len(fake_twilio.sent)
            deadline = time.monotonic() + 30
            while len(fake_twilio.sent) == sent_before and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 1.0))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            with Session(engine) as session:  # handed to Twilio, the answer never recorded
                cut_short = set(
                    session.exec(
                        select(SmsMessage.id).where(SmsMessage.status == "submitting")
                    ).all()
                )
            worker = start_worker()
            for sms_id in cut_short:
                interrupted[sms_id] = time.monotonic()
        deadline = time.monotonic() + 120
        while len(progress.sent_at) < len(sms_ids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.poll() is None, "the last worker must still be running"
    finally:
        progress.stopped.set()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        for log in logs:
            log.close()

    context = f"(seed {seed}; worker logs in {tmp_path})"
    assert set(progress.sent_at) == set(sms_ids), f"offers lost {context}"
    assert sent_per_sms(fake_twilio) == Counter(sms_ids), f"SMS sent twice {context}"
    with Session(engine) as session:
        statuses = Counter(session.exec(select(SmsMessage.status)).all())
    assert statuses == {"queued": 100}
    assert interrupted, f"no kill landed during a send {context}"
    recovered_after = {
        sms_id: round(progress.sent_at[sms_id] - restarted, 1)
        for sms_id, restarted in interrupted.items()
    }
    print(  # the figures for the README (pytest -s shows them)
        f"kills: 20; sends cut short: {len(interrupted)}; recorded after the next worker "
        f"started: max {max(recovered_after.values())} s; Twilio lookups: "
        f"{sum(1 for r in fake_twilio.requests if r.method == 'GET')} {context}"
    )
    late = {sms_id: after for sms_id, after in recovered_after.items() if after > 60}
    assert late == {}, f"interrupted sends finished more than 60 s after a restart {context}"
    assert Queue("messages", connection=redis_conn).failed_job_registry.count == 0


def test_lost_work_is_queued_again_by_the_sweep(app, engine, redis_conn, fake_twilio, work):
    """Redis restarted without its data: the jobs it held come back from the outbox."""
    [sms_id] = offers(app, 1)
    with Session(engine) as session:
        relay_pending(session, redis_conn)
    redis_conn.flushdb()  # what a Redis without persistence has after a restart
    with Session(engine) as session:  # as if the relay had queued it a while ago
        session.execute(
            sa.update(OutboxMessage).values(enqueued_at=utcnow() - timedelta(minutes=5))
        )
        session.commit()

    work()

    assert sent_per_sms(fake_twilio) == {sms_id: 1}
    work()  # the sweep again: everything completed, nothing queued twice
    assert sent_per_sms(fake_twilio) == {sms_id: 1}


def test_a_job_a_killed_worker_took_off_its_queue_is_queued_again_by_the_sweep(
    app, engine, redis_conn, fake_twilio, work
):
    """Killed between two of rq's steps: the job says "queued", but no queue holds it."""
    [sms_id] = offers(app, 1)
    with Session(engine) as session:
        relay_pending(session, redis_conn)
        [send] = session.exec(select(OutboxMessage).where(OutboxMessage.job == SEND_SMS_JOB)).all()
        send_job, send_id = job_id(send), send.id
        session.execute(
            sa.update(OutboxMessage).values(enqueued_at=utcnow() - timedelta(minutes=5))
        )
        session.commit()
    messages = Queue("messages", connection=redis_conn)
    redis_conn.lrem(messages.key, 0, send_job)  # taken, and never started
    assert messages.count == 0

    with Session(engine) as session:
        requeued, _ = requeue_lost(session, redis_conn)
    assert requeued == 1
    work()

    assert sent_per_sms(fake_twilio) == {sms_id: 1}
    with Session(engine) as session:  # done, and known to be: the next sweep leaves it
        assert session.get(OutboxMessage, send_id).completed_at is not None
        assert requeue_lost(session, redis_conn)[0] == 0


def test_the_sweep_walks_all_open_work_a_batch_at_a_time(app, engine, redis_conn):
    offers(app, 3)  # three SMS and three timers
    with Session(engine) as session:
        relay_pending(session, redis_conn)
        session.execute(
            sa.update(OutboxMessage).values(enqueued_at=utcnow() - timedelta(minutes=5))
        )
        session.commit()
        ids = session.exec(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
        redis_conn.flushdb()  # every job lost

        seen, after = [], 0
        for _ in range(len(ids)):
            requeued, after = requeue_lost(session, redis_conn, after_id=after, limit=2)
            seen.append(requeued)
            if after == 0:
                break
    assert sum(seen) == len(ids)  # each row once, in batches of two
    assert seen[:3] == [2, 2, 2]
