"""Logs keep phone numbers out and status codes in (issue #9).

Every log record is redacted as it is created (hotline.privacy.install_log_redaction);
hotline.logging_setup writes the records as text or JSON lines, and gunicorn's own logs
through the same formatter when HOTLINE_LOG_FORMAT=json (hotline/gunicorn_conf.py).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest
from gunicorn.glogging import SafeAtoms
from twilio.request_validator import RequestValidator

from hotline.logging_setup import HotlineLogHandler, JsonLogFormatter, configure_logging
from hotline.privacy import install_log_redaction, redact_phone_numbers
from tests.conftest import LEUVEN_NUMBER, PUBLIC_BASE_URL, ROOT
from tests.processes import free_port

# One resident's number, +32 470 12 34 56, and the line's own: no form of them may be logged.
NATIONAL_DIGITS = ("470123456", "16272772")

WRITTEN_FORMS = [
    "+32 470 12 34 56",
    "+32470123456",
    "0470/12.34.56",
    "0470 12 34 56",
    "0470.12.34.56",
    "0470-12-34-56",
    "0032470123456",
    "0032 470 12 34 56",
    "+32 (0)470 12 34 56",
    "016/27 27 72",
    "016 27 27 72",
    "016.27.27.72",
    "+32 16 27 27 72",
    "+31 6 12345678",
    "+44 20 7946 0958",
    "+33 6 12 34 56 78",
    "+1 415 555 0100",
    "%2B32470123456",
    "%2b32470123456",
    "0470%2012%2034%2056",
    "32470123456",  # E.164 without its plus, as some systems print it
    "470 12 34 56",  # without the 0
    "070 12 34 56",  # a Belgian shared-cost number
    "06 12345678",  # a Dutch mobile as the Dutch write it
    "0470 12 34 567",  # a digit too many is still a number to hide
    "\uff0b\uff13\uff12\uff14\uff17\uff10\uff11\uff12\uff13\uff14\uff15\uff16",  # full width
]

IN_CONTEXT = [
    ("tel:+32470123456", "tel:[number]"),
    ('{"From": "+32470123456", "To": "0032470123456"}', '{"From": "[number]", "To": "[number]"}'),
    ("To=%2B32470123456&From=%2B3216272772&Body=hi", "To=[number]&From=[number]&Body=hi"),
    ("/requests/?q=0470+12+34+56&page=2", "/requests/?q=[number]&page=2"),
    ("bel 0470 12 34 56 of 016/27 27 72", "bel [number] of [number]"),
    ("0470123456/0471234567", "[number]/[number]"),
    # The matcher gives up on a number with more digits after it: a code, a reference.
    ("Ik bel eerst, nr 0470 12 34 56 4821", "Ik bel eerst, nr [number] 4821"),
    ("ref 482913 0470 12 34 56", "ref 482913 [number]"),
    ("0470 12 34 567 0471 22 33 44", "[number] [number]"),  # a typo, then a number
    ("ids 12 13 0470 12 34 567", "ids 12 13 [number]"),
    ("10:59 +32470123456", "10:59 [number]"),
    ("2026-11-29 10:59:44,123 call from 0470123456", "2026-11-29 10:59:44,123 call from [number]"),
]

SURVIVORS = [
    "2026-11-29T10:59:44.123Z",
    "2026-11-29 10:59:44,123",
    "[29/Nov/2026:10:59:44 +0000]",
    "[2026-11-29 10:59:44 +0000] [4242] [INFO] Booting worker with pid: 4243",
    "10:59:44,123",
    "on 26/11/2026 at 16:18",
    "CA0123456789abcdef0123456789abcdef",
    "SM1234567890abcdef1234567890abcdef",
    "RE0123456789abcdef0123456789abcdef",
    "AC1234567890abcdef1234567890abcdef",
    "request 482913 (id 12)",
    "help request 123, assignment 4567, volunteer 89",
    "took 1234567 ms",
    "sent 12345678 bytes",
    "127.0.0.1:5000",
    "listening at http://0.0.0.0:8000 (4242)",
    "from 81.82.123.45 and 192.168.100.200",
    "job 6f1c2a4e-0b7d-4c39-9a57-1e2d3c4b5a69",
    "rq job outbox-123 done",
    "HTTP/1.1 and HTTP/2.0",
    "caller 3f2a1234567890b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5",
    "requests 12 13 14 15 16 17 18",
]

ACCESS_LOG_LINES = [  # gunicorn's default access-log format, which `hotline serve` uses
    '127.0.0.1 - - [29/Nov/2026:10:59:44 +0000] "POST /twilio/voice HTTP/1.1" 200 1234 "-" "-"',
    '127.0.0.1 - - [29/Nov/2026:10:59:44 +0000] "POST /twilio/voice HTTP/1.1" 500 0 "-" "-"',
    '10.0.0.7 - - [29/Nov/2026:10:59:44 +0000] "GET /requests/7 HTTP/1.1" 500 12345 "-" "-"',
    '10.0.0.7 - - [29/Nov/2026:10:59:44 +0000] "GET /static/app.js HTTP/1.1" 200 123456 "-" "-"',
    '10.0.0.7 - - [29/Nov/2026:10:59:44 +0000] "GET /nothing HTTP/1.1" 404 - "-" "curl/8.5.0"',
]
ACCESS_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<size>\d+|-) ')


def shows_a_number(text: str) -> bool:
    """Whether any form of the resident's or the line's number is in ``text``."""
    digits = re.sub(r"\D", "", text)  # however it was written, spaced, dotted or encoded
    return any(national in digits for national in NATIONAL_DIGITS)


@pytest.fixture
def logger(caplog) -> logging.Logger:
    install_log_redaction()
    caplog.set_level(logging.DEBUG, logger="hotline.test_log_redaction")
    return logging.getLogger("hotline.test_log_redaction")


@pytest.fixture
def root_logging():
    """Puts the root logger (and the app's) back as they were after configure_logging."""
    root, app_logger = logging.getLogger(), logging.getLogger("hotline")
    level, handlers, app_handlers = root.level, list(root.handlers), list(app_logger.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    app_logger.handlers[:] = app_handlers
    logging.captureWarnings(False)


# --- what is redacted, what survives -------------------------------------------------------


@pytest.mark.parametrize("written", WRITTEN_FORMS)
def test_every_belgian_and_international_written_form_of_a_number_is_redacted(written):
    assert redact_phone_numbers(f"caller {written} hung up") == "caller [number] hung up"


@pytest.mark.parametrize(("text", "redacted"), IN_CONTEXT)
def test_numbers_in_urls_json_and_sentences_are_redacted_and_the_rest_kept(text, redacted):
    assert redact_phone_numbers(text) == redacted


@pytest.mark.parametrize("text", SURVIVORS)
def test_a_sid_a_reference_a_timestamp_and_other_digits_survive(text):
    assert redact_phone_numbers(text) == text


@pytest.mark.parametrize("line", ACCESS_LOG_LINES)
def test_an_access_log_line_keeps_its_status_code_size_and_timestamp(line):
    assert redact_phone_numbers(line) == line


def test_an_access_log_line_with_a_number_in_its_url_keeps_its_status_code():
    line = (
        '127.0.0.1 - - [29/Nov/2026:10:59:44 +0000] "GET /requests/?q=0470123456 HTTP/1.1"'
        ' 500 12345 "https://hotline.example.org/?From=%2B32470123456" "curl/8.5.0"'
    )
    assert redact_phone_numbers(line) == (
        '127.0.0.1 - - [29/Nov/2026:10:59:44 +0000] "GET /requests/?q=[number] HTTP/1.1"'
        ' 500 12345 "https://hotline.example.org/?From=[number]" "curl/8.5.0"'
    )


def test_the_region_decides_which_national_numbers_are_understood():
    # 06 12345678 is a Dutch mobile; 0612345678 read as Belgian is no number at all.
    assert redact_phone_numbers("bel 0612345678", region="NL") == "bel [number]"
    assert redact_phone_numbers("+32 470 12 34 56", region="NL") == "[number]"


# --- log records ---------------------------------------------------------------------------


def test_args_are_redacted_when_a_number_is_passed_as_s_and_d_still_formats(logger, caplog):
    logger.info("sms to %s (%d bytes, job %s)", "+32 470 12 34 56", 12345678, "outbox-123")

    [record] = caplog.records
    assert record.getMessage() == "sms to [number] (12345678 bytes, job outbox-123)"
    assert record.args == ("[number]", 12345678, "outbox-123")


def test_a_number_in_the_message_itself_is_redacted(logger, caplog):
    logger.warning("call from 0470/12.34.56 dropped")

    assert caplog.records[0].getMessage() == "call from [number] dropped"


def test_a_number_inside_an_exception_or_its_traceback_is_redacted(logger, caplog):
    try:
        raise ValueError("Twilio refused to call +32470123456")
    except ValueError as error:
        logger.exception("calling failed: %s", error)

    [record] = caplog.records
    assert record.getMessage() == "calling failed: Twilio refused to call [number]"
    assert "refused to call [number]" in record.exc_text
    assert not shows_a_number(caplog.text)


def test_an_access_log_record_keeps_its_atoms_redacted_one_by_one(logger, caplog):
    atoms = SafeAtoms(
        {"h": "127.0.0.1", "t": "[29/Nov/2026:10:59:44 +0000]", "r": "GET /?q=0470123456 HTTP/1.1",
         "s": "500", "b": "12345", "B": 12345, "a": "curl/8.5.0", "M": 12}
    )  # fmt: skip
    logger.info('%(h)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"', atoms)

    [record] = caplog.records
    assert record.getMessage() == (
        '127.0.0.1 [29/Nov/2026:10:59:44 +0000] "GET /?q=[number] HTTP/1.1" 500 12345 "-"'
        ' "curl/8.5.0"'
    )
    assert record.args["s"] == "500" and record.args["B"] == 12345


# --- JSON lines ----------------------------------------------------------------------------


def test_json_log_lines_parse_as_json_and_carry_no_number(root_logging, capsys):
    configure_logging("INFO", "json")
    configure_logging("INFO", "json")  # idempotent: still one handler, one line per record
    log = logging.getLogger("hotline.test_log_redaction.json")

    log.info("sms to %s", "0470 12 34 56", extra={"to": "+32470123456", "job": "outbox-123"})
    log.warning("call %s from 016/27 27 72", "CA0123456789abcdef0123456789abcdef")
    try:
        raise RuntimeError("no answer on 0032470123456")
    except RuntimeError:
        log.exception("callback failed")
    log.debug("not shown at INFO")

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    assert [list(entry)[:4] for entry in entries] == [["time", "level", "logger", "message"]] * 3
    assert entries[0]["message"] == "sms to [number]"
    assert entries[0]["to"] == "[number]" and entries[0]["job"] == "outbox-123"
    assert entries[1]["message"] == "call CA0123456789abcdef0123456789abcdef from [number]"
    assert entries[1]["level"] == "WARNING"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entries[1]["time"])
    assert "RuntimeError: no answer on [number]" in entries[2]["exc_info"]
    assert not any(shows_a_number(line) for line in lines)
    assert sum(isinstance(h, HotlineLogHandler) for h in logging.getLogger().handlers) == 1


def test_a_json_access_log_line_carries_the_access_log_fields():
    install_log_redaction()
    atoms = SafeAtoms(
        {"h": "10.0.0.7", "t": "[29/Nov/2026:10:59:44 +0000]", "r": "GET /?q=0470123456 HTTP/1.1",
         "m": "GET", "U": "/", "q": "q=0470123456", "H": "HTTP/1.1", "s": "500", "b": "0", "B": 0,
         "f": "-", "a": "curl/8.5.0", "M": 12}
    )  # fmt: skip
    record = logging.getLogger("gunicorn.access").makeRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s %(b)s', (atoms,), None
    )

    entry = json.loads(JsonLogFormatter().format(record))

    assert entry["message"] == '10.0.0.7 "GET /?q=[number] HTTP/1.1" 500 0'
    assert entry["status"] == 500 and entry["size"] == 0 and entry["duration_ms"] == 12
    assert entry["query"] == "q=[number]" and entry["path"] == "/"
    assert entry["remote_addr"] == "10.0.0.7" and entry["user_agent"] == "curl/8.5.0"
    assert "referrer" not in entry  # "-": gunicorn's word for none


