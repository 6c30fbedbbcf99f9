"""Twilio webhooks (``/twilio/*``): thin views over the call use cases.

Every request must carry a valid X-Twilio-Signature for the public URL Twilio
called; anything else gets 403 before any code touches the database.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, abort, current_app, request, url_for
from sqlalchemy.exc import IntegrityError

from hotline import calls
from hotline.config import Settings
from hotline.db import get_session
from hotline.flows import get_flow
from hotline.messaging.delivery import record_delivery
from hotline.messaging.inbound import InboundSms, previous_answer, receive_sms
from hotline.messaging.sending import status_callback_url
from hotline.outbox import relay_written
from hotline.queue import get_redis
from hotline.telephony import Voice, get_provider

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
SMALL_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: "²".isdigit() is true
SMS_STATUSES = frozenset(
    {
        "accepted",
        "scheduled",
        "queued",
        "sending",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "read",
        "canceled",
        "receiving",
        "received",
    }
)


def _settings() -> Settings:
    return current_app.extensions["hotline.settings"]


def public_url() -> str:
    """The URL Twilio used for this request, which is what it signed."""
    settings = _settings()
    if settings.trust_proxy:  # ProxyFix has rebuilt the public URL from the proxy's headers
        return request.url
    query = request.query_string.decode()
    return settings.public_base_url + request.path + (f"?{query}" if query else "")


@blueprint.before_request
def require_twilio_signature() -> None:
    """Refuse (403) any request that Twilio did not sign."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not get_provider().is_valid_request(public_url(), request.form, signature):
        log.warning("refused %s: missing or invalid Twilio signature", request.path)
        abort(403)


def _call_sid() -> str:
    call_sid = request.form.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid):
        abort(400, "CallSid missing or malformed")
    return call_sid


def _call_env() -> calls.CallEnv:
    settings = _settings()
    line = settings.line_for_number(request.form.get("To"))
    flow = get_flow(line.flow)
    provider = get_provider()
    voices = {
        language.code: Voice(language=language.code, voice=language.voice, rate=flow.speaking_rate)
        for language in flow.languages.values()
    }

    transcription_url = url_for("twilio.voice_transcription") if line.transcribe else None

    def render(actions, step: int) -> str:
        return provider.render(
            actions,
            action_url=url_for("twilio.voice_step", step=step),
            voices=voices,
            operators=line.operator_numbers,
            caller_id=line.phone_number,
            transcription_url=transcription_url,
        )

    return calls.CallEnv(settings=settings, line=line, flow=flow, render=render)


def _twiml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def relay_outbox() -> None:
    """Push this request's outbox work to rq now; if Redis is away a worker catches up later."""
    relay_written(get_session(), get_redis)


def _replay_if_raced(env: calls.CallEnv, call_sid: str, answer):
    """Run ``answer()``; if a simultaneous copy of this webhook won the race, replay its answer."""
    try:
        return answer()
    except IntegrityError:
        session = get_session()
        session.rollback()
        replay = calls.last_answer(session, env, call_sid)
        if replay is None:
            raise
        return replay


@blueprint.post("/voice")
def voice() -> Response:
    """A call comes in: greet the caller and offer the first menu."""
    env, call_sid = _call_env(), _call_sid()
    twiml = _replay_if_raced(
        env,
        call_sid,
        lambda: calls.answer_call(
            get_session(), env, call_sid=call_sid, caller_number=request.form.get("From")
        ),
    )
    relay_outbox()
    return _twiml(twiml)


@blueprint.post("/voice/step/<int:step>")
def voice_step(step: int) -> Response:
    """The caller answered a menu (keys, speech, silence) or finished a recording."""
    recording_sid = request.form.get("RecordingSid") or None
    if recording_sid and not RECORDING_SID.fullmatch(recording_sid):
        abort(400, "RecordingSid malformed")
    env, call_sid = _call_env(), _call_sid()
    twiml = _replay_if_raced(env, call_sid, lambda: _continue(env, call_sid, step, recording_sid))
    relay_outbox()
    return _twiml(twiml)


