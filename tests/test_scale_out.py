"""More than one machine: two web instances and two workers behind a real load balancer.

The test starts what compose.yaml names for migrate, web1, web2, worker1 and worker2,
with .venv's `hotline` in place of the image's and a local port in place of
0.0.0.0:8000. They run in production mode, configured from .env.example filled in with
fresh secrets. Around them: a PostgreSQL database of their own (on the server of
HOTLINE_TEST_DATABASE_URL), a redis-server of their own started with compose's redis
arguments, and HAProxy (Debian's, which .ci/run installs) running deploy/haproxy.cfg:
round robin, TLS with a throw-away certificate.

Then 200 callers ring at once. Each call walks the Leuven flow over real HTTPS through
the load balancer, signed the way Twilio signs (over the load balancer's public URL),
until it hears its reference, and ends with Twilio's status callback. HAProxy's log,
which captures Twilio's user agent, shows which instance served each step.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
import requests
import sqlalchemy as sa
from rq.job import Job
from rq.registry import FinishedJobRegistry
from twilio.request_validator import RequestValidator

from hotline.db import make_engine
from hotline.queue import failed_job_counts
from tests.conftest import LEUVEN_NUMBER, ROOT
from tests.test_deploy_files import HAPROXY_CFG, compose_services, filled_env, tool
from tests.test_deploy_files import write_certificate as write_lb_certificate
from tests.test_ivr_webhooks import (
    CATEGORIES,
    REFERENCE_IS,
    STEP_URL,
    WELCOME_KEY,
    assert_documented_twiml,
)

pytestmark = pytest.mark.slow

CALLS = 200
CONCURRENT = 100  # callers in the menus at the same moment
POSTCODES = ("3000", "3001", "3010", "3012", "3018")
LANGUAGES = ("nl", "fr", "en")
# HAProxy's httplog line: "... hotline~ web/web2 0/0/0/11/11 200 ... {TwilioProxy/1.1 (call 17)}"
SERVED = re.compile(r" web/(web\d) .*\{TwilioProxy/1\.1 \(call (\d+)\)\}")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def needs(name: str) -> str:
    """The path of a program the test runs; CI installs it, so only a developer may lack it."""
    found = tool(name)
    if found is None:
        message = f"{name} is not installed (Debian: apt-get install {name}; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


# -- the processes --------------------------------------------------------------------------------


class Processes:
    """The processes this test started, each in a session of its own, logging to a file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with (self.folder / f"{name}.log").open("wb") as log:
            self.running[name] = subprocess.Popen(
                command,
                env=env,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: gunicorn's workers stop with it
            )

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def assert_running(self) -> None:
        for name, process in self.running.items():
            assert process.poll() is None, (
                f"{name} exited ({process.returncode}):\n{self.log(name)}"
            )

    def stop_all(self) -> None:
        """Newest first (the load balancer before the instances, Redis last): SIGTERM to each
        process group, so that gunicorn and rq stop gracefully; SIGKILL when one is still
        there after 15 s."""
        for process in reversed(self.running.values()):
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=5)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(process.pid, signum)


def wait_until(ready, what: str, processes: Processes, timeout: float = 60) -> None:
    """Poll ``ready()`` until it is true; fail with the logs when a process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.assert_running()
        try:
            if ready():
                return
        except (OSError, requests.RequestException, redis.RedisError):
            pass
        time.sleep(0.2)
    logs = "\n".join(f"--- {name}\n{processes.log(name)[-3000:]}" for name in processes.running)
    pytest.fail(f"{what} not ready after {timeout} s\n{logs}")


@dataclass
class Stack:
    """The running deployment as the test sees it."""

    public_url: str  # the load balancer, as Twilio calls it
    certificate: Path
    auth_token: str
    database_url: str
    redis_url: str
    processes: Processes


def with_local_bind(command: list[str], port: int) -> list[str]:
    """compose's `serve --bind 0.0.0.0:8000 ...` with a local port instead."""
    bound = list(command)
    bound[bound.index("--bind") + 1] = f"127.0.0.1:{port}"
    return bound


