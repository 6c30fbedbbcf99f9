"""Health you can alert on: /health, /ready, and a kind answer when the database is down.

/ready is asked of real things: its own redis-server that the test stops and starts
again, a real `hotline worker` process that the test starts and kills, a PostgreSQL
address where nothing listens. A webhook that cannot reach the database is a signed
Twilio webhook like any other; the caller hears an apology, never an error page.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
from prometheus_client import REGISTRY
from rq import Queue, SimpleWorker

from hotline import create_app
from hotline.models import OutboxMessage, utcnow
from hotline.observability import checks, views
from hotline.voice.texts import DATABASE_UNAVAILABLE, GENERAL_NUMBER
from tests.conftest import ROOT, Twilio
from tests.processes import RedisServer, wait_until
from tests.test_ivr_webhooks import CODE, VOICE, WELCOME_KEY, Call, new_sid

CALLER = "+32470123456"
# Leuven's general number (config.toml), read digit by digit in its groups.
CITY = "0 1 6, 2 7, 2 0, 0 0"


def apology(language: str) -> list[str]:
    """What a caller hears in ``language``: sorry, try again, or call the city."""
    return [DATABASE_UNAVAILABLE[language], GENERAL_NUMBER[language].format(number=CITY)]


# Nothing listens on port 1; the passwords must never show in an answer.
UNREACHABLE_DATABASE = "postgresql://hotline:db-s3cret@127.0.0.1:1/hotline"
UNREACHABLE_REDIS = "redis://:redis-s3cret@127.0.0.1:1/0"


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    assert wait_until(condition, seconds), f"waited {seconds} s for {what}"


def ready(app, **environ) -> tuple[int, dict]:
    """GET /ready from the machine itself (which may read the details), a second after the
    last time it asked (each process asks at most once a second)."""
    app.extensions.pop("hotline.readiness", None)
    response = app.test_client().get("/ready", environ_base=environ)
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process and its children (an orphaned child of rq's would keep the worker's
    Redis connections open: a job pushed later would go to its dead BLPOP)."""
    with contextlib.suppress(ProcessLookupError):  # gone already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    yield server
    server.stop()


# -- /health ---------------------------------------------------------------------------------


def test_health_says_the_process_is_alive_even_when_nothing_else_is(app_config):
    down = create_app(
        {**app_config, "database_url": UNREACHABLE_DATABASE, "redis_url": UNREACHABLE_REDIS}
    )
    client = down.test_client()
    for remote in ("127.0.0.1", "81.82.83.84"):  # public: it says nothing about the system
        response = client.get("/health", environ_base={"REMOTE_ADDR": remote})
        assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


# -- /ready ------------------------------------------------------------------------------------


def test_ready_turns_unhealthy_when_redis_is_down_and_healthy_again_after(app_config, redis_server):
    app = create_app({**app_config, "redis_url": redis_server.url})
    # A worker registered on this Redis with a fresh heartbeat, the way rq's workers do.
    connection = redis.Redis.from_url(redis_server.url)
    SimpleWorker([Queue("intake", connection=connection)], connection=connection).register_birth()
    connection.close()
    status, body = ready(app)
    assert status == 200, body
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "outbox": True, "redis": True, "workers": True,
    }  # fmt: skip

    redis_server.stop()
    started = time.monotonic()
    status, body = ready(app)
    assert time.monotonic() - started < 5  # never hangs on a Redis that is away
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["workers"] == {"ok": False, "error": "Redis unavailable"}
    assert body["checks"]["database"]["ok"] is True
    assert "failed_jobs" not in body

    redis_server.start()
    status, body = ready(app)
    assert status == 200, body
    assert body["checks"]["workers"]["alive"] == 1


