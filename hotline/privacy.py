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


# Seven or more digits, possibly grouped by spaces, dots, slashes or dashes, optionally
# after + or 00: catches E.164 and the way Belgians write numbers (016/27 27 72).
# Dates (2026-11-26) are not numbers; ids inside SIDs are protected by the word boundaries.
PHONE_NUMBER_PATTERN = re.compile(
    r"(?<![\w])(?!\d{4}-\d{2}-\d{2})(?:\+|%2B)?\d(?:[\s./-]?\d){6,}(?![\w])"
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
    """Attach the redacting filter to every handler of the root logger (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
