"""How fast a Twilio webhook answers, against a bare Flask endpoint measured in the same run.

Starts gunicorn (2 sync workers, like `hotline serve`) twice on 127.0.0.1:
  1. baseline: a bare Flask app that answers every POST with a fixed TwiML string;
  2. hotline: the real app on a fresh SQLite file (WAL) and an embedded Redis.
Each is loaded by client processes posting signed webhooks for a bounded time:
  --webhook voice: `POST /twilio/voice`, every one a new call (new CallSid: a vault
    write, a call session, the first menu);
  --webhook sms: `POST /twilio/sms`, every one a new text (new MessageSid) from one of
    1,000 registered volunteers, answered in TwiML (found by keyed hash, stored redacted,
    their open offers read, the answer stored for retries).
Prints requests/s, latency percentiles and the ratio to the baseline.

    .venv/bin/python benchmarks/webhook_throughput.py [--webhook voice|sms] [--seconds 10]

Twilio gives a webhook 15 s; the figure that matters is p99 latency, far below that.
Only loopback traffic; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
from pathlib import Path

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
BASELINE_APP = textwrap.dedent(
    """
    from flask import Flask, Response

    app = Flask(__name__)
    TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welkom</Say></Response>'

    @app.post("/twilio/<path:webhook>")
    def webhook(webhook):
        return Response(TWIML, mimetype="text/xml")
    """
)
VOLUNTEERS = 1000  # each sends at most ~5 texts a run: below the SMS rate limit
SEED_VOLUNTEERS = textwrap.dedent(
    f"""
    from datetime import date
    from sqlmodel import Session
    from hotline import create_app
    from hotline.db import line_row
    from hotline.volunteers import VolunteerDetails, create_volunteer

    app = create_app()
    settings = app.extensions["hotline.settings"]
    with app.app_context(), Session(app.extensions["hotline.engine"]) as session:
        for number in range({VOLUNTEERS}):
            create_volunteer(
                session,
                line=settings.lines["leuven"],
                line_row=line_row(session, settings, "leuven"),
                secrets=settings.secrets,
                details=VolunteerDetails(
                    name=f"Volunteer {{number}}", postcode="3000", languages=["nl"],
                    skills=["groceries"], safety_accepted_on=date(2020, 3, 20),
                ),
                mobile_number=f"+3247010{{number:04d}}",
                operator_id=None,
            )
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def webhook_params(webhook: str) -> dict[str, str]:
    """One new call, or one new text from a registered volunteer."""
    if webhook == "sms":
        return {
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": f"+3247010{secrets.randbelow(VOLUNTEERS):04d}",
            "To": "+32470272772",
            "Body": "Wat moet ik doen?",
        }
    return {
        "CallSid": "CA" + secrets.token_hex(16),
        "From": f"+32470{secrets.randbelow(10**6):06d}",
        "To": "+3216272772",
    }


def client(port: int, token: str, webhook: str, seconds: float, results) -> None:
    """Post new webhooks over one keep-alive connection until time is up; report latencies."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    validator = RequestValidator(token)
    path = f"/twilio/{webhook}"
    url = f"http://127.0.0.1:{port}{path}"
    latencies, errors = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        params = webhook_params(webhook)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        started = time.perf_counter()
        connection.request("POST", path, urllib.parse.urlencode(params), headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        errors += response.status != 200
    results.put((latencies, errors))


def measure(port: int, token: str, webhook: str, seconds: float, clients: int) -> dict:
    results = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=client, args=(port, token, webhook, seconds, results))
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    latencies, errors = [], 0
    for _ in workers:
        batch, failed = results.get(timeout=seconds + 60)
        latencies += batch
        errors += failed
    for worker in workers:
        worker.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "errors": errors,
    }


def serve(module_dir: Path, app_path: str, environment: dict[str, str]) -> tuple:
    port = free_port()
    # Signatures are checked against the public address: here, the port we serve on.
    environment = {**environment, "HOTLINE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app_path],
        cwd=module_dir, env=environment,
    )  # fmt: skip
    wait_until_listening(port)
    return port, process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webhook", choices=("voice", "sms"), default="voice")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    (work / "baseline_app.py").write_text(BASELINE_APP)
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")
    }
    environment.update(HOTLINE_INSTANCE_PATH=str(work / "instance"), HOTLINE_LOG_LEVEL="WARNING")

    # Migrate and start the embedded Redis once, before the workers share them.
    subprocess.run(
        [sys.executable, "-m", "hotline.cli", "db", "upgrade"], env=environment, check=True
    )
    if options.webhook == "sms":
        subprocess.run([sys.executable, "-c", SEED_VOLUNTEERS], env=environment, check=True)
    token = json.loads((work / "instance" / "demo-secrets.json").read_text())["twilio_auth_token"]

    figures = {}
    for name, module_dir, app_path in (
        ("baseline", work, "baseline_app:app"),
        ("hotline", ROOT, "hotline.wsgi:app"),
    ):
        port, process = serve(module_dir, app_path, environment)
        try:
            measure(port, token, options.webhook, 1, 1)  # warm up: imports, first Redis start
            figures[name] = measure(port, token, options.webhook, options.seconds, options.clients)
        finally:
            process.terminate()
            process.wait(timeout=30)
    base = figures["baseline"]["per_second"]
    print(f"{'':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs baseline':>12}")
    for name, row in figures.items():
        print(
            f"{name:10} {row['per_second']:9.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f}"
            f" {row['errors']:7d} {row['per_second'] / base:11.0%}"
        )
    if any(row["errors"] for row in figures.values()):
        sys.exit("some requests failed: the figures above do not measure the real work")
    print(
        f"\n{options.clients} clients, {options.seconds:.0f} s each, gunicorn 2 sync workers, "
        f"SQLite (WAL) + embedded Redis; POST /twilio/{options.webhook}, every request new. "
        "Twilio's limit: 15,000 ms."
    )


if __name__ == "__main__":
    main()
