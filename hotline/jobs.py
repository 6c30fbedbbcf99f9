"""rq jobs. Each takes ids, opens its own session, and is safe to run twice."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app
from sqlmodel import Session

from hotline.config import Settings
from hotline.db import get_engine, session_scope
from hotline.messaging import delivery, offers, sending
from hotline.models import Assignment, HelpRequest, Line, utcnow
from hotline.outbox import relay_written
from hotline.queue import get_redis
from hotline.telephony import get_provider
from hotline.volunteers import line_settings

log = logging.getLogger(__name__)


def announce_request(help_request_id: int) -> bool:
    """Make a new help request visible to operators. Returns False if it already was."""
    with session_scope(get_engine()) as session:
        help_request = session.get(HelpRequest, help_request_id)
        if help_request is None:
            # Purged or rolled back since: nothing to announce, and nothing to retry.
            log.warning("announce_request: help request %s does not exist", help_request_id)
            return False
        if help_request.announced_at is not None:
            return False
        help_request.announced_at = utcnow()
        session.add(help_request)
    current_app.logger.info("help request %s announced to operators", help_request_id)
    return True


def send_sms(sms_id: int) -> str | None:
    """Send one text to a volunteer; returns its message sid, None if it was not sent now.

    A failure at Twilio raises, so rq retries with backoff (JOB_RETRY on every outbox
    job); the sent message is recorded, so a retry or a second run sends nothing more.
    A text Twilio refuses for good is recorded, and an offer then moves on.
    """
    settings = _settings()
    with session_scope(get_engine()) as session:
        result = sending.send_text(
            session, settings=settings, provider=get_provider(), sms_id=sms_id
        )
        if result.refused:
            delivery.message_failed(
                session,
                settings=settings,
                sms=result.sms,
                code=result.refused_code,
                action=sending.SMS_NOT_SENT,
                reason=result.reason,
            )
        _commit_and_relay(session)
        return result.message_sid


def expire_offer(assignment_id: int) -> bool:
    """An offer's time is up: if still unanswered it expires, and the next volunteer is asked."""
    return _on_line_of_assignment(offers.expire_offer, assignment_id)


def send_reminder(assignment_id: int) -> bool:
    """JA but no KLAAR yet: one reminder SMS, and the follow-up timed."""
    return _on_line_of_assignment(offers.send_reminder, assignment_id)


def flag_follow_up(assignment_id: int) -> bool:
    """Still no KLAAR after the reminder: the request goes on the follow-up list."""
    with session_scope(get_engine()) as session:
        flagged = offers.flag_follow_up(session, assignment_id=assignment_id)
        session.commit()
        return flagged


def _settings() -> Settings:
    return current_app.extensions["hotline.settings"]


def _on_line_of_assignment(use_case: Callable[..., bool], assignment_id: int) -> bool:
    """Run ``use_case`` for an assignment with its line's settings; commit, then relay."""
    settings = _settings()
    with session_scope(get_engine()) as session:
        assignment = session.get(Assignment, assignment_id)
        if assignment is None:
            return False  # purged since: nothing to do, and nothing to retry
        help_request = session.get(HelpRequest, assignment.help_request_id)
        line = line_settings(settings, session.get(Line, help_request.line_id))
        done = use_case(session, assignment_id=assignment_id, line=line)
        _commit_and_relay(session)
        return done


def _commit_and_relay(session: Session) -> None:
    """Commit, then queue at once whatever work this job wrote (texts, timers)."""
    session.commit()
    relay_written(session, get_redis)