@pytest.fixture
def database_of_its_own() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server; dropped afterwards."""
    server = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if not server:
        pytest.skip("needs PostgreSQL: set HOTLINE_TEST_DATABASE_URL (CI's second run does)")
    name = f"hotline_scale_out_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack(database_of_its_own, tmp_path) -> Iterator[Stack]:
    """migrate, web1, web2, worker1, worker2 as compose.yaml runs them, redis-server and
    HAProxy beside them; every process is stopped afterwards, whatever happened."""
    haproxy, redis_server = needs("haproxy"), needs("redis-server")
    hotline = tool("hotline")  # the virtualenv's, in place of the image's
    assert hotline, "the hotline command is not installed beside this Python"
    services = compose_services()
    processes = Processes(tmp_path)
    ports = {name: free_port() for name in ("redis", "web1", "web2", "lb_http", "lb_https")}
    public_url = f"https://127.0.0.1:{ports['lb_https']}"
    redis_url = f"redis://127.0.0.1:{ports['redis']}/0"
    environment = filled_env(
        HOTLINE_DATABASE_URL=database_of_its_own,
        HOTLINE_REDIS_URL=redis_url,
        HOTLINE_PUBLIC_BASE_URL=public_url,
        # What the image sets (Dockerfile ENV), with this checkout's paths.
        HOTLINE_CONFIG=str(ROOT / "config.toml"),
        HOTLINE_INSTANCE_PATH=str(tmp_path / "instance"),
        PYTHONUNBUFFERED="1",
        # Nothing here may call Twilio; should anything try, it reaches no one.
        HOTLINE_TWILIO_API_BASE_URL="https://127.0.0.1:9",
    )
    app_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))},
        **environment,
    }
    certificate = write_lb_certificate(tmp_path / "certs")
    try:
        redis_command = services["redis"]["command"]
        assert redis_command[0] == "redis-server"
        processes.start(
            "redis",
            [redis_server, *redis_command[1:], "--port", str(ports["redis"]),
             "--bind", "127.0.0.1", "--dir", str(tmp_path)],
            app_env,
        )  # fmt: skip
        wait_until(lambda: redis.Redis.from_url(redis_url).ping(), "redis-server", processes)

        migrate = subprocess.run(
            [hotline, *services["migrate"]["command"]],
            env=app_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr

        for name in ("web1", "web2"):
            command = with_local_bind(services[name]["command"], ports[name])
            processes.start(name, [hotline, *command], app_env)
        for name in ("worker1", "worker2"):
            processes.start(name, [hotline, *services[name]["command"]], app_env)
        for name in ("web1", "web2"):
            url = f"http://127.0.0.1:{ports[name]}/health"
            wait_until(lambda url=url: requests.get(url, timeout=2).ok, name, processes)

        processes.start(
            "lb",
            [haproxy, "-db", "-f", str(HAPROXY_CFG)],
            {
                **os.environ,
                "HOTLINE_LB_HTTP_BIND": f"127.0.0.1:{ports['lb_http']}",
                "HOTLINE_LB_HTTPS_BIND": f"127.0.0.1:{ports['lb_https']}",
                "HOTLINE_LB_CERTS": str(certificate),
                "HOTLINE_WEB1": f"127.0.0.1:{ports['web1']}",
                "HOTLINE_WEB2": f"127.0.0.1:{ports['web2']}",
            },
        )
        wait_until(
            lambda: requests.get(f"{public_url}/health", verify=str(certificate), timeout=2).ok,
            "the load balancer",
            processes,
        )
        yield Stack(
            public_url=public_url,
            certificate=certificate,
            auth_token=environment["TWILIO_AUTH_TOKEN"],
            database_url=database_of_its_own,
            redis_url=redis_url,
            processes=processes,
        )
    finally:
        processes.stop_all()


# -- the callers ----------------------------------------------------------------------------------


@dataclass
class CallResult:
    index: int
    reference: str | None = None
    error: str | None = None
    latencies: list[float] = field(default_factory=list)


class Caller:
    """One caller whose call Twilio relays, webhook by webhook, to the load balancer."""

    def __init__(self, index: int, stack: Stack, session: requests.Session):
        self.index = index
        self.stack = stack
        self.session = session
        self.validator = RequestValidator(stack.auth_token)
        self.result = CallResult(index)
        # Made-up mobile numbers: they go into the vault encrypted and nowhere else.
        self.params = {
            "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01",
            "CallSid": "CA" + uuid.uuid4().hex, "From": f"+3247{1000000 + index:07d}",
            "To": LEUVEN_NUMBER, "Direction": "inbound", "CallStatus": "in-progress",
        }  # fmt: skip

    def post(self, path: str, **extra: str) -> requests.Response:
        params = {**self.params, **extra}
        headers = {
            "X-Twilio-Signature": self.validator.compute_signature(
                self.stack.public_url + path, params
            ),
            # Twilio's user agent, and which call this is, for HAProxy's log.
            "User-Agent": f"TwilioProxy/1.1 (call {self.index})",
        }
        started = time.perf_counter()
        response = self.session.post(
            self.stack.public_url + path,
            data=params,
            headers=headers,
            # Per request: a session's own verify loses to REQUESTS_CA_BUNDLE when that is set.
            verify=str(self.stack.certificate),
            timeout=15,
        )
        self.result.latencies.append(time.perf_counter() - started)
        return response

    def twiml(self, path: str, **extra: str) -> ET.Element:
        response = self.post(path, **extra)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        assert response.headers["Content-Type"].startswith("text/xml"), response.headers
        root = ET.fromstring(response.content)
        assert_documented_twiml(root)
        return root


def action(root: ET.Element) -> str:
    """Where Twilio posts what the caller does next: the action of the verb that waits."""
    waiting = [element for element in root if element.tag in ("Gather", "Record")]
    assert waiting, ET.tostring(root)
    url = waiting[-1].get("action")
    assert STEP_URL.fullmatch(url), url
    return url


def heard_reference(root: ET.Element, language: str) -> str:
    """The six digits read after "your reference number is", checked against the repeat."""
    says = [say.findtext("prosody") for say in root.iter("Say")]
    lead, again = REFERENCE_IS[language]
    first = says[says.index(lead) + 1 : says.index(lead) + 7]
    second = says[says.index(again) + 1 : says.index(again) + 7]
    assert first == second and all(re.fullmatch(r"\d", digit) for digit in first), says
    assert root[-1].tag == "Hangup", ET.tostring(root)
    return "".join(first)


def walk(caller: Caller) -> CallResult:
    """A whole call: language, "I need help", a category, a postcode, the urgency, a message
    (or none), the reference; then Twilio's status callback."""
    index = caller.index
    language = LANGUAGES[index % len(LANGUAGES)]
    categories = list(CATEGORIES)
    try:
        answer = caller.twiml("/twilio/voice", CallStatus="ringing")
        answer = caller.twiml(action(answer), Digits=WELCOME_KEY[language])
        answer = caller.twiml(action(answer), Digits="1")  # I need help
        answer = caller.twiml(action(answer), Digits=categories[index % len(categories)])
        answer = caller.twiml(action(answer), Digits=POSTCODES[index % len(POSTCODES)])
        answer = caller.twiml(action(answer), Digits=str(1 + index % 2))  # today, coming days
        assert [element.tag for element in answer][-2:] == ["Record", "Redirect"]
        if index % 2:
            recording_sid = "RE" + uuid.uuid4().hex
            answer = caller.twiml(
                action(answer),
                RecordingSid=recording_sid,
                RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}"
                f"/Recordings/{recording_sid}",
                RecordingDuration="9",
                Digits="#",
            )
        else:  # nothing said after the beep: Twilio follows the <Redirect>
            answer = caller.twiml(answer.find("Redirect").text)
        caller.result.reference = heard_reference(answer, language)
        ended = caller.post("/twilio/voice/status", CallStatus="completed", CallDuration="94")
        assert ended.status_code == 204, f"status callback: {ended.status_code} {ended.text}"
    except Exception as error:  # every failure is counted and shown, none stops the others
        caller.result.error = f"call {index}: {type(error).__name__}: {error}"[:2000]
    return caller.result


