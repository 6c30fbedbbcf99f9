"""Outgoing calls take turns, one a second per Twilio account (hotline.telephony.pacing).

Operators' phones rung for a waiting caller and operators' call-backs share the slots, on
a real Redis, so that neither pushes the other past Twilio's default limit.
"""

from __future__ import annotations

import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hotline.telephony import TelephonyError
from hotline.telephony.pacing import NoCallSlot, take_call_slot

ACCOUNT = "AC" + "a1" * 16


def test_the_second_call_of_a_second_waits_for_the_next_second(redis_conn):
    started = time.monotonic()
    take_call_slot(redis_conn, account=ACCOUNT)
    first = time.monotonic()
    take_call_slot(redis_conn, account=ACCOUNT)
    second = time.monotonic()
    assert first - started < 0.5  # a free slot is taken at once
    assert second - first >= 0.9


def test_another_account_has_slots_of_its_own(redis_conn):
    take_call_slot(redis_conn, account=ACCOUNT)
    started = time.monotonic()
    take_call_slot(redis_conn, account="AC" + "b2" * 16)
    assert time.monotonic() - started < 0.5


def test_no_slot_in_time_is_a_telephony_error_worth_retrying(redis_conn):
    take_call_slot(redis_conn, account=ACCOUNT, per_second=0.1)  # the slot is taken for 10 s
    with pytest.raises(NoCallSlot) as refused:
        take_call_slot(redis_conn, account=ACCOUNT, patience=0.2)
    assert isinstance(refused.value, TelephonyError)
    assert not refused.value.permanent  # rq retries it; a call-back view says "try again"


def test_a_redis_that_is_away_stops_a_job_but_not_an_operators_call_back():
    away = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(redis.RedisError):
        take_call_slot(away, account=ACCOUNT)
    take_call_slot(away, account=ACCOUNT, fail_open=True)  # goes ahead: Twilio queues it
