"""Leuven Helpt hotline: an IVR intake, anonymised help requests and volunteer dispatch."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotline.config import Settings, load_settings

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the app: config → database → queue → flows → blueprints.

    ``config`` is either ready-made Settings or a mapping of overrides with the
    same keys as the ``[hotline]`` table (plus ``database_url``, ``redis_url``,
    ``config_file`` and ``secrets``); it wins over the file and the environment.
    """
    from hotline import db, flows, http_bounds, observability, queue, telephony, webhooks
    from hotline.abuse import limits
    from hotline.privacy import install_log_redaction

    settings = config if isinstance(config, Settings) else load_settings(config)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    http_bounds.init_app(app)  # before any blueprint: every <int:...> is bounded
    app.config.update(
        SECRET_KEY=settings.secrets.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
    )
    app.extensions["hotline.settings"] = settings
    logging.getLogger("hotline").setLevel(settings.log_level)
    install_log_redaction()
    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)

    from hotline import security_headers

    security_headers.init_app(app)  # every response, webhooks and health included
    db.init_app(app, settings)
    queue.init_app(app, settings)
    flows.init_app(app, settings)
    telephony.init_app(app, settings)
    limits.init_app(app, settings)  # rate limits, counted in the app's Redis (hotline.abuse)
    app.register_blueprint(webhooks.blueprint)

    import callcenter_ui

    callcenter_ui.init_app(app)
    observability.init_app(app)
    return app
