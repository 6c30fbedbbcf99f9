"""WSGI entry point for gunicorn: ``gunicorn hotline.wsgi:app``."""

from hotline import create_app
from hotline.logging_setup import configure_logging

app = create_app()
_settings = app.extensions["hotline.settings"]
configure_logging(_settings.log_level, _settings.log_format)
