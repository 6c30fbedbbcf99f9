"""Privacy: the keyed caller hash, the encrypted contact vault, and log redaction."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

from cryptography.fernet import Fernet
from sqlmodel import Session, select

from hotline.config import Secrets
from hotline.models import Contact, utcnow


def caller_hash(number_e164: str, pepper: str) -> str:
    """A keyed hash of a phone number: recognises a repeat caller, reveals nothing."""
    return hmac.new(pepper.encode(), number_e164.encode(), hashlib.sha256).hexdigest()


def store_contact(session: Session, secrets: Secrets, number_e164: str) -> Contact:
    """Put a number in the vault (or find it there) and return its vault entry."""
    hashed = caller_hash(number_e164, secrets.hash_pepper)
    contact = session.exec(select(Contact).where(Contact.caller_hash == hashed)).first()
    if contact is None:
        token = Fernet(secrets.vault_key.encode()).encrypt(number_e164.encode()).decode()
        contact = Contact(caller_hash=hashed, encrypted_number=token)
    contact.last_seen_at = utcnow()
    session.add(contact)
    session.flush()
    return contact


def reveal_number(contact: Contact, secrets: Secrets) -> str:
    """Decrypt a vault entry. Only the system calls this, to bridge a call or send an SMS."""
    return Fernet(secrets.vault_key.encode()).decrypt(contact.encrypted_number.encode()).decode()


# Seven or more digits, possibly grouped by up to three separators (spaces, dots, slashes,
# dashes, pluses as in form-encoded URLs, brackets), optionally after + or 00: catches E.164
# and the ways Belgians write numbers (016/27 27 72, 0470 / 12 34 56). Dates
# (2026-11-26, 26/11/2026) are not numbers; digits inside SIDs are protected by the
# word boundaries.
PHONE_NUMBER_PATTERN = re.compile(
    r"(?<![\w])(?!\d{4}-\d{2}-\d{2})(?!\d{1,2}/\d{1,2}/\d{2,4}(?!\d))"
    r"(?:\+|%2B)?\d(?:[\s./\-\u2013+()]{0,3}\d){6,}(?![\w])"
)


def redact_phone_numbers(text: str) -> str:
    """Replace anything that looks like a phone number with ``[number]``."""
    return PHONE_NUMBER_PATTERN.sub("[number]", text)


class RedactingFilter(logging.Filter):
    """A logging filter that keeps phone numbers out of every log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_phone_numbers(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Redact every log record of this process as it is created (idempotent).

    A record factory rather than a handler filter: it also covers loggers and
    handlers set up later (rq's worker, gunicorn's access log).
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_phone_numbers", False):
        return

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed log call: leave it to logging
            return record
        redacted = redact_phone_numbers(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return record

    redacting_factory.redacts_phone_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