def test_an_unknown_log_format_is_refused(root_logging):
    with pytest.raises(ValueError, match="text, json"):
        configure_logging("INFO", "yaml")


# --- the done-when check: a real gunicorn --------------------------------------------------


def _request(port: int, method: str, path: str, body: str = "", headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_log_captured_from_gunicorn_has_status_codes_and_no_phone_number(
    log_format, database_url, redis_url, redis_conn, tmp_path
):
    auth_token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "HOTLINE_CONFIG": str(ROOT / "config.toml"),
        "HOTLINE_MODE": "demo",
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "HOTLINE_LOG_LEVEL": "DEBUG",
        "HOTLINE_LOG_FORMAT": log_format,
        "TWILIO_AUTH_TOKEN": auth_token,
    }
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    # As `hotline serve` runs it, on a free port, without gunicorn's control socket.
    command = [sys.executable, "-m", "gunicorn", "--config", "python:hotline.gunicorn_conf",
               "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
               "--access-logfile", "-", "--no-control-socket", "hotline.wsgi:app"]  # fmt: skip
    call = {"CallSid": "CA" + secrets.token_hex(16), "From": "+32470123456", "To": LEUVEN_NUMBER}
    signed = RequestValidator(auth_token).compute_signature(f"{PUBLIC_BASE_URL}/twilio/voice", call)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    referer = {"Referer": "https://x.example/?tel=%2B32470123456"}
    sent = [  # (method, path, body, headers, the status it must get)
        ("GET", "/health", "", {}, 200),
        ("GET", "/no/such/page", "", {}, 404),
        ("POST", "/twilio/voice", urlencode(call), form, 403),  # unsigned
        ("POST", "/twilio/voice", urlencode(call), {**form, "X-Twilio-Signature": signed}, 200),
        ("GET", "/requests/?q=0470123456", "", {}, 302),
        ("GET", "/requests/?q=0470+12+34+56", "", referer, 302),
        ("POST", "/twilio/voice?From=%2B32470123456", "", {}, 403),
        ("GET", "/health", "", {"User-Agent": "phone 0470/12.34.56"}, 200),
    ]

    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert _request(port, "GET", "/health") == 200
                    break
                except OSError:
                    assert server.poll() is None, stderr.read_text()
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.1)
            statuses = [_request(port, *request) for *request, _ in sent]
        finally:
            server.terminate()
            server.wait(timeout=30)

    assert statuses == [expected for *_, expected in sent]
    access_lines = stdout.read_text().splitlines()[1:]  # after the readiness check
    assert len(access_lines) == len(sent)
    for line, (method, path, *_, expected) in zip(access_lines, sent, strict=True):
        if log_format == "json":
            entry = json.loads(line)
            assert entry["logger"] == "gunicorn.access"
            assert (entry["method"], entry["status"]) == (method, expected)
            line = entry["message"]
        match = ACCESS_LINE.search(line)
        assert match, line
        assert match["request"].startswith(f"{method} {path.split('?')[0]}")
        assert int(match["status"]) == expected
    log = stdout.read_text() + stderr.read_text()
    assert "refused /twilio/voice" in log  # the app's own records are in it too
    assert not [line for line in log.splitlines() if shows_a_number(line)]
    if log_format == "json":
        assert all(json.loads(line) for line in stderr.read_text().splitlines())
