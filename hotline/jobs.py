"""rq jobs. Each takes ids, opens its own session, and is safe to run twice."""

from __future__ import annotations

import logging

from flask import current_app

from hotline.db import get_engine, session_scope
from hotline.models import HelpRequest, utcnow

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
