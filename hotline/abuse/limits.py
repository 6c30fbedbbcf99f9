"""Rate limits with Flask-Limiter, counted in the app's Redis ([limits] in config.toml).

Four limits: new calls per caller, SMS per sender, failed logins per address and per
username. Each is counted where its request is understood (after the webhook's signature
check, so a forged request counts for nobody), under a key that holds no phone number: the
keyed hash of the caller's number, or of the username.

Redis going away must never cost a caller their call or an operator their login: the
limiter then counts in this process's memory (Flask-Limiter's in-memory fallback) and
swallows any other storage error, and goes back to Redis when it answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from flask import Flask, Response, current_app, g
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from flask_limiter.util import get_remote_address

from hotline.config import Settings
from hotline.privacy import caller_hash
from hotline.queue import get_redis

log = logging.getLogger(__name__)
EXTENSION = "hotline.limits"
# Seconds to wait for Redis before counting in memory: a caller must not wait on it.
STORAGE_TIMEOUT = 1


class _Limits:
    """The app's limiter and its four limits (made once, so every request uses the same)."""

    def __init__(self, app: Flask, settings: Settings):
        configured = settings.limits
        self.limiter = Limiter(
            key_func=get_remote_address,  # unused: every limit below has its own key
            storage_uri=_storage_uri(settings),
            storage_options=_storage_options(app, settings),
            strategy="fixed-window",
            swallow_errors=True,
            in_memory_fallback_enabled=True,
            headers_enabled=False,
            key_prefix="hotline",
            enabled=configured.enabled,
        )
        self.limiter.init_app(app)

        def limit(value: str, scope: str, **options) -> object:
            return self.limiter.shared_limit(
                value,
                scope=scope,
                key_func=lambda: g.hotline_limit_key,
                on_breach=_log_first_breach(scope),
                **options,
            )

        # Logins: only failures count (a shift starting behind one address is no attack).
        failed = {"deduct_when": lambda response: response.status_code != 302}
        self.calls = limit(configured.calls_per_caller, "calls")
        self.sms = limit(configured.sms_per_sender, "sms")
        self.logins_per_ip = limit(configured.logins_per_ip, "login-address", **failed)
        self.logins_per_username = limit(configured.logins_per_username, "login-user", **failed)


def init_app(app: Flask, settings: Settings) -> None:
    """Give ``app`` its limiter (counting nothing until a request asks)."""
    # Its INFO line per refused request names the key; ours says it once per window.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    app.extensions[EXTENSION] = _Limits(app, settings)


def _limits() -> _Limits:
    return current_app.extensions[EXTENSION]


def _storage_uri(settings: Settings) -> str:
    """The configured Redis as Flask-Limiter names it (``redis+unix://`` for a socket)."""
    if settings.redis_url is None:
        # The embedded server's socket is known once it runs: _EmbeddedRedisPool finds it.
        return "redis+unix:///embedded-redis"
    if settings.redis_url.startswith("unix://"):
        return "redis+" + settings.redis_url
    return settings.redis_url


def _storage_options(app: Flask, settings: Settings) -> dict:
    if settings.redis_url is None:
        return {"connection_pool": _EmbeddedRedisPool(app)}
    return {"socket_timeout": STORAGE_TIMEOUT, "socket_connect_timeout": STORAGE_TIMEOUT}


class _EmbeddedRedisPool(redis.ConnectionPool):
    """Connections to the embedded Redis, started (or joined) on the first count rather
    than when the app is made: a ``hotline`` command that counts nothing starts no server."""

    def __init__(self, app: Flask):
        super().__init__(
            connection_class=redis.UnixDomainSocketConnection, socket_timeout=STORAGE_TIMEOUT
        )
        self._app = app

    def make_connection(self):
        if "path" not in self.connection_kwargs:
            socket = get_redis(self._app).connection_pool.connection_kwargs["path"]
            self.connection_kwargs["path"] = socket
        return super().make_connection()


def _log_first_breach(scope: str) -> Callable[[RequestLimit], Response | None]:
    """Log a key going over its limit once per window, not once per refused request."""

    def on_breach(breached: RequestLimit) -> None:
        try:
            count = breached.limiter.storage.get(breached.key)
        except Exception:  # noqa: BLE001 - the storage failed: say it, rather than nothing
            count = breached.limit.amount + 1
        if count == breached.limit.amount + 1:
            log.warning(
                "rate limit %s (%s) reached: refused until it resets", scope, breached.limit
            )

    return on_breach


# One `with` per limit, each at its own line: Flask-Limiter files a limit used as a context
# manager under the place it is used at.


def call_over_limit(hashed_caller: str) -> bool:
    """Count a new call of this caller (keyed hash); True when they called too often."""
    g.hotline_limit_key = f"caller:{hashed_caller}"
    try:
        with _limits().calls:
            return False
    except RateLimitExceeded:
        return True


def sms_over_limit(hashed_sender: str) -> bool:
    """Count an SMS of this sender (keyed hash); True when they sent too many."""
    g.hotline_limit_key = f"sender:{hashed_sender}"
    try:
        with _limits().sms:
            return False
    except RateLimitExceeded:
        return True


def login_over_limit(username: str) -> bool:
    """Whether logins from this address, or for this username, failed too often lately.

    Checked before the password; this request counts against both once its answer is known
    to be a failure (anything but the redirect of a good login).
    """
    limits = _limits()
    g.hotline_limit_key = f"address:{get_remote_address()}"
    try:
        with limits.logins_per_ip:
            pass
    except RateLimitExceeded:
        return True
    pepper = current_app.extensions["hotline.settings"].secrets.hash_pepper
    g.hotline_limit_key = f"username:{caller_hash(username.strip().lower(), pepper)}"
    try:
        with limits.logins_per_username:
            return False
    except RateLimitExceeded:
        return True
