"""Load generators: wrk for one kind of request at a time, and simulated callers.

``run_wrk`` drives a server with Debian's ``wrk`` (C, epoll): pages with a session
cookie, or signed Twilio webhooks precomputed into a file that ``wrk_requests.lua``
sends once each. Its own CPU time is measured (``os.wait4``) and reported beside the
server's, so a table shows that the load generator is not the bottleneck.

``walk_calls`` is for what wrk cannot do: simulated calls that each walk the whole menu
over their own keep-alive connection, waiting between steps like a caller listening,
signing every webhook as Twilio does. It runs in this process (asyncio); its CPU time is
reported too, and the same walk against the bare-TwiML ceiling shows how fast it can go.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import resource
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from twilio.request_validator import RequestValidator

from benchmarks.servers import Server, cpu_seconds

LUA = Path(__file__).with_name("wrk_requests.lua")
WRK_THREADS = 2


def wrk_path() -> str | None:
    """The wrk program, or None when it is not installed."""
    return shutil.which("wrk")


def signed_requests(calls: list[dict], base_url: str, token: str, prefix: str = "") -> str:
    """Write ``calls`` ({"path", "form"}) as wrk_requests.lua's lines; returns the file.

    Signed for ``base_url`` + path, as Twilio signs them; ``prefix`` goes in front of the
    path sent (the ceilings app serves /bare/..., /update/...), not of the path signed.
    """
    validator = RequestValidator(token)
    handle, name = tempfile.mkstemp(prefix="bench-requests-", suffix=".tsv")
    with os.fdopen(handle, "w") as out:
        for call in calls:
            signature = validator.compute_signature(base_url + call["path"], call["form"])
            body = urllib.parse.urlencode(call["form"])
            out.write(f"{prefix}{call['path']}\t{body}\t{signature}\n")
    return name


def run_wrk(
    server: Server,
    path: str,
    *,
    connections: int,
    seconds: float,
    requests_file: str | None = None,
    headers: dict[str, str] | None = None,
    wrap: bool = False,
) -> dict:
    """Drive ``server`` with wrk; figures: req/s, latency percentiles (ms), errors, CPU.

    With ``requests_file`` each of its requests is sent once (the thread stops when it has
    sent all of its share: ``exhausted``), or round and round with ``wrap`` (ceilings,
    which do the same work for a request sent again)."""
    result = tempfile.mktemp(prefix="bench-wrk-", suffix=".json")
    threads = min(WRK_THREADS, connections)
    env = {
        **os.environ,
        "BENCH_RESULT": result,
        "BENCH_THREADS": str(threads),
        "BENCH_REQUESTS": requests_file or "",
        "BENCH_WRAP": "1" if wrap else "",
    }
    command = [
        wrk_path() or "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "15s",
        "-s",
        str(LUA),
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(server.url + path)
    settle(server)
    server_cpu = cpu_seconds(server.pids())
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read().decode() + process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    server_cpu = cpu_seconds(server.pids()) - server_cpu
    if status != 0 or not os.path.exists(result):
        raise RuntimeError(f"wrk failed ({status}): {output[-2000:]}")
    raw = json.loads(Path(result).read_text())
    os.unlink(result)
    if requests_file:
        os.unlink(requests_file)
    count = raw["requests"]
    duration = raw["duration_us"] / 1e6
    errors = sum(
        raw[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    loadgen = usage.ru_utime + usage.ru_stime
    return {
        "requests": count,
        "seconds": round(duration, 2),
        "per_second": round(count / duration, 1) if duration else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "bytes_per_response": round(raw["bytes"] / count) if count else 0,
        "connections": connections,
        "exhausted": bool(raw["threads_exhausted"]),
        "loadgen_cpu_ms_per_request": round(1000 * loadgen / count, 3) if count else None,
        "server_cpu_ms_per_request": round(1000 * server_cpu / count, 3) if count else None,
    }


def settle(server: Server, *, idle: float = 0.02, seconds: float = 30) -> None:
    """Wait until ``server`` is idle: a load generator that stopped leaves requests in
    the listen backlog, which gunicorn still serves; the next measurement must not pay."""
    deadline = time.monotonic() + seconds
    before = cpu_seconds(server.pids())
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(server.pids())
        if now - before <= idle:
            return
        before = now


# --- simulated calls -------------------------------------------------------------------

# Language Dutch, "I need help", groceries, postcode 3000, today, no message: the request
# is made, then the reference is read back; then the call's end (status callback).
WALK = ("1", "1", "1", "3000", "1", "")
INTAKE_STEP = len(WALK)  # the webhook after the last key: request + outbox committed
ACTION = re.compile(rb'action="([^"]+)"')


@dataclass
class CallPlan:
    """What one simulated call says: its CallSid and the caller's number."""

    call_sid: str
    caller: str


