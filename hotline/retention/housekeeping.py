"""SQLite housekeeping: what the purge removed must not survive in the database file.

PostgreSQL's VACUUM does the like on its own schedule; these do nothing there.
"""

from __future__ import annotations

from sqlmodel import Session


def secure_delete(session: Session) -> None:
    """On SQLite, zero the bytes that changes free (call before changing anything)."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA secure_delete=ON")


def erase_traces(session: Session) -> None:
    """On SQLite, write the write-ahead log back and empty it, so that what was removed is
    not left in it. Commits; it waits for readers, so run it in a job, not a web request."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.commit()
    session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    session.commit()
