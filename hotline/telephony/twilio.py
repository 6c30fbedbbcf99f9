"""Twilio: the only module that imports the twilio package.

Checks webhook signatures with twilio's RequestValidator, builds TwiML with its
VoiceResponse, so every verb and attribute we emit is one Twilio documents, and
talks to Twilio's REST API with its real Client, at a configurable base URL
(``twilio_api_base_url``) so that tests and staging can use a local server.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Enqueue, Gather, Say, VoiceResponse

from hotline import ivr
from hotline.config import Settings
from hotline.privacy import redact_phone_numbers
from hotline.telephony import DialPlan, Provider, QueuePlan, TelephonyError, Voice

# twilio's HTTP client logs request bodies (which hold phone numbers) at INFO.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

TWILIO_API = "https://api.twilio.com"
# Seconds to wait for Twilio: a call-back is started from an operator's web request.
REQUEST_TIMEOUT = 10
RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
# twilio puts "Unable to create record: " before Twilio's own explanation.
SDK_PREFIX = re.compile(r"^Unable to \w+ record: ")
# Seconds an operator's <Dial><Queue> waits for a caller in an empty queue.
QUEUE_PICK_UP_SECONDS = 5
# Twilio's error for updating a call that is not in a state that allows it (e.g. ended).
CALL_NOT_IN_PROGRESS = 21220
TEXT_BODIES = ("application/json", "application/problem+json", "text/", "application/xml")


def _binary_bodies_as_latin1(response: requests.Response, *args, **kwargs) -> None:
    """twilio's Response keeps only the decoded text of a body. Decoding audio as latin-1,
    which maps every byte to one character, lets ``text.encode("latin-1")`` give the bytes back.
    """
    if not response.headers.get("Content-Type", "").startswith(TEXT_BODIES):
        response.encoding = "latin-1"


# Enough of a number's latest messages to find one sent a few minutes ago.
LOOKBACK_MESSAGES = 50
# What Twilio's Smart Encoding replaces with plain GSM characters.
SMART_ENCODED = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def _plain(body: str) -> str:
    """A body as Smart Encoding would send it, with its spacing made regular."""
    return " ".join(body.translate(SMART_ENCODED).split())


class RebasedHttpClient(TwilioHttpClient):
    """twilio's own HTTP client, sending what is meant for api.twilio.com to ``base_url``."""

    def __init__(self, base_url: str, *, timeout: float = REQUEST_TIMEOUT):
        super().__init__(timeout=timeout, request_hooks={"response": [_binary_bodies_as_latin1]})
        self.base_url = base_url.rstrip("/")

    def rebase(self, url: str) -> str:
        """``url`` with Twilio's REST origin replaced by the configured base URL."""
        if url == TWILIO_API or url.startswith(TWILIO_API + "/"):
            return self.base_url + url[len(TWILIO_API) :]
        return url

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        """Make the request twilio asked for, at the configured base URL."""
        return super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def make_client(settings: Settings) -> Client:
    """twilio's REST Client for this installation's account, at its configured base URL."""
    secrets = settings.secrets
    return Client(
        secrets.twilio_account_sid,
        secrets.twilio_auth_token,
        http_client=RebasedHttpClient(settings.twilio_api_base_url),
        # Settings are the one source of configuration: without a mapping of its own the
        # client would read TWILIO_EDGE/TWILIO_REGION from the environment and move hosts.
        environment={"TWILIO_ACCOUNT_SID": secrets.twilio_account_sid},
    )


def _refused(doing: str, error: Exception) -> TelephonyError:
    """One clear error for anything Twilio answers or fails with, without phone numbers."""
    if isinstance(error, requests.RequestException):
        return TelephonyError(f"Twilio could not be reached to {doing}: {type(error).__name__}")
    status, code = getattr(error, "status", None), getattr(error, "code", None)
    # Twilio's messages quote the number they did not like ("The 'To' number +32... is ...").
    reason = getattr(error, "msg", None) or getattr(error, "detail", None) or ""
    reason = redact_phone_numbers(SDK_PREFIX.sub("", str(reason)))
    message = f"Twilio refused to {doing} (HTTP {status}, error {code})"
    return TelephonyError(f"{message}: {reason}" if reason else message, status=status, code=code)


