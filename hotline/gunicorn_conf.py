"""gunicorn settings for `hotline serve`: ``gunicorn --config python:hotline.gunicorn_conf``.

Phone numbers are redacted in the master process too (it logs worker starts and
errors; the workers inherit this and also install it in create_app). With
HOTLINE_LOG_FORMAT=json, gunicorn's error log, its access log and the app's records
come out as JSON lines (hotline.logging_setup.JsonLogFormatter); otherwise gunicorn
keeps its own text formats. HOTLINE_LOG_LEVEL sets the app's level, as in config.toml.
"""

import logging
import os

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
