"""Log output for every hotline process: one line per record, as text or JSON, no numbers.

``configure_logging`` sets up the root logger of the web app, the worker and the CLI;
``gunicorn_logconfig`` gives gunicorn's own error and access logs the same JSON lines
(see hotline/gunicorn_conf.py). Phone numbers are taken out of every record as it is
created, by hotline.privacy.install_log_redaction, which both install.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

from hotline.config import LOG_FORMATS
from hotline.privacy import install_log_redaction, redact_log_record, redact_personal_details

__all__ = ["LOG_FORMATS", "configure_logging", "gunicorn_logconfig", "make_formatter"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# gunicorn's access-log atoms (glogging.Logger.atoms) by the names a JSON line gives them.
ACCESS_LOG_FIELDS = {
    "remote_addr": "h",
    "method": "m",
    "path": "U",
    "query": "q",
    "protocol": "H",
    "status": "s",
    "size": "B",
    "referrer": "f",
    "user_agent": "a",
    "duration_ms": "M",
}
# Fields of a JSON line that come from the record itself, already redacted.
_RECORD_FIELDS = {"time", "level", "logger", "message", "exc_info", "stack_info"}


class HotlineLogHandler(logging.StreamHandler):
    """Writes to the process's stderr (or stdout) as it is at each record.

    Looked up each time, like logging's last-resort handler, because gunicorn and
    pytest replace sys.stderr after logging is set up. Its class marks the handler
    that configure_logging installed and replaces when called again.
    """

    def __init__(self, level: int | str = logging.NOTSET, stream_name: str = "stderr") -> None:
        logging.Handler.__init__(self, level)
        if stream_name not in ("stderr", "stdout"):
            raise ValueError(f"stream_name must be 'stderr' or 'stdout', got {stream_name!r}")
        self.stream_name = stream_name

    @property
    def stream(self) -> Any:  # type: ignore[override]
        """The stream this record goes to."""
        return getattr(sys, self.stream_name)


class JsonLogFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message and an access log's fields.

    A gunicorn access-log line also carries remote_addr, method, path, query, protocol,
    status, size, referrer, user_agent and duration_ms as fields of their own. Values
    passed with ``extra=`` and tracebacks are redacted here; the rest was at creation.
    """

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
        )

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        if not getattr(record, "_phone_numbers_redacted", False):
            redact_log_record(record)  # a process that did not install the redaction
        return super().format(record)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Time first (UTC, ISO 8601), then level, logger, message; then the access fields."""
        created = datetime.fromtimestamp(record.created, UTC)
        log_data["time"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        super().add_fields(log_data, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            log_data.update(access_log_fields(record.args))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Redact what the record did not carry in its message: ``extra=`` values."""
        for key, value in log_data.items():
            if key not in _RECORD_FIELDS and key not in ACCESS_LOG_FIELDS:
                log_data[key] = _redacted(value)
        return log_data

    def formatException(self, ei: Any) -> str:  # type: ignore[override]
        """The traceback, redacted (python-json-logger formats it anew, not from exc_text)."""
        return redact_personal_details(super().formatException(ei))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_personal_details(value)
    if isinstance(value, Mapping):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def access_log_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a gunicorn access-log record, from its atoms; numbers as numbers."""
    fields = {name: atoms[atom] for name, atom in ACCESS_LOG_FIELDS.items()}
    status = str(fields["status"])
    fields["status"] = int(status) if status.isdigit() else status
    return {name: value for name, value in fields.items() if value not in (None, "", "-")}


def make_formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``fmt``, one of LOG_FORMATS."""
    if fmt == "json":
        return JsonLogFormatter()
    if fmt == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log every record of this process to stderr, one line each, as ``fmt`` (text or json).

    Sets the root logger's level and handler and installs the phone-number redaction.
    Idempotent: a second call replaces the handler of the first (or the one gunicorn's
    JSON log config installed) rather than adding another.
    """
    formatter = make_formatter(fmt)
    install_log_redaction()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, HotlineLogHandler)]:
        root.removeHandler(handler)
    handler = HotlineLogHandler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings as records too: no stray lines among JSON ones
    # Flask gives the app's logger a handler of its own when it finds none; ours is enough.
    logging.getLogger("hotline").removeHandler(default_handler)


def gunicorn_logconfig(level: str = "INFO") -> dict[str, Any]:
    """gunicorn's ``logconfig_dict`` for JSON lines: its error log and the app's records on
    stderr, its access log on stdout (as ``--access-logfile -``), all as JsonLogFormatter.

    gunicorn.error keeps the level of gunicorn's --log-level; ``level`` is the root's.
    """
    handler = "hotline.logging_setup.HotlineLogHandler"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "hotline.logging_setup.JsonLogFormatter"}},
        "handlers": {
            "stderr": {"class": handler, "formatter": "json"},
            "access": {"class": handler, "formatter": "json", "stream_name": "stdout"},
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "propagate": False},
        },
    }
