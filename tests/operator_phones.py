"""The operators' phones as Twilio rings them for a caller waiting in the line's queue.

The app asks Twilio's Calls API (the sandbox, tests.fake_twilio) to ring each operator
phone; a test then plays Twilio for those legs: a phone picks up (Twilio fetches the
leg's Url), Twilio puts the operator through to the first caller of the queue (it runs
the <Queue url> on the caller's call), and so on. Every webhook is signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from hotline.telephony.sandbox import FakeTwilio
from tests.conftest import LEUVEN_NUMBER, PUBLIC_BASE_URL, Twilio
from tests.test_ivr_webhooks import QUEUE_NAME, Answer


@dataclass
class Leg:
    """One operator phone rung for a caller: the call Twilio was asked to start."""

    sid: str
    phone: str  # the operator's number, as the app handed it to Twilio
    url: str  # what Twilio fetches when the phone picks up (path and query)
    status_url: str
    timeout: int


def local(url: str) -> str:
    """An absolute URL of this app as a path for the test client (it must be ours)."""
    assert url.startswith(PUBLIC_BASE_URL + "/twilio/"), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def legs(fake: FakeTwilio) -> list[Leg]:
    """Every call the app asked Twilio to start, as operator legs, in order."""
    return [
        Leg(
            sid=request.created_sid,
            phone=request.form["To"],
            url=local(request.form["Url"]),
            status_url=local(request.form["StatusCallback"]),
            timeout=int(request.form["Timeout"]),
        )
        for request in fake.calls
    ]


class OperatorPhones:
    """Plays Twilio for the operators' legs of the line."""

    def __init__(self, twilio: Twilio, fake: FakeTwilio):
        self.twilio = twilio
        self.fake = fake

    def leg_for(self, phone: str, nth: int = 0) -> Leg:
        """The ``nth`` leg that rang ``phone``."""
        return [leg for leg in legs(self.fake) if leg.phone == phone][nth]

    def picks_up(self, leg: Leg) -> Answer:
        """The phone answers: Twilio fetches the leg's Url with the leg's own CallSid."""
        self.fake.answer_call(leg.sid)
        params = {
            "AccountSid": self.fake.account_sid, "ApiVersion": "2010-04-01", "CallSid": leg.sid,
            "From": LEUVEN_NUMBER, "To": leg.phone, "Direction": "outbound-api",
            "CallStatus": "in-progress",
        }  # fmt: skip
        return Answer(self.twilio.post(leg.url, params))

    def puts_through(self, picked_up: Answer, leg: Leg, caller_sid: str) -> None:
        """Twilio dequeues the first caller for this leg: it runs the <Queue url> on the
        caller's call (CallSid = the caller, DequeingCallSid = the operator's leg)."""
        queue = picked_up.only("Queue")
        assert queue.text == QUEUE_NAME
        params = {
            "AccountSid": self.fake.account_sid, "CallSid": caller_sid, "From": "+32470123456",
            "To": LEUVEN_NUMBER, "Direction": "inbound", "CallStatus": "in-progress",
            "QueueSid": "QU" + "1" * 32, "QueueTime": "12", "DequeingCallSid": leg.sid,
        }  # fmt: skip
        response = self.twilio.post(queue.get("url"), params)
        assert response.status_code == 200, response.get_data(as_text=True)

    def dial_over(self, picked_up: Answer, leg: Leg, *, bridged: bool) -> Answer:
        """The operator's <Dial><Queue> ended: Twilio posts its action."""
        params = {
            "AccountSid": self.fake.account_sid, "CallSid": leg.sid, "From": LEUVEN_NUMBER,
            "To": leg.phone, "Direction": "outbound-api", "CallStatus": "in-progress",
            "DialCallStatus": "completed" if bridged else "no-answer",
            "DialBridged": "true" if bridged else "false",
        }  # fmt: skip
        return Answer(self.twilio.post(picked_up.only("Dial").get("action"), params))
