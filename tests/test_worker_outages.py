"""The worker rides out outages: Redis or the database away for a while loses no work.

Real processes: a `redis-server` each test starts and kills, `hotline worker` as a
subprocess, calls walked through the signed voice webhook of an app in this process.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from hotline import create_app
from hotline.models import HelpRequest
from tests.conftest import Twilio
from tests.processes import RedisServer, free_port, hotline_environment, wait_until
from tests.test_walking_skeleton import SHOPPING_TODAY_IN_LEUVEN, next_step_url, spoken, twiml

HOTLINE = Path(sys.executable).with_name("hotline")
ANNOUNCED = re.compile(r"help request (\d+) announced to operators")


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.kill()


def environment(app_config: dict, **overrides: str) -> dict[str, str]:
    """`hotline worker` configured like the test's app, relaying every second."""
    return hotline_environment(app_config, HOTLINE_OUTBOX_RELAY_INTERVAL="1", **overrides)


class Worker:
    """`hotline worker` in a process of its own, its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [str(HOTLINE), "worker"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def call_in(twilio: Twilio, n: int) -> str:
    """One resident calls and asks for shopping; returns what they heard at the end."""
    caller = f"+3247020{n:04d}"
    params = {
        "CallSid": f"CA{n:032x}", "From": caller, "To": "+3216272772",
        "AccountSid": "AC" + "0" * 32,
    }  # fmt: skip
    root = twiml(twilio.post("/twilio/voice", {**params, "CallStatus": "ringing"}))
    for pressed in SHOPPING_TODAY_IN_LEUVEN:
        extra = {"Digits": pressed} if pressed else {}
        root = twiml(twilio.post(next_step_url(root), {**params, **extra}))
    return spoken(root)


def announced(engine) -> set[int]:
    with Session(engine) as session:
        return set(
            session.exec(
                select(HelpRequest.id).where(HelpRequest.announced_at.is_not(None))  # type: ignore[union-attr]
            ).all()
        )


def test_a_worker_started_while_redis_is_down_waits_and_then_works(
    app_config, redis_server, tmp_path
):
    worker = Worker(
        environment(app_config, HOTLINE_REDIS_URL=redis_server.url), tmp_path / "worker.log"
    )
    try:
        assert wait_until(lambda: "Redis unavailable" in worker.log, 30), worker.log
        time.sleep(3)  # it keeps trying, quietly
        assert worker.running(), worker.log
        assert worker.log.count("Redis unavailable") == 1, worker.log
        assert "Traceback" not in worker.log

        redis_server.start()
        app = create_app({**app_config, "redis_url": redis_server.url})
        heard = call_in(Twilio(app), 1)
        assert wait_until(lambda: len(announced(app.extensions["hotline.engine"])) == 1, 30), (
            worker.log
        )
        assert "reference" in heard.lower() or any(ch.isdigit() for ch in heard)
        assert "Redis is back" in worker.log
        assert worker.running()
    finally:
        worker.stop()


@pytest.mark.slow
def test_redis_killed_during_100_intakes_and_back_30_s_later_loses_nothing(
    app_config, redis_server, tmp_path
):
    redis_server.start()
    app = create_app({**app_config, "redis_url": redis_server.url})
    engine = app.extensions["hotline.engine"]
    worker = Worker(
        environment(app_config, HOTLINE_REDIS_URL=redis_server.url), tmp_path / "worker.log"
    )
    heard: dict[int, str] = {}
    errors: list[BaseException] = []

    def callers(numbers: range) -> None:
        twilio = Twilio(app)
        for n in numbers:
            try:
                heard[n] = call_in(twilio, n)
            except BaseException as error:  # noqa: BLE001 (reported by the test below)
                errors.append(error)
            time.sleep(0.8)  # 100 calls spread over about 40 s

    threads = [threading.Thread(target=callers, args=(range(k, 100, 2),)) for k in range(2)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(8)
        redis_server.kill()
        killed_at = time.monotonic()
        time.sleep(30)
        redis_server.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert wait_until(lambda: len(announced(engine)) == 100, 150), worker.log
        assert worker.running(), worker.log
    finally:
        worker.stop()

    with Session(engine) as session:
        requests = session.exec(select(HelpRequest)).all()
    assert len(requests) == 100
    references = {r.reference for r in requests}
    assert len(references) == 100
    for n, words in heard.items():  # every caller heard their own reference, digit by digit
        assert any(" ".join(reference) in words.replace(",", "") for reference in references), n
    assert len(heard) == 100
    # Each announcement happened once (the job is idempotent; a second run logs nothing).
    times_announced = Counter(int(i) for i in ANNOUNCED.findall(worker.log))
    assert set(times_announced) == {r.id for r in requests}
    assert set(times_announced.values()) == {1}
    # One line when Redis went, one when it came back; no traceback.
    assert worker.log.count("Redis unavailable") == 1, worker.log
    assert worker.log.count("Redis is back") == 1, worker.log
    assert "Traceback" not in worker.log
    assert time.monotonic() - killed_at < 300


class CuttableProxy:
    """A TCP proxy to PostgreSQL that the test can cut (connections dropped, new ones
    refused) and restore: the database going away for the worker, and coming back."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, free_port()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        for each in self.connections:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()
        self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.target)
            self.connections += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, sink):
                with contextlib.suppress(OSError):
                    each.close()


@pytest.mark.slow
def test_a_database_away_for_20_s_costs_the_worker_one_line_and_no_work(
    app_config, redis_server, tmp_path
):
    from sqlalchemy.engine import make_url

    url = make_url(app_config["database_url"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("a database server to cut off: needs HOTLINE_TEST_DATABASE_URL (PostgreSQL)")
    proxy = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    redis_server.start()
    app = create_app({**app_config, "redis_url": redis_server.url})
    engine = app.extensions["hotline.engine"]
    worker = Worker(
        environment(
            app_config, HOTLINE_REDIS_URL=redis_server.url, HOTLINE_DATABASE_URL=through_proxy
        ),
        tmp_path / "worker.log",
    )
    twilio = Twilio(app)
    try:
        for n in range(5):
            call_in(twilio, n)
        assert wait_until(lambda: len(announced(engine)) == 5, 30), worker.log
        proxy.cut()
        for n in range(5, 15):  # the web still reaches the database; the worker does not
            call_in(twilio, n)
        time.sleep(20)
        proxy.restore()
        assert wait_until(lambda: len(announced(engine)) == 15, 150), worker.log
        assert worker.running(), worker.log
    finally:
        worker.stop()
        proxy.cut()

    times_announced = Counter(int(i) for i in ANNOUNCED.findall(worker.log))
    assert sorted(times_announced.values()) == [1] * 15
    # One line when the database went, one when it came back; no traceback.
    assert worker.log.count("database unavailable (OperationalError)") == 1, worker.log
    assert worker.log.count("database is back") == 1, worker.log
    assert "Traceback" not in worker.log