def test_ready_asks_the_database_and_redis_at_most_once_a_second(app_config, redis_server):
    """/ready is public: a flood of probes must not become a flood of connections."""
    app = create_app({**app_config, "redis_url": redis_server.url})
    client = app.test_client()
    first = client.get("/ready", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    redis_server.stop()

    within_the_second = client.get("/ready", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert within_the_second.get_json()["checks"] == first.get_json()["checks"]
    time.sleep(views.READY_CACHE_SECONDS + 0.1)
    later = client.get("/ready", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert later.get_json()["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}


def test_ready_is_unhealthy_when_no_worker_has_a_recent_heartbeat_and_healthy_when_one_runs(
    app, app_config, redis_url, monkeypatch
):
    status, body = ready(app)
    assert status == 503
    assert body["checks"]["workers"] == {
        "ok": False, "alive": 0, "registered": 0, "last_heartbeat_age_seconds": None,
    }  # fmt: skip
    assert body["failed_jobs"] == {"intake": 0, "messages": 0, "default": 0}

    environ = {
        **os.environ,
        "HOTLINE_CONFIG": str(app_config["config_file"]),
        "HOTLINE_INSTANCE_PATH": app_config["instance_path"],
        "HOTLINE_DATABASE_URL": app_config["database_url"],
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_PUBLIC_BASE_URL": app_config["public_base_url"],
        "HOTLINE_WORKER_PARENT_PID": str(os.getpid()),  # it stops if the test run dies
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "worker"],
        env=environ,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, with rq's scheduler process
    )
    try:
        wait_for(lambda: ready(app)[0] == 200, "/ready to see the worker", 60)
        status, body = ready(app)
        assert body["checks"]["workers"]["alive"] == 1
        assert body["checks"]["workers"]["last_heartbeat_age_seconds"] < 60

        # The machine dies: it stays registered, but its heartbeat grows old.
        monkeypatch.setattr(checks, "WORKER_HEARTBEAT_WINDOW", 2)
        kill_group(worker)
        wait_for(lambda: ready(app)[0] == 503, "/ready to notice the silent worker", 30)
        workers = ready(app)[1]["checks"]["workers"]
        assert (workers["ok"], workers["alive"], workers["registered"]) == (False, 0, 1)
        assert workers["last_heartbeat_age_seconds"] >= 2  # older than the window (rounded)
    finally:
        kill_group(worker)


def test_ready_is_unhealthy_when_work_waits_in_the_outbox_too_long(app, db_session):
    db_session.add(
        OutboxMessage(
            queue="intake",
            job="hotline.jobs.announce_request",
            payload={"help_request_id": 1},
            created_at=utcnow() - timedelta(minutes=6),
        )
    )
    db_session.add(OutboxMessage(queue="intake", job="hotline.jobs.announce_request"))
    db_session.commit()
    status, body = ready(app)
    assert status == 503
    outbox = body["checks"]["outbox"]
    assert (outbox["ok"], outbox["pending"]) == (False, 2)
    assert 360 <= outbox["oldest_age_seconds"] < 400


def test_ready_reports_an_unreachable_database_and_redis_quickly_and_without_secrets(
    app_config,
):
    down = create_app(
        {**app_config, "database_url": UNREACHABLE_DATABASE, "redis_url": UNREACHABLE_REDIS}
    )
    started = time.monotonic()
    status, body = ready(down)
    assert time.monotonic() - started < 5
    assert status == 503
    assert body["checks"] == {
        "database": {"ok": False, "error": "OperationalError"},
        "outbox": {"ok": False, "error": "database unavailable"},
        "redis": {"ok": False, "error": "ConnectionError"},
        "workers": {"ok": False, "error": "Redis unavailable"},
    }
    assert "s3cret" not in str(body) and "127.0.0.1" not in str(body)


def test_ready_does_not_hang_on_servers_that_accept_connections_and_never_answer(app_config):
    with socket.socket() as silent:  # listens, never accepts, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        hung = create_app(
            {
                **app_config,
                "database_url": f"postgresql://hotline:db-s3cret@127.0.0.1:{port}/hotline",
                "redis_url": f"redis://127.0.0.1:{port}/0",
            }
        )
        started = time.monotonic()
        status, body = ready(hung)
        waited = time.monotonic() - started
    assert status == 503
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["redis"] == {"ok": False, "error": "TimeoutError"}
    assert waited < 2 * checks.DATABASE_TIMEOUT + 2  # each waits its own timeout, once


def test_ready_shows_the_checks_only_to_the_machine_and_its_network(app):
    status, inside = ready(app, REMOTE_ADDR="10.1.2.3")
    assert "checks" in inside
    status_outside, outside = ready(app, REMOTE_ADDR="81.82.83.84")
    assert (status_outside, outside) == (status, {"status": inside["status"]})


# -- the database is down: callers hear an apology --------------------------------------------


def incidents() -> float:
    labels = {"kind": "database_unavailable"}
    return REGISTRY.get_sample_value("hotline_incidents_total", labels) or 0.0


def problems(caplog) -> list[tuple[str, str]]:
    """Every log record at WARNING or above: level and message."""
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_caller_hears_an_apology_in_every_language_when_the_database_is_unreachable(
    app_config, caplog
):
    down = create_app({**app_config, "database_url": UNREACHABLE_DATABASE})
    call = Call(Twilio(down), CALLER)
    before = incidents()

    answer = call.dial()

    assert answer.verbs == ["Say", "Say", "Pause", "Say", "Say", "Pause", "Say", "Say", "Hangup"]
    assert answer.says == [*apology("nl"), *apology("fr"), *apology("en")]
    spoken_with = [(say.get("language"), say.get("voice")) for say in answer.root.iter("Say")]
    assert spoken_with == [
        (CODE[language], VOICE[language]) for language in ("nl", "fr", "en") for _ in (1, 2)
    ]
    assert problems(caplog) == [
        ("ERROR", "incident database_unavailable: OperationalError in twilio.voice")
    ]
    assert not any(record.exc_info for record in caplog.records)
    assert CALLER.removeprefix("+32") not in caplog.text
    assert incidents() == before + 1

    # A step of a call that began before the database went away: the same kind answer.
    again = call.post("/twilio/voice/step/1", Digits="1")
    assert again.says == answer.says
    assert incidents() == before + 2


def test_a_caller_whose_call_was_read_hears_the_apology_in_their_language(app, twilio, caplog):
    call = Call(twilio, CALLER)
    call.dial()
    call.press(WELCOME_KEY["fr"])  # the call goes on in French

    def disk_fails(_connection) -> None:
        raise sa.exc.OperationalError("COMMIT", None, OSError("disk I/O error"))

    engine = app.extensions["hotline.engine"]
    sa.event.listen(engine, "commit", disk_fails)  # read the call, then fail to store the step
    try:
        answer = call.press("1")
    finally:
        sa.event.remove(engine, "commit", disk_fails)

    assert answer.verbs == ["Say", "Say", "Hangup"]
    assert answer.says == apology("fr")
    answer.assert_language("fr")
    assert problems(caplog) == [
        ("ERROR", "incident database_unavailable: OperationalError in twilio.voice_step")
    ]


def test_texts_and_reports_get_503_when_the_database_is_unreachable(app_config, caplog):
    down = create_app({**app_config, "database_url": UNREACHABLE_DATABASE})
    twilio = Twilio(down)
    text = {"MessageSid": new_sid("SM"), "From": "+32470999999", "To": "+32470272772",
            "Body": "JA 4821", "AccountSid": "AC" + "0" * 32}  # fmt: skip
    sms = twilio.post("/twilio/sms", text)
    # Twilio logs a 5xx in its console and calls the number's fallback URL; an empty 200
    # would hide that the volunteer's answer was lost.
    assert (sms.status_code, sms.mimetype) == (503, "text/xml")
    assert sms.get_data(as_text=True).endswith("<Response />")
    report = {**text, "MessageStatus": "delivered"}
    assert twilio.post("/twilio/sms/status", report).status_code == 503
    call_end = {"CallSid": new_sid("CA"), "From": CALLER, "To": "+3216272772",
                "CallStatus": "completed", "AccountSid": "AC" + "0" * 32}  # fmt: skip
    assert twilio.post("/twilio/voice/status", call_end).status_code == 503
    assert [level for level, _ in problems(caplog)] == ["ERROR"] * 3
    assert "999999" not in caplog.text
