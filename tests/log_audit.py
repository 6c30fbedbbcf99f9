"""After the whole run: no phone number in any log, a status code on every access-log line.

Every log record of the test process is kept (as it would be written), and every log file
that a test's subprocesses wrote (gunicorn, `hotline worker`, `hotline serve`) is read
from pytest's temporary folder. The check is independent of the redaction it audits: any
run of digits that, written however (spaces, dots, slashes, dashes, +32, 0032, %2B), is a
Belgian phone number (but the lines' own public numbers), and any access-log line whose
status is not a three-digit code, fails the run.

PYTEST_DONT_REWRITE: a plugin module that asserts nothing.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

# Digits with the separators people and URLs put between them, not inside a word: rq's
# worker and job names are hex (uuid4), whose digit runs may look like a number.
CANDIDATE = re.compile(r"(?<![0-9A-Za-z])(?:\+|%2B)?\d[\d\s./()\-]{6,}\d(?![0-9A-Za-z])")
# Belgian numbers once the separators are gone: mobile (04xx) and geographic.
BELGIAN = re.compile(r"(?:\+32|0032|32|0)(?:4\d{8}|[1-9]\d{7})")
ACCESS_REQUEST = re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) [^"]* HTTP/\d(?:\.\d)?"')
ACCESS_STATUS = re.compile(
    r'HTTP/\d(?:\.\d)?" [1-5]\d\d (?:\d+|-)(?: |$)'  # gunicorn: "request" status size
    r"|\] \S+ \S+/\S+ [-\d/+]+ [1-5]\d\d [-\d]+ "  # HAProxy: ... timers status bytes ...
)
LOG_FILE_NAMES = ("*.log", "*stdout*", "*stderr*")
# rq's job ids are uuid4s, logged after a call's arguments: "step=0) (55630640-d942-..."
# would otherwise read as the number 0 55 63 06 40. No phone number is written as a uuid.
UUID = re.compile(
    r"(?<![0-9A-Za-z])[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?![0-9A-Za-z])", re.IGNORECASE
)


def _public_numbers() -> set[str]:
    """The lines' own numbers, printed on posters (config.toml): the demo prints them."""
    import tomllib

    from tests.conftest import ROOT

    lines = tomllib.loads((ROOT / "config.toml").read_text()).get("lines", {})
    return {
        re.sub(r"\D", "", str(line[key]))[-8:]
        for line in lines.values()
        for key in ("phone_number", "general_number", "sms_from")
        if line.get(key)
    }


PUBLIC = _public_numbers()


def phone_numbers_in(line: str) -> list[str]:
    """The Belgian phone numbers written in ``line``, in any form, but the lines' own."""
    found = []
    line = UUID.sub("<uuid>", line)
    for candidate in CANDIDATE.finditer(line):
        text = candidate.group().replace("%2B", "+")
        digits = ("+" if text.startswith("+") else "") + re.sub(r"\D", "", text)
        if BELGIAN.fullmatch(digits) and digits[-8:] not in PUBLIC:
            found.append(candidate.group())
    return found


class _KeepEverything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is logging's own problem
            self.handleError(record)


KEEPER = _KeepEverything()


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.getLogger().addHandler(KEEPER)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(KEEPER)
    sources: list[tuple[str, list[str]]] = [("this process's log records", KEEPER.lines)]
    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = factory.getbasetemp() if factory is not None and factory._basetemp else None
    if basetemp is not None:
        for pattern in LOG_FILE_NAMES:
            for path in sorted(Path(basetemp).rglob(pattern)):
                if path.is_file():
                    text = path.read_text(errors="replace")
                    sources.append((str(path), text.splitlines()))
    problems = []
    lines_read = access_lines = 0
    for where, lines in sources:
        for line in lines:
            lines_read += 1
            numbers = phone_numbers_in(line)
            if numbers:
                problems.append(f"{where}: phone number {numbers[0]!r} in: {line[:300]}")
            if ACCESS_REQUEST.search(line):
                access_lines += 1
                if not ACCESS_STATUS.search(line):
                    problems.append(f"{where}: access-log line without a status: {line[:300]}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"log audit: {lines_read} log lines read ({access_lines} access-log lines), "
            f"{len(problems)} problem(s)"
        )
        for problem in problems[:50]:
            reporter.write_line(f"log audit: {problem}", red=True)
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
