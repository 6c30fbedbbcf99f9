"""The benchmark's world: a database, Redis, the production server and the ceiling server.

Everything a run makes is its own: a temporary instance folder, a SQLite file there or a
PostgreSQL database ``bench_<pid>`` (created and dropped; never the ``test`` database the
test suite uses), and a Redis database of its own (one of 8–14 on 127.0.0.1:6379, claimed
for the run; the embedded Redis when no server answers there).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "HOTLINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# The shared Redis server's databases a benchmark run may use. Each run claims one (a key
# in database 0, with an expiry in case a run is killed): two runs at once, such as CI's
# SQLite and PostgreSQL runs side by side, once flushed each other's jobs mid-measurement.
REDIS_DBS = range(8, 15)
REDIS_CLAIM = "hotline-benchmarks:redis-db:{}"
REDIS_CLAIM_SECONDS = 4 * 3600
WEB_WORKERS = 2  # hotline serve's default, and the README's sizing


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_answers() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Server:
    """A gunicorn master (``hotline serve`` or the ceilings) and how to reach it."""

    name: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def worker_pids(self) -> list[int]:
        return [pid for pid in self.pids() if pid != self.process.pid]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Environment:
    """One run's database, Redis and instance folder, and the environment of its processes."""

    database: str  # sqlite | postgresql
    work: Path
    env: dict[str, str]
    database_url: str
    redis_url: str | None
    web_port: int
    postgres_name: str | None = None
    servers: list[Server] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)

    @classmethod
    def create(
        cls, database: str, *, twilio_api_base_url: str, account_sid: str, auth_token: str
    ) -> Environment:
        """Make the folder, the database (migrated) and the Redis database of a run."""
        work = Path(tempfile.mkdtemp(prefix=f"hotline-bench-{database}-"))
        web_port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")}
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT)])
        if "HOTLINE_CONFIG" in os.environ:
            env["HOTLINE_CONFIG"] = os.environ["HOTLINE_CONFIG"]
        env.update(
            HOTLINE_INSTANCE_PATH=str(work / "instance"),
            # Signatures are checked against the public address: here, the port we serve on.
            HOTLINE_PUBLIC_BASE_URL=f"http://127.0.0.1:{web_port}",
            HOTLINE_TWILIO_API_BASE_URL=twilio_api_base_url,
            TWILIO_ACCOUNT_SID=account_sid,
            TWILIO_AUTH_TOKEN=auth_token,
        )
        postgres_name = None
        if database == "postgresql":
            postgres_name = f"bench_{os.getpid()}"
            _postgres(f'DROP DATABASE IF EXISTS "{postgres_name}"')
            _postgres(f'CREATE DATABASE "{postgres_name}"')
            database_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{postgres_name}"
            env["HOTLINE_DATABASE_URL"] = database_url
        else:
            database_url = f"sqlite:///{work / 'instance' / 'hotline.sqlite3'}"
        redis_url = _claim_redis_db() if _redis_answers() else None
        if redis_url:
            env["HOTLINE_REDIS_URL"] = redis_url
        environment = cls(database, work, env, database_url, redis_url, web_port, postgres_name)
        environment.flush_redis()
        environment.run([sys.executable, "-m", "hotline.cli", "db", "upgrade"])
        return environment

    def run(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        """Run a command in this environment (cwd: the work folder); raise if it fails."""
        return subprocess.run(
            command,
            env=self.env,
            cwd=self.work,
            check=True,
            capture_output=True,
            text=True,
            **kwargs,
        )

    def seed(self, *arguments: str) -> dict:
        """``python -m benchmarks.seeding ...`` in this environment; its JSON answer."""
        try:
            done = self.run([sys.executable, "-m", "benchmarks.seeding", *arguments])
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"seeding {arguments[0]} failed:\n{error.stderr[-3000:]}") from None
        return json.loads(done.stdout.strip().splitlines()[-1])

    def flush_redis(self) -> None:
        """Empty this run's Redis database (only it)."""
        if self.redis_url:
            import redis

            redis.Redis.from_url(self.redis_url).flushdb()

    def start_web(self) -> Server:
        """``hotline serve`` as the README documents it: gunicorn, 2 sync workers."""
        bind = f"127.0.0.1:{self.web_port}"
        command = [
            sys.executable,
            "-m",
            "hotline.cli",
            "serve",
            "--bind",
            bind,
            "--workers",
            str(WEB_WORKERS),
        ]
        return self._start("hotline", self.web_port, command, "/health", self.env)

    def start_ceilings(self) -> Server:
        """The ceilings app under the same gunicorn command line as ``hotline serve``."""
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:hotline.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WEB_WORKERS),
            "--worker-class",
            "sync",
            "--no-control-socket",
            "benchmarks.ceilings:app",
        ]
        env = {**self.env, "BENCH_DATABASE_URL": self.database_url}
        return self._start("ceilings", port, command, "/page", env)

    def _start(self, name: str, port: int, command: list[str], probe: str, env) -> Server:
        log = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 (the server's own file)
        process = subprocess.Popen(command, env=env, cwd=self.work, stdout=log, stderr=log)
        server = Server(name, port, process)
        self.servers.append(server)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} server exited: see {self.work / (name + '.log')}")
            try:
                with urllib.request.urlopen(server.url + probe, timeout=5):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"{name} server does not answer on port {port}")
        # Both workers must be up (each imports the app) before anything is measured.
        while len(server.worker_pids()) < WEB_WORKERS and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        return server

    def start_workers(self, count: int) -> list[subprocess.Popen]:
        """``count`` processes of ``hotline worker``, as in production."""
        started = []
        for index in range(count):
            log = open(self.work / f"worker-{index}.log", "ab")  # noqa: SIM115
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "hotline.cli", "worker"],
                    env=self.env,
                    cwd=self.work,
                    stdout=log,
                    stderr=log,
                )
            )
        self.workers += started
        return started

    def stop_workers(self) -> None:
        """SIGTERM every worker (each finishes its job in hand) and wait for them."""
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers = []

    def close(self, keep: bool = False) -> None:
        """Stop everything this run started and remove what it made (``keep``: the folder)."""
        self.stop_workers()
        for server in self.servers:
            server.stop()
        self.servers = []
        self.flush_redis()
        if self.redis_url:
            _release_redis_db(self.redis_url)
        if self.redis_url is None:  # the embedded Redis of the instance folder
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from hotline import create_app; from hotline.queue "
                    "import get_redis; get_redis(create_app()).shutdown(save=False)",
                ],
                env=self.env,
                cwd=self.work,
                capture_output=True,
            )
        if self.postgres_name:
            _postgres(f'DROP DATABASE IF EXISTS "{self.postgres_name}" WITH (FORCE)')
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)


def _claim_redis_db() -> str | None:
    """The URL of a database of the shared Redis that no other benchmark run is using (None
    when all are taken: the run then uses the instance folder's embedded Redis)."""
    import redis

    claims = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    for number in REDIS_DBS:
        if claims.set(REDIS_CLAIM.format(number), os.getpid(), nx=True, ex=REDIS_CLAIM_SECONDS):
            return f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    return None


def _release_redis_db(redis_url: str) -> None:
    import redis

    number = int(redis_url.rsplit("/", 1)[1])
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0).delete(REDIS_CLAIM.format(number))


def _postgres(statement: str) -> None:
    import sqlalchemy as sa

    url = POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()
