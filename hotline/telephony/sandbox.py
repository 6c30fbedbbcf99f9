"""A local stand-in for Twilio's REST API: a real HTTP server for the real twilio client.

It speaks the part of the API the hotline uses (send an SMS, list a number's messages,
start a call, cancel one that still rings, download and delete a recording), checks HTTP
basic auth like Twilio, answers errors in Twilio's JSON shape, and records every request.
``hotline demo`` points the app at it, so that a demo sends nothing to Twilio's cloud;
the tests use it to see exactly what reached "Twilio". It imports nothing from twilio:
it is the other side of the wire.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from hotline.models import utcnow

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "f" * 32
API = "/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})"
RESOURCE = re.compile(API + r"/(?P<resource>Messages|Calls)\.json")
# POST …/Calls/CA….json updates a call (Status=canceled stops one that still rings).
CALL = re.compile(API + r"/Calls/(?P<sid>CA[0-9a-fA-F]{32})\.json")
# What a call may be updated to (Twilio's Call resource: Status), and from which states.
CALL_UPDATES = {
    "canceled": ("queued", "ringing"),
    "completed": ("queued", "ringing", "in-progress"),
}
# GET ….mp3 downloads a recording; DELETE ….json deletes it.
RECORDING = re.compile(API + r"/Recordings/(?P<sid>RE[0-9a-fA-F]{32})\.(?P<format>mp3|json)")
E164 = re.compile(r"\+[1-9]\d{6,14}")
# Enough of an MP3 frame header to look like audio, plus every byte value once, so a
# client that treats the body as text would be caught corrupting it.
SAMPLE_AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64" + bytes(range(256))


@dataclass
class TwilioRequest:
    """One request as the fake server received it."""

    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]
    authenticated: bool
    status: int = 0  # what the fake answered
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)
    answer_status: str | None = None  # a call's status in the fake's answer to an update
    created_sid: str | None = None  # the sid of the Message or Call it created

    @property
    def resource(self) -> str:
        """The last part of the path: "Messages.json", "Calls.json", "RE....mp3"."""
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Failure:
    """What the fake does to the next request for ``resource``: answer this error; with
    status 0 drop the connection; with -1 do what was asked, then drop the connection."""

    resource: str
    status: int
    code: int
    message: str


@dataclass
class FakeTwilio:
    """The server's state: credentials, recordings, queued failures, received requests."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    requests: list[TwilioRequest] = field(default_factory=list)
    recordings: dict[str, bytes] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)  # the Messages created, as Twilio lists them
    # The Calls created, by sid, as Twilio holds them; tests move them on (answer_call).
    placed: dict[str, dict] = field(default_factory=dict)
    answer_delay: float = 0.0  # seconds between creating a Message or Call and saying so
    url: str = ""
    # Called with every request that was answered (the demo prints a redacted line).
    on_request: Callable[[TwilioRequest], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, app_config: dict) -> dict:
        """``app_config`` (conftest's overrides) pointed at this server, with its credentials."""
        return {
            **app_config,
            "twilio_api_base_url": self.url,
            "secrets": {
                **app_config.get("secrets", {}),
                "twilio_account_sid": self.account_sid,
                "twilio_auth_token": self.auth_token,
            },
        }

    def add_recording(self, audio: bytes = SAMPLE_AUDIO) -> str:
        """Store a recording the way Twilio would after a call; returns its sid."""
        sid = "RE" + secrets.token_hex(16)
        self.recordings[sid] = audio
        return sid

    def fail_next(
        self, resource: str, *, status: int = 400, code: int = 21211, message: str = ""
    ) -> None:
        """Answer the next request whose path holds ``resource`` ("Messages.json", "Calls.json",
        "Recordings") with a Twilio error."""
        self.failures.append(Failure(resource, status, code, message or "Invalid request"))

    def disconnect_next(self, resource: str) -> None:
        """Drop the connection of the next request for ``resource`` without answering."""
        self.failures.append(Failure(resource, 0, 0, ""))

    def lose_answer_next(self, resource: str) -> None:
        """Create the next ``resource`` as asked, then drop the connection before answering:
        the sender cannot know that it went (a crash or a network cut at the worst moment)."""
        self.failures.append(Failure(resource, -1, 0, ""))

    def created(self, resource: str) -> list[TwilioRequest]:
        """The POSTs that created a ``resource`` ("Messages.json", "Calls.json")."""
        return [r for r in self.requests if r.resource == resource and r.status == 201]

    @property
    def messages(self) -> list[TwilioRequest]:
        """The SMS that "Twilio" accepted to send."""
        return self.created("Messages.json")

    @property
    def calls(self) -> list[TwilioRequest]:
        """The calls that "Twilio" accepted to start."""
        return self.created("Calls.json")

    @property
    def canceled_calls(self) -> list[str]:
        """The sids of the calls "Twilio" was asked to cancel while they still rang, in order."""
        return [
            r.resource.removesuffix(".json")
            for r in self.requests
            if r.method == "POST"
            and CALL.fullmatch(r.path)
            and r.form.get("Status") == "canceled"
            and r.status == 200
            and r.answer_status == "canceled"
        ]

    def call_status(self, sid: str) -> str | None:
        """A call's status as "Twilio" holds it now (queued, in-progress, canceled...)."""
        with self._lock:
            call = self.placed.get(sid)
            return call["status"] if call else None

    def answer_call(self, sid: str) -> None:
        """The phone rung for call ``sid`` picks up (Twilio would now fetch its Url)."""
        with self._lock:
            self.placed[sid]["status"] = "in-progress"

    def _keep_call(self, call: dict) -> None:
        with self._lock:
            self.placed[call["sid"]] = call

    def _update_call(self, sid: str, form: dict[str, str]) -> tuple[int, dict]:
        """Twilio's answer to an update of a call: what it holds now, or its error."""
        with self._lock:
            call = self.placed.get(sid)
            if call is None:
                return _error(404, 20404, f"The requested resource /Calls/{sid}.json was not found")
            wanted = form.get("Status")
            if wanted is not None:
                if wanted not in CALL_UPDATES:
                    return _error(400, 21218, f"Invalid Status: {wanted}")
                if call["status"] not in CALL_UPDATES[wanted]:
                    # Twilio leaves an answered call alone when asked to cancel it
                    if wanted == "canceled" and call["status"] == "in-progress":
                        return 200, dict(call)
                    return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
                call["status"] = wanted
            return 200, dict(call)

    @property
    def deleted_recordings(self) -> list[str]:
        """The sids of the recordings "Twilio" deleted when asked, in order."""
        return [
            r.resource.removesuffix(".json")
            for r in self.requests
            if r.method == "DELETE" and r.status == 204
        ]

    # --- what the handler asks --------------------------------------------------------

    def _record(self, request: TwilioRequest) -> Failure | None:
        with self._lock:
            self.requests.append(request)
            for failure in self.failures:
                if failure.resource in request.path:
                    self.failures.remove(failure)
                    return failure
        return None

    def _keep_message(self, message: dict) -> None:
        with self._lock:
            self.sent.append(message)

    def _message_page(self, account: str, path: str, query: dict[str, str]) -> dict:
        """Twilio's list of Messages, newest first, filtered by ``To`` like Twilio's."""
        size = min(int(query.get("PageSize") or 50), 1000)
        with self._lock:
            found = [m for m in reversed(self.sent) if query.get("To") in (None, m["to"])]
        return {
            "messages": found[:size],
            "page": 0,
            "page_size": size,
            "start": 0,
            "end": max(len(found[:size]) - 1, 0),
            "uri": path,
            "first_page_uri": path,
            "next_page_uri": None,
            "previous_page_uri": None,
        }

    def _authenticated(self, header: str, account: str) -> bool:
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        return (
            account == self.account_sid and header == "Basic " + base64.b64encode(expected).decode()
        )