def ring(stack: Stack) -> tuple[list[CallResult], float]:
    """CALLS calls, CONCURRENT at a time, each caller thread on its own keep-alive session
    (Twilio, too, reuses connections); returns the results and the wall-clock seconds."""
    local = threading.local()
    sessions: list[requests.Session] = []

    def one_call(index: int) -> CallResult:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        return walk(Caller(index, stack, local.session))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        results = list(pool.map(one_call, range(CALLS)))
    elapsed = time.perf_counter() - started
    for session in sessions:
        session.close()
    return results, elapsed


# -- the test -------------------------------------------------------------------------------------


def test_200_simultaneous_calls_through_two_instances_and_two_workers(stack):
    results, elapsed = ring(stack)

    errors = [result.error for result in results if result.error]
    assert errors == [], f"{len(errors)} of {CALLS} calls failed; first: " + "\n".join(errors[:5])
    heard = [result.reference for result in results]
    assert len(set(heard)) == CALLS

    # The steps of the calls landed on both instances: HAProxy says which served each.
    served: dict[int, set[str]] = defaultdict(set)
    per_instance: Counter[str] = Counter()
    for match in SERVED.finditer(stack.processes.log("lb")):
        served[int(match[2])].add(match[1])
        per_instance[match[1]] += 1
    requests_made = sum(len(result.latencies) for result in results)
    assert sum(per_instance.values()) == requests_made
    on_both = sum(1 for instances in served.values() if instances == {"web1", "web2"})
    assert on_both >= 0.9 * CALLS, f"only {on_both} calls used both instances"
    assert min(per_instance.values()) >= 0.4 * requests_made, per_instance

    # Every request is in the database, and the workers announced each one to operators.
    engine = make_engine(stack.database_url)
    try:
        deadline = time.monotonic() + 30
        while True:
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.text("SELECT reference, created_at, announced_at FROM help_request")
                ).all()
            if all(row.announced_at for row in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    assert sorted(row.reference for row in rows) == sorted(heard)
    assert all(row.announced_at for row in rows), "not every request was announced in 30 s"
    # Written with its outbox row, queued at once, taken by whichever worker is free.
    waited = max((row.announced_at - row.created_at).total_seconds() for row in rows)
    assert waited < 30, f"a request waited {waited:.1f} s to be announced"

    # Both workers took part, and no job failed.
    connection = redis.Redis.from_url(stack.redis_url)
    finished = FinishedJobRegistry("intake", connection=connection).get_job_ids()
    jobs = [job for job in Job.fetch_many(finished, connection=connection) if job]
    by_worker = Counter(job.worker_name for job in jobs)
    assert len(jobs) == CALLS and len(by_worker) == 2, by_worker
    assert set(failed_job_counts(connection).values()) == {0}
    connection.close()
    stack.processes.assert_running()

    latencies = sorted(latency for result in results for latency in result.latencies)
    print(
        f"\n{CALLS} calls ({CONCURRENT} at a time, {requests_made} webhooks) through HAProxy "
        f"to 2 web instances in {elapsed:.1f} s: {CALLS / elapsed:.1f} calls/s, "
        f"{requests_made / elapsed:.0f} webhooks/s, p50 {latencies[len(latencies) // 2] * 1000:.0f}"
        f" ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms; "
        f"per instance {dict(per_instance)}; per worker {sorted(by_worker.values())}; "
        f"announced at most {waited:.1f} s after it was made"
    )
