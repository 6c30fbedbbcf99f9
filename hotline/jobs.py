"""rq jobs. Each takes ids, opens its own session, and is safe to run twice."""

from __future__ import annotations

import logging

from flask import current_app

from hotline.messaging import texts as messaging
from hotline.db import get_engine, session_scope
from hotline.models import HelpRequest, utcnow
from hotline.telephony import get_provider

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


def send_assignment_sms(assignment_id: int) -> str | None:
    """Text a volunteer their new assignment; returns the message sid, None if already sent.

    A failure at Twilio raises, so rq retries with backoff (JOB_RETRY on every outbox
    job); the sent message is recorded, so a retry or a second run sends nothing more.
    """
    with session_scope(get_engine()) as session:
        return messaging.send_assignment_offer(
            session,
            settings=current_app.extensions["hotline.settings"],
            provider=get_provider(),
            assignment_id=assignment_id,
        )
