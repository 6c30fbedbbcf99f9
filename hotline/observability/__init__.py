"""Health checks and metrics: ``/health`` (alive), ``/ready`` (can it work?), ``/metrics``.

``metrics`` defines the Prometheus metrics that the web app counts where things happen;
``checks`` asks the database, Redis, the rq workers and the outbox how they are;
``views`` serves the three endpoints and keeps the details away from the internet.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register /health, /ready and /metrics."""
    from hotline.observability import views

    # A bearer token for /metrics and the details of /ready (HOTLINE_METRICS_TOKEN). Unset:
    # only loopback and private addresses get them (see views.may_see_details).
    app.extensions["hotline.metrics_token"] = app.extensions["hotline.settings"].metrics_token
    app.register_blueprint(views.blueprint)
