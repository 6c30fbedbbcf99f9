"""Telephony providers: the app talks to this interface, never to a vendor's SDK directly.

Twilio is the one provider today (``hotline.telephony.twilio``); another can be
added by subclassing :class:`Provider` and registering it in ``PROVIDERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app

from hotline.config import Settings


class TelephonyError(Exception):
    """The provider refused a request or could not be reached.

    The message is safe to log and to keep in rq's failed-job registry: it never
    holds a phone number (providers' own messages often quote the number).
    """

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status  # the provider's HTTP status, None when it was not reached
        self.code = code  # the provider's own error code, e.g. Twilio's 21211

    @property
    def permanent(self) -> bool:
        """Whether trying again cannot help: the provider refused the request itself
        (invalid number, opted out with STOP...), as opposed to being busy or away."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429

    @property
    def not_found(self) -> bool:
        """Whether the provider says the thing asked for does not exist (any more)."""
        return self.status == 404


@dataclass(frozen=True)
class Voice:
    """How prompts in one language are spoken."""

    language: str  # e.g. "nl-BE"
    voice: str  # e.g. "Google.nl-BE-Wavenet-A"; empty: the provider's default
    rate: str = "90%"  # slower than default, for callers of 80


@dataclass(frozen=True)
class DialPlan:
    """Whom a Dial rings and how: the app resolves an IVR Dial's target into this."""

    numbers: Sequence[str]  # rung at once; the first to pick up is connected
    # Run on the answered leg before connecting (a whisper, or "press 1 to accept").
    screen_url: str | None = None
    timeout: int = 25


@dataclass(frozen=True)
class QueuePlan:
    """A caller put in a queue (an IVR Dial to the operators): which one, what they hear."""

    name: str  # the queue's name at the provider, one per line
    wait_url: str  # asked again and again while the caller waits: what they hear next


class Provider:
    """What the app needs from a telephony provider."""

    name = "base"

    def is_valid_request(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Whether a webhook really comes from the provider (signed for ``url``)."""
        raise NotImplementedError

    def render(
        self,
        actions: Sequence[object],
        *,
        action_url: str,
        voices: Mapping[str, Voice],
        dial: DialPlan | None = None,
        caller_id: str | None = None,
        transcription_url: str | None = None,
        queue: QueuePlan | None = None,
    ) -> str:
        """Turn IVR actions (hotline.ivr Say/Pause/Gather/...) into the provider's response;
        a Dial rings ``dial``'s numbers showing ``caller_id``, or (with ``queue``) puts the
        caller in that queue, leaving it posted to ``action_url``."""
        raise NotImplementedError

    def leave_queue(self) -> str:
        """Instructions that take a waiting caller out of their queue (its action URL follows)."""
        raise NotImplementedError

    def keep_waiting(self, wait_url: str) -> str:
        """Instructions that send a waiting caller back to what they hear while waiting."""
        raise NotImplementedError

    def pick_up_from_queue(
        self,
        *,
        whisper: str,
        voice: Voice,
        queue_name: str,
        bridged_url: str,
        ended_url: str,
    ) -> str:
        """For an operator's answered phone: say ``whisper`` to them alone, then put them
        through to the first caller in ``queue_name`` (``bridged_url`` runs on the caller's
        side first); how it went is posted to ``ended_url``."""
        raise NotImplementedError

    def say(self, text: str, voice: Voice, *, hang_up: bool = False) -> str:
        """Instructions that say ``text`` (then hang up, if asked)."""
        raise NotImplementedError

    def proceed(self) -> str:
        """Instructions with nothing to do: e.g. a screened call goes on to connect."""
        raise NotImplementedError

    def ask_for_key(self, *, prompt: str, voice: Voice, action_url: str, otherwise: str) -> str:
        """Say ``prompt`` while waiting for one key, posted to ``action_url``; without a key,
        say ``otherwise`` and hang up."""
        raise NotImplementedError

    def connect(
        self,
        *,
        intro: str,
        voice: Voice,
        caller_id: str,
        number: str,
        screen_url: str,
        action_url: str,
        timeout: int,
    ) -> str:
        """Say ``intro``, ring ``number`` showing ``caller_id``; ``screen_url`` runs on the
        answered leg first; how it went is posted to ``action_url``."""
        raise NotImplementedError

    def send_sms(
        self,
        *,
        to: str,
        body: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
    ) -> str:
        """Send one SMS from a number or a messaging service; returns the provider's message
        id. Delivery reports go to ``status_callback``. Raises TelephonyError."""
        raise NotImplementedError

    def sms_reply(self, messages: Sequence[tuple[str, str | None]]) -> str:
        """The answer to an incoming SMS: each (text, status URL) sent back to the sender."""
        raise NotImplementedError

    def find_sent_sms(self, *, to: str, body: str, since: datetime) -> list[str]:
        """The ids of messages with exactly this body sent to ``to`` since ``since``, newest
        first: how a retried send learns whether an attempt cut short reached the provider.
        Raises TelephonyError when the provider cannot tell."""
        raise NotImplementedError

    def standalone(
        self,
        before: Sequence[tuple[str, Voice]],
        *,
        dial: Sequence[str] = (),
        caller_id: str | None = None,
        after: Sequence[tuple[str, Voice]] = (),
    ) -> str:
        """A document that needs nothing from this app (for the provider to host): say
        ``before``, ring ``dial`` (all at once) showing ``caller_id``, say ``after``, hang up."""
        raise NotImplementedError

    def create_call(
        self,
        *,
        to: str,
        from_: str,
        twiml: str | None = None,
        url: str | None = None,
        timeout: int = 30,
        status_callback: str | None = None,
    ) -> str:
        """Ring ``to`` (for ``timeout`` seconds) showing ``from_``; once answered, run ``twiml``
        (or what ``url`` answers then). How the call ends is posted to ``status_callback``.

        Returns the provider's call id. Raises TelephonyError.
        """
        raise NotImplementedError

    def cancel_call(self, call_sid: str) -> None:
        """Stop a call that still rings (queued or ringing). One that was answered, ended or
        never existed is left alone; a provider that cannot be reached raises TelephonyError."""
        raise NotImplementedError

    def fetch_recording(self, recording_sid: str) -> tuple[bytes, str]:
        """A recorded message's audio and its content type. Raises TelephonyError."""
        raise NotImplementedError

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a recording at the provider for good. One that is already gone counts as
        deleted; any other failure raises TelephonyError (the caller tries again later)."""
        raise NotImplementedError


def _twilio(settings: Settings) -> Provider:
    from hotline.telephony.twilio import TwilioProvider

    return TwilioProvider(settings)


PROVIDERS: dict[str, Callable[[Settings], Provider]] = {"twilio": _twilio}


def init_app(app: Flask, settings: Settings) -> None:
    """Attach the telephony provider to the app."""
    app.extensions["hotline.telephony"] = PROVIDERS["twilio"](settings)


def get_provider() -> Provider:
    """The current app's telephony provider."""
    return current_app.extensions["hotline.telephony"]
