"""Twilio: the only module that imports the twilio package.

Checks webhook signatures with twilio's RequestValidator and builds TwiML with
its VoiceResponse, so every verb and attribute we emit is one Twilio documents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, Say, VoiceResponse

from hotline import ivr
from hotline.config import Settings
from hotline.telephony import Provider, Voice

# twilio's HTTP client logs request bodies (which hold phone numbers) at INFO.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class TwilioProvider(Provider):
    """Twilio Programmable Voice (and, later, Messaging)."""

    name = "twilio"

    def __init__(self, settings: Settings):
        self.validator = RequestValidator(settings.secrets.twilio_auth_token)

    def is_valid_request(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Check X-Twilio-Signature against the public URL Twilio called."""
        return bool(signature) and self.validator.validate(url, dict(params), signature)

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
        """TwiML for a list of IVR actions; every outcome is posted back to ``action_url``."""
        response = VoiceResponse()
        for action in actions:
            if isinstance(action, ivr.Gather):
                gather = Gather(
                    input="dtmf speech",
                    action=action_url,
                    method="POST",
                    timeout=action.timeout,
                    language=action.language,
                    hints=", ".join(action.speech_hints) or None,
                    speech_timeout="auto",
                    # Without it, silence falls through to the next verb; we want the
                    # engine to answer silence kindly (repeat, then an operator).
                    action_on_empty_result=True,
                )
                if action.num_digits:
                    gather.num_digits = action.num_digits
                if action.finish_on_key is not None:
                    gather.finish_on_key = action.finish_on_key
                for inner in action.actions:
                    self._speak(gather, inner, voices)
                response.append(gather)
            elif isinstance(action, ivr.Record):
                response.record(
                    action=action_url,
                    method="POST",
                    max_length=action.max_length,
                    finish_on_key=action.finish_on_key,
                    timeout=action.timeout,
                    play_beep=True,
                    transcribe_callback=transcription_url,
                )
                # An empty recording skips the action and falls through to the next verb:
                # send it to the engine too, which treats it as "no message".
                response.redirect(action_url, method="POST")
            elif isinstance(action, ivr.Dial):
                dial = Dial(
                    action=action_url,
                    method="POST",
                    timeout=25,
                    # The line's number, so operators never see the resident's.
                    caller_id=caller_id,
                    # The caller may give up waiting and leave a message instead (press *).
                    hangup_on_star=True,
                    answer_on_bridge=True,
                )
                for number in operators:
                    dial.number(number)
                response.append(dial)
            elif isinstance(action, ivr.Hangup):
                response.hangup()
            else:
                self._speak(response, action, voices)
        return str(response)

    @staticmethod
    def _speak(parent, action: object, voices: Mapping[str, Voice]) -> None:
        if isinstance(action, ivr.Pause):
            parent.pause(length=action.seconds)
        elif isinstance(action, ivr.Say):
            voice = voices.get(action.language) or Voice(language=action.language, voice="")
            say = Say(voice=voice.voice or None, language=action.language)
            # SSML prosody slows neural voices down; the text stays plain for the rest.
            say.prosody(action.text, rate=voice.rate)
            parent.append(say)
        else:
            raise TypeError(f"cannot render {type(action).__name__} as TwiML")
