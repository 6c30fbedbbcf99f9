"""gunicorn settings for `hotline serve`: ``gunicorn --config python:hotline.gunicorn_conf``.

Phone numbers are redacted in the master process too (it logs worker starts and
errors; the workers inherit this and also install it in create_app). With
HOTLINE_LOG_FORMAT=json, gunicorn's error log, its access log and the app's records
come out as JSON lines (hotline.logging_setup.JsonLogFormatter); otherwise gunicorn
keeps its own text formats. HOTLINE_LOG_LEVEL sets the app's level, as in config.toml.
"""

import logging
import os
from pathlib import Path

from hotline.logging_setup import LOG_FORMATS, gunicorn_logconfig
from hotline.privacy import install_log_redaction

install_log_redaction()

accesslog = "-"  # the access log on stdout, status codes and all

_log_format = os.environ.get("HOTLINE_LOG_FORMAT", "text").strip().lower()
if _log_format not in LOG_FORMATS:
    raise RuntimeError(
        f"HOTLINE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {_log_format!r}"
    )
if _log_format == "json":
    logging.captureWarnings(True)  # warnings as JSON records too, not as stray text lines
    logconfig_dict = gunicorn_logconfig(os.environ.get("HOTLINE_LOG_LEVEL", "INFO"))


def on_starting(server) -> None:
    """Before the workers fork: a clean folder for their Prometheus counts.

    With PROMETHEUS_MULTIPROC_DIR (``hotline serve`` sets one per address), every worker
    process writes its counters there and /metrics adds them up; counts of an earlier
    run must not be added to this one's.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for leftover in Path(folder).glob("*.db"):
            leftover.unlink()


def child_exit(server, worker) -> None:
    """A worker process ended: its live gauges no longer count (its counters still do)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
