"""A local stand-in for Twilio's Messages API that adds no latency of its own.

It answers ``POST /2010-04-01/Accounts/<sid>/Messages.json`` with Twilio's 201 and a new
``SM...`` sid, after checking HTTP basic auth like Twilio, and counts what it accepted.
Its sockets disable Nagle's algorithm (``TCP_NODELAY``): the answer's headers and body go
out as two writes, and with Nagle's algorithm and the client's delayed ACK each request
would wait ~40 ms that production never sees.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "b7" * 16
AUTH_TOKEN = "e" * 32
MESSAGES = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json")


@dataclass
class Counts:
    """What the stand-in saw: messages accepted, requests refused."""

    accepted: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twilio.com
    disable_nagle_algorithm = True  # TCP_NODELAY on every accepted socket
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: thousands of request lines say nothing."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        match = MESSAGES.fullmatch(self.path.split("?", 1)[0])
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if not match or self.headers.get("Authorization") != expected or not form.get("To"):
            with self.server.counts.lock:
                self.server.counts.refused += 1
            return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        sid = "SM" + secrets.token_hex(16)
        with self.server.counts.lock:
            self.server.counts.accepted += 1
        self._answer(
            201,
            {
                "sid": sid,
                "account_sid": match[1],
                "to": form["To"],
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form.get("Body", ""),
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{match[1]}/Messages/{sid}.json",
            },
        )

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.counts = Counts()


def start_standin() -> tuple[str, Counts, Callable[[], None]]:
    """Serve the stand-in on a free port; returns its base URL, its counts and a stop."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, name="twilio-standin", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}", server.counts, stop
