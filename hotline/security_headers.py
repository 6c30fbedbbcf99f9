"""Security headers on every response (pages, API, webhooks, health), set by Flask-Talisman.

The content security policy allows scripts, styles, media and XHR from the app's own origin
only: no inline script or style, no eval, no plugin, and no other site may frame the UI.
HSTS goes out on https requests only (behind a proxy: when ProxyFix says the client used
https), so the demo on plain http://localhost keeps working and is never redirected.
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import DENY, Talisman

SELF, NONE = "'self'", "'none'"

CONTENT_SECURITY_POLICY = {
    "default-src": SELF,
    # htmx and callcenter.js are files; htmx's eval-based features are switched off in
    # base.html's htmx-config, so neither 'unsafe-inline' nor 'unsafe-eval' is needed.
    "script-src": SELF,
    # htmx's indicator styles live in callcenter.css (includeIndicatorStyles: false).
    "style-src": SELF,
    "img-src": SELF,
    # The request page's <audio> plays the recording through the app's own proxy.
    "media-src": SELF,
    "connect-src": SELF,
    "font-src": SELF,
    "object-src": NONE,
    "base-uri": SELF,
    "form-action": SELF,
    "frame-ancestors": NONE,
}

# Browser features the call-centre UI never uses; the microphone stays allowed for the
# app's own pages (a browser phone).
PERMISSIONS_POLICY = {
    "browsing-topics": "()",
    "camera": "()",
    "geolocation": "()",
    "payment": "()",
    "usb": "()",
}

# Half a year: long enough to matter, short enough to move an installation off https.
HSTS_MAX_AGE = 180 * 24 * 3600


def init_app(app: Flask) -> None:
    """Send the security headers on every response of ``app``.

    Call it after the session cookie settings are in ``app.config``: Talisman would
    otherwise force its own (a Secure cookie on the plain-http demo would log nobody in).
    """
    # One Talisman per app: it keeps a reference to the app it was given.
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # TLS ends at the proxy; the demo runs on plain http
        session_cookie_secure=app.config.get("SESSION_COOKIE_SECURE", False),
        session_cookie_http_only=app.config.get("SESSION_COOKIE_HTTPONLY", True),
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
        frame_options=DENY,
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy="same-origin",
        permissions_policy=PERMISSIONS_POLICY,
        strict_transport_security=True,
        strict_transport_security_max_age=HSTS_MAX_AGE,
        strict_transport_security_include_subdomains=False,  # the city's other sites are not ours
        x_content_type_options=True,
    )