def _continue(env: calls.CallEnv, call_sid: str, step: int, recording_sid: str | None) -> str:
    try:
        return calls.continue_call(
            get_session(),
            env,
            call_sid=call_sid,
            step=step,
            digits=request.form.get("Digits"),
            speech=request.form.get("SpeechResult"),
            recording_sid=recording_sid,
            dial_status=request.form.get("DialCallStatus") or None,
        )
    except calls.UnknownCall:
        # We lost track of this call (e.g. its first webhook failed): start it over
        # rather than hang up on someone asking for help.
        return calls.answer_call(
            get_session(), env, call_sid=call_sid, caller_number=request.form.get("From")
        )


@blueprint.post("/voice/status")
def voice_status() -> Response:
    """How a call ended, for statistics; holds no phone number."""
    calls.record_call_end(
        get_session(),
        _call_env(),
        call_sid=_call_sid(),
        status=request.form.get("CallStatus", "")[:32] or "unknown",
    )
    relay_outbox()
    return Response(status=204)


@blueprint.post("/voice/transcription")
def voice_transcription() -> Response:
    """Twilio's transcription of a recorded message: kept beside the request or lead."""
    recording_sid = request.form.get("RecordingSid", "")
    if not RECORDING_SID.fullmatch(recording_sid):
        abort(400, "RecordingSid missing or malformed")
    if request.form.get("TranscriptionStatus", "completed") == "completed":
        calls.attach_transcript(
            get_session(),
            recording_sid=recording_sid,
            text=request.form.get("TranscriptionText", ""),
        )
    return Response(status=204)


def _message_sid() -> str:
    message_sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    if not MESSAGE_SID.fullmatch(message_sid):
        abort(400, "MessageSid missing or malformed")
    return message_sid


@blueprint.post("/sms")
def sms() -> Response:
    """A volunteer texted the line: JA / NEE / KLAAR (+ code), HULP, STOP... Answered in TwiML."""
    message_sid, sender = _message_sid(), request.form.get("From", "")
    if not sender:
        abort(400, "From missing")
    session, settings, provider = get_session(), _settings(), get_provider()
    replay = previous_answer(session, message_sid)
    if replay is not None:  # Twilio retried: the same answer, nothing done twice
        return _twiml(replay)
    inbound = InboundSms(
        message_sid=message_sid,
        from_number=sender,
        to=request.form.get("To", ""),
        body=request.form.get("Body", ""),
        messaging_service_sid=request.form.get("MessagingServiceSid") or None,
        opt_out_type=request.form.get("OptOutType") or None,
    )
    try:
        received = receive_sms(session, settings=settings, inbound=inbound)
        status_url = status_callback_url(settings)
        twiml = provider.sms_reply(
            [(answer.body, f"{status_url}?sms={answer.id}") for answer in received.answers]
        )
        received.message.response = twiml
        session.add(received.message)
        session.commit()
    except IntegrityError:
        # A copy of this message raced us and won: answer what it answered.
        session.rollback()
        replay = previous_answer(session, message_sid)
        if replay is None:
            raise
        return _twiml(replay)
    relay_outbox()
    return _twiml(twiml)


@blueprint.post("/sms/status")
def sms_status() -> Response:
    """Twilio reports what became of an SMS we sent: queued, sent, delivered, failed..."""
    message_sid = _message_sid()
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").lower()
    if status not in SMS_STATUSES:
        abort(400, "MessageStatus missing or unknown")
    error_code = request.form.get("ErrorCode", "")
    sms_id = request.args.get("sms", "")
    session = get_session()
    record_delivery(
        session,
        settings=_settings(),
        message_sid=message_sid,
        status=status,
        error_code=int(error_code) if SMALL_NUMBER.fullmatch(error_code) else None,
        sms_id=int(sms_id) if SMALL_NUMBER.fullmatch(sms_id) else None,
    )
    session.commit()
    relay_outbox()
    return Response(status=204)
