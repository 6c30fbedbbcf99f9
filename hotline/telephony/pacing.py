"""Outgoing calls, one a second per account: Twilio's default limit for starting calls.

Every process that starts calls (workers ringing operators, a web process placing a
call-back) takes a slot in Redis first: ``SET key NX PX interval`` succeeds for one of
them per interval, the others wait for the key to expire. Call-backs and operators'
phones share the same slots, so neither can crowd the other out of Twilio's limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from hotline.telephony import TelephonyError

log = logging.getLogger(__name__)

CALLS_PER_SECOND = 1  # Twilio's default CPS for an account; raise it with Twilio first
KEY = "hotline:telephony:call-slot:{account}"


class NoCallSlot(TelephonyError):
    """No slot came free in time: like Twilio's own 429, worth trying again a moment later."""

    def __init__(self, message: str):
        super().__init__(message, status=429)


def take_call_slot(
    connection: redis.Redis,
    *,
    account: str,
    per_second: float = CALLS_PER_SECOND,
    patience: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    fail_open: bool = False,
) -> None:
    """Wait until this process may start one outgoing call on ``account``.

    Raises NoCallSlot after ``patience`` seconds. A Redis that cannot be reached raises
    its error, unless ``fail_open`` (then the call goes ahead: Twilio queues calls above
    the limit rather than refusing them, so a late call beats no call).
    """
    interval_ms = max(1, int(1000 / per_second))
    key = KEY.format(account=account)
    deadline = time.monotonic() + patience
    while True:
        try:
            if connection.set(key, "1", nx=True, px=interval_ms):
                return
            left_ms = connection.pttl(key)
        except redis.RedisError:
            if not fail_open:
                raise
            log.warning("call pacing skipped: Redis unavailable")
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoCallSlot(f"no outgoing call slot within {patience:g} s")
        taken_for = (left_ms if left_ms and left_ms > 0 else interval_ms) / 1000
        sleep(max(0.005, min(taken_for, remaining)))
