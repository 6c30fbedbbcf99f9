"""The database: one engine per app, one session per web request or job, migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlmodel import Session, select

from hotline.config import Settings
from hotline.models import Line

# What the database raises when it cannot be reached (down, restarting, pool exhausted),
# as opposed to a bug in a query: webhooks answer kindly, jobs wait and retry.
DATABASE_UNAVAILABLE_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def database_unreachable(error: BaseException | None) -> bool:
    """Whether ``error`` says the database could not be reached (not a bug)."""
    return isinstance(error, DATABASE_UNAVAILABLE_ERRORS) or (
        isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated
    )


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalise_database_url(url: str) -> str:
    """Use psycopg (3) for plain ``postgresql://`` URLs, as that is the driver we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite files get WAL mode, foreign keys and a busy timeout."""
    url = normalise_database_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 15})

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        # WAL lets the web app and workers read while one writes; NORMAL is durable
        # across application crashes, which is what a help line needs.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def init_app(app: Flask, settings: Settings) -> None:
    """Give the app its engine and close each request's session when the request ends."""
    app.extensions["hotline.engine"] = make_engine(settings.database_url)

    @app.teardown_appcontext
    def _close_session(_exception):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_engine() -> sa.Engine:
    """The current app's engine."""
    return current_app.extensions["hotline.engine"]


def get_session() -> Session:
    """The session of the current request (or app context), opened on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session for one unit of work outside a web request: commit on success."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def in_batches(session: Session, query: Any, key: Any, batch_size: int) -> Iterator[list]:
    """The rows ``query`` selects, ``batch_size`` at a time in the order of ``key`` (a
    unique column, e.g. ``Contact.id``); rows are model objects or plain values.

    Keyset paging: each batch starts after the last key seen, so the caller may change,
    commit or let go of rows between batches, and no batch holds the whole table.
    """
    last = None
    while True:
        page = query if last is None else query.where(key > last)
        batch = list(session.exec(page.order_by(key).limit(batch_size)))
        if not batch:
            return
        tail = batch[-1]  # read now: the caller may commit (expiring it) before the next
        last = getattr(tail, key.key) if hasattr(tail, "__table__") else tail
        yield batch


def alembic_config(engine: sa.Engine) -> AlembicConfig:
    """Alembic configuration for our migrations, bound to ``engine`` (no alembic.ini needed)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


def sync_lines(session: Session, settings: Settings) -> list[Line]:
    """Make sure every configured line has its row; update names and numbers that changed."""
    rows = []
    for line in settings.lines.values():
        row = session.exec(select(Line).where(Line.slug == line.slug)).first()
        if row is None:
            row = Line(slug=line.slug, name=line.name, phone_number=line.phone_number)
            try:
                with session.begin_nested():  # the first calls of a new line come together
                    session.add(row)
            except sa.exc.IntegrityError:  # another process created it a moment ago
                row = session.exec(select(Line).where(Line.slug == line.slug)).one()
        row.name, row.phone_number = line.name, line.phone_number
        session.add(row)
        rows.append(row)
    session.commit()
    return rows


def line_row(session: Session, settings: Settings, slug: str) -> Line:
    """The row of the configured line ``slug``, created when it does not exist yet."""
    row = session.exec(select(Line).where(Line.slug == slug)).first()
    if row is None:
        return sync_lines(session, settings)[list(settings.lines).index(slug)]
    return row