def _error(status: int, code: int, message: str) -> tuple[int, dict]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _created(kind: str, account: str, form: dict[str, str]) -> tuple[int, dict]:
    """Twilio's answer to a valid create request (201 with the new resource)."""
    now = format_datetime(utcnow(), usegmt=True)
    common = {
        "account_sid": account,
        "api_version": "2010-04-01",
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "from": form.get("From"),
        "price": None,
        "price_unit": "USD",
        "to": form["To"],
    }
    if kind == "Messages":
        sid = "SM" + secrets.token_hex(16)
        return 201, {
            **common,
            "sid": sid,
            "body": form["Body"],
            "status": "queued",
            "num_segments": "1",
            "num_media": "0",
            "error_code": None,
            "error_message": None,
            "date_sent": None,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
    sid = "CA" + secrets.token_hex(16)
    return 201, {
        **common,
        "sid": sid,
        "status": "queued",
        "start_time": None,
        "end_time": None,
        "duration": None,
        "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
    }


def _validate(kind: str, form: dict[str, str]) -> tuple[int, dict] | None:
    """Twilio's 400s for missing or malformed parameters (its messages quote the number)."""
    if not form.get("To"):
        return _error(400, 21604, "A 'To' phone number is required.")
    if not E164.fullmatch(form["To"]):
        return _error(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
    if not form.get("From") and not (kind == "Messages" and form.get("MessagingServiceSid")):
        return _error(400, 21603, "A 'From' phone number is required.")
    if kind == "Messages" and not form.get("Body"):
        return _error(400, 21602, "Message body is required.")
    if kind == "Calls" and not (form.get("Url") or form.get("Twiml")):
        return _error(400, 21205, "Url parameter is required.")
    return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    received: TwilioRequest
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twilio.com

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: request lines hold nothing a test needs, and would clutter its output."""

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        form = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
        path = self.path.split("?", 1)[0]
        resource, recording = RESOURCE.fullmatch(path), RECORDING.fullmatch(path)
        call = CALL.fullmatch(path)
        match = resource or recording or call
        authenticated = bool(match) and fake._authenticated(
            self.headers.get("Authorization", ""), match["account"]
        )
        self.received = TwilioRequest(
            self.command, path, form, dict(self.headers.items()), authenticated
        )
        failure = fake._record(self.received)
        listing = resource is not None and resource["resource"] == "Messages"
        if match is None or (resource and self.command != "POST" and not listing):
            return self._json(*_error(404, 20404, f"The requested resource {path} was not found"))
        if not authenticated:
            return self._json(*_error(401, 20003, "Authenticate"), authenticate=True)
        if failure is not None and failure.status == -1 and resource is not None:
            kind = resource["resource"]
            status, created = _validate(kind, form) or _created(kind, resource["account"], form)
            if status == 201 and kind == "Messages":
                fake._keep_message(created)
            if status == 201 and kind == "Calls":
                fake._keep_call(created)
            self.received.status = status
            self.close_connection = True
            return None
        if failure is not None and failure.status == 0:
            self.close_connection = True  # like a network that gives up halfway
            return None
        if failure is not None:
            return self._json(*_error(failure.status, failure.code, failure.message))
        if call:
            if self.command != "POST":
                return self._json(*_error(405, 20004, "Method not allowed"))
            status, answer = fake._update_call(call["sid"], form)
            self.received.answer_status = answer.get("status") if status == 200 else None
            return self._json(status, answer)
        if recording:
            wanted = ("GET", "mp3") if recording["format"] == "mp3" else ("DELETE", "json")
            audio = fake.recordings.get(recording["sid"])
            if audio is None or (self.command, recording["format"]) != wanted:
                return self._json(
                    *_error(404, 20404, f"The requested resource {path} was not found")
                )
            if self.command == "DELETE":
                with fake._lock:
                    fake.recordings.pop(recording["sid"], None)
                return self._send(204, b"", "application/json")
            return self._send(200, audio, "audio/mpeg")
        kind = resource["resource"]
        if self.command == "GET":
            query = {k: v[0] for k, v in parse_qs(self.path.partition("?")[2]).items()}
            return self._json(200, fake._message_page(resource["account"], path, query))
        answer = _validate(kind, form) or _created(kind, resource["account"], form)
        if answer[0] == 201 and kind == "Messages":
            fake._keep_message(answer[1])
        if answer[0] == 201 and kind == "Calls":
            fake._keep_call(answer[1])
        if answer[0] == 201:
            self.received.created_sid = answer[1]["sid"]
            # Done, but the sender does not know yet: the moment a crash costs the most.
            time.sleep(fake.answer_delay)
        return self._json(*answer)

    def _json(self, status: int, payload: dict, *, authenticate: bool = False) -> None:
        extra = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if authenticate else {}
        self._send(status, json.dumps(payload).encode(), "application/json", extra)

    def _send(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.received.status = status
        if self.server.fake.on_request is not None:
            self.server.fake.on_request(self.received)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (a killed worker) is expected here, not a fault."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __init__(self, fake: FakeTwilio, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.fake = fake


def start_sandbox(
    *,
    account_sid: str = ACCOUNT_SID,
    auth_token: str = AUTH_TOKEN,
    port: int = 0,
    on_request: Callable[[TwilioRequest], None] | None = None,
) -> tuple[FakeTwilio, Callable[[], None]]:
    """Serve a sandbox on 127.0.0.1 (``port`` 0: any free one); returns it and a stop function."""
    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token, on_request=on_request)
    server = _Server(fake, port)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="twilio-sandbox", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return fake, stop