class _Connection:
    """One keep-alive HTTP/1.1 connection with TCP_NODELAY (asyncio streams)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{head}"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _walk_one(
    plan, port, base_url, validator, prefix, think, rng, line_number, latencies, errors
) -> None:
    connection = _Connection(port)
    form = {
        "CallSid": plan.call_sid,
        "From": plan.caller,
        "To": line_number,
        "AccountSid": "AC" + "0" * 32,
    }
    path = "/twilio/voice"
    try:
        for step in range(len(WALK) + 2):
            if step == len(WALK) + 1:
                path, fields = "/twilio/voice/status", {**form, "CallStatus": "completed"}
            elif step == 0:
                fields = {**form, "CallStatus": "ringing"}
            else:
                pressed = WALK[step - 1]
                fields = {**form, "Digits": pressed} if pressed else form
            signature = validator.compute_signature(base_url + path, fields)
            body = urllib.parse.urlencode(fields).encode()
            started = time.perf_counter()
            status, payload = await connection.post(
                prefix + path, body, {"X-Twilio-Signature": signature}
            )
            latencies.setdefault(step, []).append(time.perf_counter() - started)
            if status not in (200, 204):
                errors.append(f"step {step}: HTTP {status}")
                return
            if step <= len(WALK):
                actions = ACTION.findall(payload)
                if step < len(WALK) and not actions:
                    errors.append(f"step {step}: the answer waits for nothing")
                    return
                if actions:
                    path = actions[-1].decode().replace("&amp;", "&").removeprefix(base_url)
            await asyncio.sleep(rng.uniform(*think))
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def walk_calls(
    server: Server,
    *,
    calls: int,
    rounds: int,
    think: tuple[float, float],
    base_url: str,
    token: str,
    line_number: str,
    first_caller: int,
    prefix: str = "",
) -> dict:
    """``calls`` simultaneous calls walk the whole menu, ``rounds`` times over.

    Each call starts at a random moment within the first pause, then answers each menu
    after a pause drawn from ``think`` (seconds), as a caller who listens to the menu
    first. Every call is new (its own CallSid and caller). Figures: p50 and p99 per step
    and for the intake step, errors, webhooks per second, this process's CPU.
    """
    rng = random.Random(7)
    validator = RequestValidator(token)
    latencies: dict[int, list[float]] = {}
    errors: list[str] = []
    settle(server)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = cpu_seconds(server.pids())
    started = time.perf_counter()

    async def main() -> None:
        for round_number in range(rounds):
            plans = [
                CallPlan(
                    f"CA{rng.getrandbits(128):032x}",
                    f"+32473{first_caller + round_number * calls + index:06d}",
                )
                for index in range(calls)
            ]

            async def one(plan: CallPlan) -> None:
                await asyncio.sleep(rng.uniform(0, think[1]))
                await _walk_one(
                    plan,
                    server.port,
                    base_url,
                    validator,
                    prefix,
                    think,
                    rng,
                    line_number,
                    latencies,
                    errors,
                )

            await asyncio.gather(*(one(plan) for plan in plans))

    asyncio.run(main())
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    server_cpu = cpu_seconds(server.pids()) - server_cpu
    everything = sorted(value for values in latencies.values() for value in values)
    steps = sorted(
        value for step, values in latencies.items() if step != INTAKE_STEP for value in values
    )
    intake = sorted(latencies.get(INTAKE_STEP, []))
    return {
        "calls": calls * rounds,
        "webhooks": len(everything),
        "seconds": round(elapsed, 1),
        "per_second": round(len(everything) / elapsed, 1),
        "step_p50_ms": _percentile(steps, 50),
        "step_p99_ms": _percentile(steps, 99),
        "intake_p50_ms": _percentile(intake, 50),
        "intake_p99_ms": _percentile(intake, 99),
        "errors": len(errors),
        "first_errors": errors[:3],
        "think_seconds": list(think),
        "loadgen_cpu_ms_per_request": round(1000 * own_cpu / len(everything), 3)
        if everything
        else None,
        "server_cpu_ms_per_request": round(1000 * server_cpu / len(everything), 3)
        if everything
        else None,
    }


def _percentile(values: list[float], percent: float) -> float | None:
    """The ``percent``-th percentile of sorted ``values``, in ms (nearest rank)."""
    if not values:
        return None
    rank = max(0, min(len(values) - 1, round(percent / 100 * len(values) + 0.5) - 1))
    return round(1000 * values[rank], 2)
