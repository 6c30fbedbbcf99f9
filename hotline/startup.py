"""Start-up checks: is the database (and Redis) there before a server or a migration starts?

A database or Redis that cannot be reached is reported as one line that names the
address (password masked), the reason and the setting to check, instead of a
traceback from deep inside a driver.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import redis
import sqlalchemy as sa

from hotline.config import ConfigError, Settings
from hotline.db import make_engine, normalise_database_url

CONNECT_TIMEOUT = 3  # seconds: long enough for a server that is up, short for a person waiting
# Driver messages run over several lines and differ per driver: the common causes, said once.
REASONS = (
    (re.compile(r"connection refused", re.I), "connection refused"),
    (re.compile(r"timeout|timed out", re.I), f"no answer within {CONNECT_TIMEOUT} s"),
    (
        re.compile(r"name or service not known|failed to resolve|nodename nor servname", re.I),
        "unknown host name",
    ),
    (
        re.compile(r"password authentication failed|invalid username-password", re.I),
        "wrong user name or password",
    ),
    (re.compile(r"no such file or directory", re.I), "no such file or socket"),
)


def check_reachable(settings: Settings, *, redis_too: bool = True) -> None:
    """Raise ConfigError (one line) unless the database, and Redis when asked, answer."""
    database_problem = _database_problem(settings.database_url)
    if database_problem:
        raise ConfigError(
            f"cannot reach the database at {masked_database_url(settings.database_url)} "
            f"({database_problem}); check HOTLINE_DATABASE_URL"
        )
    # No URL means the embedded Redis, which the app starts itself when it needs it.
    if redis_too and settings.redis_url:
        redis_problem = _redis_problem(settings.redis_url)
        if redis_problem:
            raise ConfigError(
                f"cannot reach Redis at {masked_redis_url(settings.redis_url)} "
                f"({redis_problem}); check HOTLINE_REDIS_URL"
            )


def masked_database_url(url: str) -> str:
    """``url`` with its password replaced by ***, as SQLAlchemy renders it."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def masked_redis_url(url: str) -> str:
    """``url`` with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


def _database_problem(url: str) -> str | None:
    """Why a first connection to the database fails, in a few words; None when it works."""
    parsed = sa.engine.make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            # The app's own engine: it creates the folder of the file, as the app would.
            engine = make_engine(url)
        else:
            engine = sa.create_engine(
                normalise_database_url(url),
                connect_args={"connect_timeout": CONNECT_TIMEOUT},
                poolclass=sa.pool.NullPool,
            )
    except ImportError as error:
        return f"its driver is not installed: {error}"
    except OSError as error:  # the folder of a SQLite file cannot be made
        return _reason(error, None)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except (sa.exc.SQLAlchemyError, OSError) as error:
        return _reason(getattr(error, "orig", None) or error, parsed.password)
    finally:
        engine.dispose()
    return None


def _redis_problem(url: str) -> str | None:
    """Why Redis does not answer a PING, in a few words; None when it does."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return _reason(error, urlsplit(url).password)
    finally:
        client.close()
    return None


def _reason(error: BaseException, password: str | None) -> str:
    """A few words for a driver's error: a known cause, else its first line, never a password."""
    text = str(error)
    for pattern, reason in REASONS:
        if pattern.search(text):
            return reason
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first_line = first_line or type(error).__name__
    if password:
        first_line = first_line.replace(password, "***")
    return first_line[:200]