class TwilioProvider(Provider):
    """Twilio Programmable Voice and Messaging."""

    name = "twilio"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.validator = RequestValidator(settings.secrets.twilio_auth_token)
        self._client: Client | None = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Client:
        """twilio's REST client, made on first use (most web requests never need it)."""
        with self._client_lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def is_valid_request(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Check X-Twilio-Signature against the public URL Twilio called."""
        return bool(signature) and self.validator.validate(url, dict(params), signature)

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
        """TwiML for a list of IVR actions; every outcome is posted back to ``action_url``."""
        response = VoiceResponse()
        for action in actions:
            if isinstance(action, ivr.Gather):
                speech = action.listens_for_speech
                gather = Gather(
                    input="dtmf speech" if speech else "dtmf",
                    action=action_url,
                    method="POST",
                    timeout=action.timeout,
                    language=action.language,
                    hints=(", ".join(action.speech_hints) or None) if speech else None,
                    # Seconds, not "auto" (which ends at the first pause: older callers
                    # pause mid-sentence); Twilio also requires a number with speechModel.
                    speech_timeout=action.speech_timeout if speech else None,
                    speech_model=action.speech_model if speech else None,
                    # Without it, silence falls through to the next verb; we want the
                    # engine to answer silence kindly (repeat, then an operator), unless
                    # the next verb is what silence means (ring another round).
                    action_on_empty_result=None if action.falls_through else True,
                    # Only constructor arguments become TwiML attributes (None is left out).
                    num_digits=action.num_digits or None,
                    finish_on_key=action.finish_on_key,
                )
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
                    transcribe=True if transcription_url else None,
                    transcribe_callback=transcription_url,
                )
                # An empty recording skips the action and falls through to the next verb:
                # send it to the engine too, which treats it as "no message".
                response.redirect(action_url, method="POST")
            elif isinstance(action, ivr.Dial) and queue is not None:
                # The caller waits in the queue; the waitUrl is asked for what they hear,
                # and the action learns how the wait ended (QueueResult).
                response.append(
                    Enqueue(
                        queue.name,
                        action=action_url,
                        method="POST",
                        wait_url=queue.wait_url,
                        wait_url_method="POST",
                    )
                )
            elif isinstance(action, ivr.Dial):
                if dial is None:
                    raise ValueError("an IVR Dial needs a DialPlan")
                verb = Dial(
                    action=action_url,
                    method="POST",
                    timeout=dial.timeout,
                    # The line's number, so the person rung never sees the caller's.
                    caller_id=caller_id,
                    # The caller hears ringing, not silence, until someone is put through.
                    answer_on_bridge=True,
                )
                for number in dial.numbers:
                    verb.number(
                        number, url=dial.screen_url, method="POST" if dial.screen_url else None
                    )
                response.append(verb)
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

    def say(self, text: str, voice: Voice, *, hang_up: bool = False) -> str:
        """TwiML that says ``text`` (and hangs up, if asked)."""
        response = VoiceResponse()
        self._speak(response, ivr.Say(text=text, language=voice.language), {voice.language: voice})
        if hang_up:
            response.hangup()
        return str(response)

    def standalone(
        self,
        before: Sequence[tuple[str, Voice]],
        *,
        dial: Sequence[str] = (),
        caller_id: str | None = None,
        after: Sequence[tuple[str, Voice]] = (),
    ) -> str:
        """TwiML for a TwiML Bin: no URL of this app anywhere in it, since it is played
        when this app cannot answer (a <Dial> without action goes on to the next verb)."""
        response = VoiceResponse()
        for text, voice in before:
            self._speak(
                response, ivr.Say(text=text, language=voice.language), {voice.language: voice}
            )
        if dial:
            verb = Dial(caller_id=caller_id, timeout=30, answer_on_bridge=True)
            for number in dial:
                verb.number(number)
            response.append(verb)
        for text, voice in after:
            self._speak(
                response, ivr.Say(text=text, language=voice.language), {voice.language: voice}
            )
        response.hangup()
        return str(response)

    def proceed(self) -> str:
        """An empty TwiML response: a screening document that ends connects the call."""
        return str(VoiceResponse())

    def leave_queue(self) -> str:
        """TwiML <Leave/>: Twilio takes the caller out of the queue and posts the Enqueue's
        action with QueueResult "leave"."""
        response = VoiceResponse()
        response.leave()
        return str(response)

    def keep_waiting(self, wait_url: str) -> str:
        """TwiML that goes back to the waitUrl (a key other than * was pressed)."""
        response = VoiceResponse()
        response.redirect(wait_url, method="POST")
        return str(response)

    def pick_up_from_queue(
        self,
        *,
        whisper: str,
        voice: Voice,
        queue_name: str,
        bridged_url: str,
        ended_url: str,
    ) -> str:
        """TwiML for an operator's leg: the whisper, then <Dial><Queue> of the line's queue
        (Twilio connects its first caller; <Queue url> runs on the caller's call first)."""
        response = VoiceResponse()
        self._speak(
            response, ivr.Say(text=whisper, language=voice.language), {voice.language: voice}
        )
        # An empty queue (the caller just left) would keep the operator waiting: a short
        # timeout, then the action says so.
        dial = Dial(action=ended_url, method="POST", timeout=QUEUE_PICK_UP_SECONDS)
        dial.queue(queue_name, url=bridged_url, method="POST")
        response.append(dial)
        return str(response)

    def ask_for_key(self, *, prompt: str, voice: Voice, action_url: str, otherwise: str) -> str:
        """TwiML: one key, posted to ``action_url``; without one, ``otherwise`` and hang up."""
        voices = {voice.language: voice}
        response = VoiceResponse()
        gather = Gather(input="dtmf", num_digits=1, action=action_url, method="POST", timeout=8)
        self._speak(gather, ivr.Say(text=prompt, language=voice.language), voices)
        response.append(gather)
        # No key: Gather falls through to here (actionOnEmptyResult is off on purpose).
        self._speak(response, ivr.Say(text=otherwise, language=voice.language), voices)
        response.hangup()
        return str(response)

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
        """TwiML: say ``intro``, ring ``number`` as ``caller_id``; ``screen_url`` runs on the
        answered leg before the two are connected; the outcome goes to ``action_url``."""
        response = VoiceResponse()
        self._speak(response, ivr.Say(text=intro, language=voice.language), {voice.language: voice})
        dial = Dial(
            caller_id=caller_id,
            timeout=timeout,
            action=action_url,
            method="POST",
            answer_on_bridge=True,
        )
        dial.number(number, url=screen_url, method="POST")
        response.append(dial)
        return str(response)

    def send_sms(
        self,
        *,
        to: str,
        body: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
    ) -> str:
        """Send an SMS through Twilio's Messages API; returns its sid ("SM...").

        With a Messaging Service Twilio picks the sender from its pool (and applies the
        service's opt-out handling); otherwise it is sent from ``from_``.
        """
        sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_}
        )
        try:
            message = self.client.messages.create(
                to=to, body=body, status_callback=status_callback, **sender
            )
        except (TwilioException, requests.RequestException) as error:
            raise _refused("send an SMS", error) from None
        return message.sid

    def find_sent_sms(self, *, to: str, body: str, since: datetime) -> list[str]:
        """Ask Twilio's Messages API which messages with this body went to ``to`` lately.

        Twilio lists a number's messages newest first; LOOKBACK_MESSAGES of them cover
        any volunteer's traffic of the last minutes. Bodies are compared after undoing
        Smart Encoding (a Messaging Service may send curly quotes as straight ones).
        """
        try:
            messages = self.client.messages.list(to=to, limit=LOOKBACK_MESSAGES)
        except (TwilioException, requests.RequestException) as error:
            raise _refused("look up sent messages", error) from None
        wanted = _plain(body)
        return [
            message.sid
            for message in messages
            if message.date_created is not None
            and message.date_created >= since
            and _plain(message.body or "") == wanted
        ]

    def sms_reply(self, messages: Sequence[tuple[str, str | None]]) -> str:
        """TwiML answering an incoming SMS; each message reports its delivery to its URL."""
        response = MessagingResponse()
        for body, status_url in messages:
            # <Message action> is where Twilio posts that message's status callbacks.
            response.message(body, action=status_url, method="POST" if status_url else None)
        return str(response)

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
        """Start an outgoing call through Twilio's Calls API; returns its sid ("CA...")."""
        document = {"twiml": twiml} if twiml is not None else {"url": url, "method": "POST"}
        report = (
            {"status_callback": status_callback, "status_callback_method": "POST"}
            if status_callback
            else {}
        )
        try:
            call = self.client.calls.create(
                to=to, from_=from_, timeout=timeout, **document, **report
            )
        except (TwilioException, requests.RequestException) as error:
            raise _refused("start a call", error) from None
        return call.sid

    def cancel_call(self, call_sid: str) -> None:
        """Update the call's status to "canceled", which Twilio applies to a call that is
        still queued or ringing only (one answered meanwhile goes on)."""
        try:
            self.client.calls(call_sid).update(status="canceled")
        except (TwilioException, requests.RequestException) as error:
            refused = _refused("cancel a call", error)
            if refused.not_found or refused.code == CALL_NOT_IN_PROGRESS:
                return  # over already, or answered: nothing rings any more
            raise refused from None

    def fetch_recording(self, recording_sid: str) -> tuple[bytes, str]:
        """Download a recording as MP3, authenticated like every other request to Twilio."""
        if not RECORDING_SID.fullmatch(recording_sid):
            raise TelephonyError("not a Twilio recording sid", status=404)
        client = self.client
        url = (
            f"{TWILIO_API}/2010-04-01/Accounts/{client.account_sid}/Recordings/{recording_sid}.mp3"
        )
        try:
            # Twilio may answer with a redirect to its media storage; requests drops the
            # credentials when it follows one to another host.
            response = client.request(
                "GET", url, headers={"Accept": "audio/mpeg"}, allow_redirects=True
            )
        except requests.RequestException as error:
            raise _refused("fetch a recording", error) from None
        if response.status_code >= 400:
            error = client.api.v2010.exception("GET", url, response, "Unable to fetch record")
            raise _refused("fetch a recording", error)
        content_type = (response.headers or {}).get("Content-Type", "audio/mpeg")
        return response.text.encode("latin-1"), content_type.split(";")[0].strip()

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a recording (and its transcriptions) through Twilio's Recordings API."""
        if not RECORDING_SID.fullmatch(recording_sid):
            return  # not a sid Twilio could hold: nothing there to delete
        try:
            self.client.recordings(recording_sid).delete()
        except (TwilioException, requests.RequestException) as error:
            refused = _refused("delete a recording", error)
            if refused.not_found:
                return  # deleted before (a purge cut short, or by hand in Twilio's console)
            raise refused from None
