"""Telephony providers: the app talks to this interface, never to a vendor's SDK directly.

Twilio is the one provider today (``hotline.telephony.twilio``); another can be
added by subclassing :class:`Provider` and registering it in ``PROVIDERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flask import Flask, current_app

from hotline.config import Settings


@dataclass(frozen=True)
class Voice:
    """How prompts in one language are spoken."""

    language: str  # e.g. "nl-BE"
    voice: str  # e.g. "Google.nl-BE-Wavenet-A"; empty: the provider's default
    rate: str = "90%"  # slower than default, for callers of 80


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
        operators: Sequence[str] = (),
        caller_id: str | None = None,
        transcription_url: str | None = None,
    ) -> str:
        """Turn IVR actions (hotline.ivr Say/Pause/Gather/...) into the provider's response."""
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
