"""Privacy: numbers live encrypted in the vault, callers are keyed hashes, logs are redacted."""

from __future__ import annotations

import logging

from sqlmodel import Session

from hotline.config import Secrets, generate_secrets
from hotline.db import make_engine
from hotline.models import Contact
from hotline.privacy import (
    RedactingFilter,
    caller_hash,
    redact_phone_numbers,
    reveal_number,
    store_contact,
)

SECRETS = Secrets(**generate_secrets())


def test_a_number_is_stored_encrypted_and_only_the_system_can_read_it(database_url):
    engine = make_engine(database_url)
    with Session(engine) as session:
        contact = store_contact(session, SECRETS, "+32470123456")
        session.commit()
        stored = session.get(Contact, contact.id)
        assert "470123456" not in stored.encrypted_number
        assert "470123456" not in stored.caller_hash
        assert reveal_number(session, stored, SECRETS, reason="call_back") == "+32470123456"
    engine.dispose()


def test_a_caller_who_calls_again_is_the_same_vault_entry(database_url):
    engine = make_engine(database_url)
    with Session(engine) as session:
        first = store_contact(session, SECRETS, "+32470123456")
        again = store_contact(session, SECRETS, "+32470123456")
        other = store_contact(session, SECRETS, "+32470654321")
        assert first.id == again.id != other.id
    engine.dispose()


def test_the_caller_hash_depends_on_the_secret_pepper():
    assert caller_hash("+32470123456", "pepper-a") != caller_hash("+32470123456", "pepper-b")
    assert caller_hash("+32470123456", "pepper-a") == caller_hash("+32470123456", "pepper-a")


def test_phone_numbers_are_redacted_in_the_ways_people_write_them():
    for written in (
        "+32470123456",
        "+32 16 27 27 72",
        "016/27 27 72",
        "0470.12.34.56",
        "0032470123456",
        "%2B32470123456",
    ):
        assert redact_phone_numbers(f"caller {written} hung up") == "caller [number] hung up"


def test_references_ids_and_times_survive_redaction():
    text = (
        "request 482913 (id 12) at 2026-11-26 16:18:11 from CA0123456789abcdef0123456789abcdef"
        " on 26/11/2026"
    )
    assert redact_phone_numbers(text) == text


def test_the_log_filter_removes_numbers_from_log_records(caplog):
    logger = logging.getLogger("hotline.test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="hotline.test"):
        logger.info("call from %s", "+32470123456")
    assert "470123456" not in caplog.text
    assert "call from [number]" in caplog.text


def test_loggers_set_up_later_are_redacted_too(capsys):
    import sys

    from hotline.privacy import install_log_redaction

    install_log_redaction()
    logger = logging.getLogger("rq.worker.test")  # e.g. rq adds its own handler later
    handler = logging.StreamHandler(sys.stderr)
    logger.addHandler(handler)
    try:
        logger.warning("sending to %s failed", "+32 470 12 34 56")
    finally:
        logger.removeHandler(handler)
    assert capsys.readouterr().err == "sending to [number] failed\n"
