"""Twilio webhooks (``/twilio/*``): thin views over the call use cases.

Every request must carry a valid X-Twilio-Signature for the public URL Twilio
called; anything else gets 403 before any code touches the database.
A database that cannot be reached is never a 500 for a caller: they hear an
apology and the line hangs up (see ``database_unavailable``).
"""

from __future__ import annotations

import logging
import re
import time

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    after_this_request,
    current_app,
    g,
    request,
    url_for,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hotline import ivr
from hotline.abuse.refusal import call_refusal, sms_refused
from hotline.config import LineSettings, Settings, normalise_number
from hotline.db import DATABASE_UNAVAILABLE_ERRORS, get_engine, get_session
from hotline.flows import get_flow
from hotline.http_bounds import plain_text
from hotline.messaging.delivery import record_delivery
from hotline.messaging.inbound import InboundSms, previous_answer, receive_sms
from hotline.messaging.sending import status_callback_url
from hotline.models import CallSession, Operator, OperatorRing
from hotline.observability.metrics import (
    CALLS_RECEIVED,
    INCIDENTS,
    SMS_STATUS_REPORTS,
    WEBHOOK_DURATION,
    WEBHOOK_RESPONSES,
)
from hotline.outbox import relay_safely, take_written
from hotline.queue import get_redis
from hotline.telephony import DialPlan, QueuePlan, Voice, get_provider
from hotline.voice import callbacks, calls, connections, live_calls, operator_queue
from hotline.voice.texts import (
    CALLER_LEFT,
    CALLER_TAKEN,
    DATABASE_UNAVAILABLE,
    GENERAL_NUMBER,
    SCREEN_DECLINED,
    every_voice,
    screen_prompt,
    speaking_voice,
    spoken_phone_number,
)

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
# The database is down, unreachable, out of connections, or a SQLite file stayed locked.
# Twilio's reports, which answer no TwiML.
REPORTS = frozenset(
    {
        "twilio.voice_status",
        "twilio.voice_transcription",
        "twilio.sms_status",
        "twilio.operator_leg_status",
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
def start_clock() -> None:
    """Note when the webhook arrived (registered first, so the signature check is timed)."""
    g.webhook_arrived = time.perf_counter()


@blueprint.after_request
def measure(response: Response) -> Response:
    """Count the answer and how long it took, by endpoint."""
    endpoint = request.endpoint or "unknown"
    arrived = g.get("webhook_arrived")
    if arrived is not None:
        WEBHOOK_DURATION.labels(endpoint).observe(time.perf_counter() - arrived)
    WEBHOOK_RESPONSES.labels(endpoint, str(response.status_code)).inc()
    return response


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


def _call_env(line_number_field: str = "To") -> calls.CallEnv:
    """The line, flow and renderer of this call. On the legs the line rings for a caller
    (an operator, a resident) the line's number is the From: it is the caller ID shown.

    Built once per line and reused by every webhook after it (the configuration and the
    flows are fixed for the app's life): building it on every webhook cost a number's
    normalisation, the voices and the renderer each time.
    """
    settings = _settings()
    line = _dialled_line(settings, request.form.get(line_number_field))
    flow = get_flow(line.flow)
    envs = current_app.extensions.setdefault("hotline.call_envs", {})
    key = (line.slug, request.script_root)  # url_for's answers depend on the mount point
    env = envs.get(key)
    if env is None or env.settings is not settings or env.line is not line or env.flow is not flow:
        env = envs[key] = _new_call_env(settings, line, flow)
    return env


def _dialled_line(settings: Settings, dialled: str | None) -> LineSettings:
    """``settings.line_for_number``, remembered for the numbers that are a line's own.

    Only a line's public number (its configuration's) is remembered, never any other
    number a webhook carries, so the cache holds nothing the configuration does not.
    """
    known = current_app.extensions.setdefault("hotline.dialled_lines", {})
    line = known.get(dialled or "")
    if line is None or settings.lines.get(line.slug) is not line:
        line = settings.line_for_number(dialled)
        if dialled and line.phone_number == normalise_number(dialled, "BE"):
            if len(known) >= DIALLED_LINES_KEPT:
                known.clear()
            known[dialled] = line
    return line


# A line's number comes in a few spellings at most ("+3216...", "016 ..."): a handful each.
DIALLED_LINES_KEPT = 64
# Distinct menu answers remembered per line: a flow has some dozens of menus per language.
RENDERED_KEPT = 512


def _new_call_env(settings: Settings, line: LineSettings, flow: ivr.Flow) -> calls.CallEnv:
    provider = get_provider()
    voices = {
        language.code: Voice(language=language.code, voice=language.voice, rate=flow.speaking_rate)
        for language in flow.languages.values()
    }
    transcription_url = url_for("twilio.voice_transcription") if line.transcribe else None
    rendered: dict[tuple[int, str], str] = {}

    def build(actions, step: int, plan) -> str:
        return provider.render(
            actions,
            action_url=url_for("twilio.voice_step", step=step),
            voices=voices,
            dial=plan if isinstance(plan, DialPlan) else None,
            caller_id=line.phone_number,
            transcription_url=transcription_url,
            queue=plan if isinstance(plan, QueuePlan) else None,
        )

    def render(actions, step: int, plan) -> str:
        # A menu's TwiML is the same for every caller who reaches it at that step: built
        # once, not on every webhook. Numbers in it are tokens (calls.fill puts them in
        # after this), so what is kept holds none; a Dial's or a queue's plan is not kept.
        if plan is not None:
            return build(actions, step, plan)
        key = (step, repr(actions))
        answer = rendered.get(key)
        if answer is None:
            answer = build(actions, step, None)
            if len(rendered) >= RENDERED_KEPT:
                rendered.clear()
            rendered[key] = answer
        return answer

    urls = calls.CallUrls(
        screen=lambda call_sid, target: url_for("twilio.voice_screen", call=call_sid, to=target),
        queue_wait=url_for("twilio.queue_wait"),
    )
    return calls.CallEnv(settings=settings, line=line, flow=flow, render=render, urls=urls)


def _twiml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def relay_outbox() -> None:
    """Push this request's outbox work to rq once Twilio has the answer.

    The relay runs when the response is closed, after the server wrote it: the caller
    never waits for Redis (slow, away, or timing out). If Redis is away the worker's
    relay sends the rows later; the work is in the database already.
    """
    if not take_written(get_session()):
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    @after_this_request
    def relay_once_answered(response: Response) -> Response:
        response.call_on_close(lambda: _relay_in_new_session(app))
        return response


def _relay_in_new_session(app) -> None:
    # The request's session and app context are gone by the time the response closes.
    with app.app_context(), Session(get_engine()) as session:
        relay_safely(session, lambda: get_redis(app))


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
    CALLS_RECEIVED.labels(env.line.slug).inc()
    refusal = call_refusal(
        get_session(), env, call_sid=call_sid, caller_number=request.form.get("From")
    )
    if refusal is not None:  # blocked, or calling too often: a kind sentence, nothing stored
        return _twiml(refusal)
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
    recording_sid = request.form.get("RecordingSid") or _sid_in(request.form.get("RecordingUrl"))
    if recording_sid and not RECORDING_SID.fullmatch(recording_sid):
        abort(400, "RecordingSid malformed")
    env, call_sid = _call_env(), _call_sid()
    twiml = _replay_if_raced(env, call_sid, lambda: _continue(env, call_sid, step, recording_sid))
    relay_outbox()
    return _twiml(twiml)


def _sid_in(recording_url: str | None) -> str | None:
    """The recording's sid from its URL: Twilio's Record action documents RecordingUrl
    (a caller who hangs up mid-message posts it too), not always RecordingSid."""
    last = (recording_url or "").rstrip("/").rsplit("/", 1)[-1].removesuffix(".mp3")
    return last if RECORDING_SID.fullmatch(last) else None


def _continue(env: calls.CallEnv, call_sid: str, step: int, recording_sid: str | None) -> str:
    try:
        return calls.continue_call(
            get_session(),
            env,
            call_sid=call_sid,
            step=step,
            digits=request.form.get("Digits"),
            speech=plain_text(request.form.get("SpeechResult")),
            recording_sid=recording_sid,
            dial_bridged=dial_bridged() if request.form.get("DialCallStatus") else None,
            queue_result=request.form.get("QueueResult", "")[:32] or None,
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


@blueprint.post("/voice/answered")
def voice_answered() -> Response:
    """An operator's phone picked up a caller the IVR put through (``<Number url>``).

    Kept for calls that were ringing operators with <Dial> when the app was upgraded; a
    caller now waits in the line's queue (``operator_leg_answered`` below).

    The call becomes theirs (a live card on their page) and they hear, alone, what
    the IVR collected: "Leuven Helpt, oproep in het Frans, voor boodschappen".
    """
    parent_sid = request.form.get("ParentCallSid") or request.args.get("call", "")
    if not CALL_SID.fullmatch(parent_sid):
        abort(400, "ParentCallSid missing or malformed")
    env = _call_env("From")
    answered = live_calls.operator_answered(
        get_session(),
        env.settings,
        line=env.line,
        call_sid=parent_sid,
        operator_number=request.form.get("To", ""),
    )
    if answered is None:  # not a call of ours: connect without a word
        return _twiml(get_provider().proceed())
    text, voice = live_calls.whisper(answered, flow=env.flow, line_name=env.line.name)
    return _twiml(get_provider().say(text, voice))


# -- the operators' queue (hotline.voice.operator_queue) ---------------------------------


def _small_number(name: str) -> int | None:
    value = request.form.get(name, "")
    return int(value) if SMALL_NUMBER.fullmatch(value) else None


@blueprint.post(operator_queue.WAIT_PATH)
def queue_wait() -> Response:
    """The Enqueue's waitUrl, asked again and again while the caller waits: one sentence
    (a calm word, their place: Twilio's QueuePosition) while listening for *."""
    env, call_sid = _call_env(), _call_sid()
    turn = operator_queue.next_wait_turn(
        get_session(),
        flow=env.flow,
        call_sid=call_sid,
        position=_small_number("QueuePosition"),
        queue_time=_small_number("QueueTime") or 0,
    )
    provider = get_provider()
    if turn.actions is None:  # waited long enough (or not known as waiting): the message
        return _twiml(provider.leave_queue())
    voices = {
        language.code: Voice(language.code, language.voice, rate=env.flow.speaking_rate)
        for language in env.flow.languages.values()
    }
    return _twiml(
        provider.render(turn.actions, action_url=url_for("twilio.queue_key"), voices=voices)
    )


@blueprint.post(operator_queue.WAIT_KEY_PATH)
def queue_key() -> Response:
    """A key pressed while waiting: * leaves the queue for the message; others wait on."""
    _call_sid()
    provider = get_provider()
    if request.form.get("Digits", "").strip() == "*":
        return _twiml(provider.leave_queue())
    return _twiml(provider.keep_waiting(url_for("twilio.queue_wait")))


def _ring_id() -> int:
    ring = request.args.get("ring", "")
    if not SMALL_NUMBER.fullmatch(ring):
        abort(400, "ring missing or malformed")
    return int(ring)


@blueprint.post(operator_queue.LEG_ANSWERED_PATH)
def operator_leg_answered() -> Response:
    """An operator picked up the phone the line rang for a waiting caller: they hear, alone,
    the whisper of the first caller waiting, then <Dial><Queue> puts them through."""
    env, leg_sid, ring_id = _call_env("From"), _call_sid(), _ring_id()
    answer = operator_queue.leg_answered(
        get_session(),
        env.settings,
        line=env.line,
        ring_id=ring_id,
        leg_sid=leg_sid,
        operator_number=request.form.get("To", ""),
    )
    provider = get_provider()
    if answer.call is None:  # nobody waits any more: say so, and hang up
        wanted = answer.operator.locale if answer.operator else None
        language, voice = speaking_voice(env.flow, wanted)
        said = (CALLER_TAKEN if answer.taken else CALLER_LEFT)[language]
        return _twiml(provider.say(said, voice, hang_up=True))
    answered = live_calls.AnsweredCall(call=answer.call, operator=answer.operator)
    text, voice = live_calls.whisper(answered, flow=env.flow, line_name=env.line.name)
    return _twiml(
        provider.pick_up_from_queue(
            whisper=text,
            voice=voice,
            queue_name=operator_queue.queue_name(env.line.slug),
            bridged_url=url_for("twilio.queue_bridged", ring=ring_id),
            ended_url=url_for("twilio.operator_leg_ended", ring=ring_id),
        )
    )


@blueprint.post(operator_queue.BRIDGED_PATH)
def queue_bridged() -> Response:
    """<Queue url>, on the caller's call: they are put through to this operator's leg
    (Twilio's DequeingCallSid). The call card is the operator's; other phones stop."""
    env, call_sid, ring_id = _call_env(), _call_sid(), _ring_id()
    operator_queue.caller_bridged(
        get_session(), env.settings, line=env.line, caller_sid=call_sid, ring_id=ring_id
    )
    relay_outbox()
    return _twiml(get_provider().proceed())


@blueprint.post(operator_queue.LEG_ENDED_PATH)
def operator_leg_ended() -> Response:
    """The operator's <Dial><Queue> is over: after a conversation, goodbye; if nobody was
    put through (the caller left just before), they hear so."""
    env, _, ring_id = _call_env("From"), _call_sid(), _ring_id()
    provider = get_provider()
    session = get_session()
    if operator_queue.leg_was_bridged(session, ring_id=ring_id):
        return _twiml(provider.render([ivr.Hangup()], action_url=request.path, voices={}))
    ring = session.get(OperatorRing, ring_id)
    operator = session.get(Operator, ring.operator_id) if ring and ring.operator_id else None
    language, voice = speaking_voice(env.flow, operator.locale if operator else None)
    return _twiml(provider.say(CALLER_LEFT[language], voice, hang_up=True))


@blueprint.post(operator_queue.LEG_STATUS_PATH)
def operator_leg_status() -> Response:
    """The status callback of an operator's leg: how it ended (no numbers kept)."""
    _call_sid()
    operator_queue.leg_over(
        get_session(), ring_id=_ring_id(), status=request.form.get("CallStatus", "")[:32]
    )
    return Response(status=204)


@blueprint.post("/voice/screen")
def voice_screen() -> Response:
    """The resident (or volunteer) rung for a masked call picked up: who calls, press 1."""
    call_sid, target = _masked_call_args()
    env, session = _call_env("From"), get_session()
    found = calls.party_for_call(session, env, call_sid, target)
    if found is None:  # the request moved on since the dial began: put nobody through
        return _screen_declined(env, None)
    language, voice = speaking_voice(env.flow, found.language)
    prompt = screen_prompt(
        target=target,
        language=language,
        line_name=env.line.name,
        category=found.help_request.category,
        reference=found.help_request.reference,
    )
    return _twiml(
        get_provider().ask_for_key(
            prompt=prompt,
            voice=voice,
            action_url=url_for("twilio.voice_screen_answer", call=call_sid, to=target),
            otherwise=SCREEN_DECLINED[language],
        )
    )


@blueprint.post("/voice/screen/answer")
def voice_screen_answer() -> Response:
    """1: the two are put through; anything else: this leg hangs up, the caller hears so."""
    call_sid, target = _masked_call_args()
    env, session = _call_env("From"), get_session()
    found = calls.party_for_call(session, env, call_sid, target)
    if found is None or request.form.get("Digits") != "1":
        return _screen_declined(env, found.language if found else None)
    calls.accept_masked_call(session, call_sid=call_sid)
    return _twiml(get_provider().proceed())


def _masked_call_args() -> tuple[str, str]:
    call_sid, target = request.args.get("call", ""), request.args.get("to", "")
    if not CALL_SID.fullmatch(call_sid) or target not in connections.TARGETS:
        abort(400, "call or to missing or malformed")
    return call_sid, target


def _screen_declined(env: calls.CallEnv, language: str | None) -> Response:
    """The person rung is not put through: say so (in their language, or the line's)."""
    language, voice = speaking_voice(env.flow, language)
    return _twiml(get_provider().say(SCREEN_DECLINED[language], voice, hang_up=True))


def call_back_urls(help_request_id: int, operator_id: int) -> dict[str, str]:
    """The absolute webhook URLs of one call-back (its first TwiML is sent inline)."""
    base = _settings().public_base_url
    return {
        step: base + url_for(f"twilio.call_back_{step}", request_id=help_request_id,
                             operator_id=operator_id)
        for step in ("confirm", "whisper", "ended")
    }  # fmt: skip


def _call_back_leg(request_id: int, operator_id: int) -> callbacks.CallBackLeg:
    leg = callbacks.call_back_leg(
        get_session(),
        settings=_settings(),
        flows=current_app.extensions["hotline.flows"],
        help_request_id=request_id,
        operator_id=operator_id,
    )
    if leg is None:
        abort(404)
    return leg


@blueprint.post("/voice/call-back/<int:request_id>/<int:operator_id>/confirm")
def call_back_confirm(request_id: int, operator_id: int) -> Response:
    """The operator answered their phone for a call-back: 1 rings the resident."""
    leg = _call_back_leg(request_id, operator_id)
    return _twiml(
        callbacks.confirmed(
            get_session(),
            settings=_settings(),
            provider=get_provider(),
            leg=leg,
            digits=request.form.get("Digits", ""),
            urls=call_back_urls(request_id, operator_id),
        )
    )


@blueprint.post("/voice/call-back/<int:request_id>/<int:operator_id>/whisper")
def call_back_whisper(request_id: int, operator_id: int) -> Response:
    """The resident picked up a call-back: they hear who is calling before the operator."""
    leg = _call_back_leg(request_id, operator_id)
    return _twiml(callbacks.resident_whisper(get_provider(), leg))


@blueprint.post("/voice/call-back/<int:request_id>/<int:operator_id>/ended")
def call_back_ended(request_id: int, operator_id: int) -> Response:
    """The resident's leg of a call-back is over (talked, or never answered)."""
    leg = _call_back_leg(request_id, operator_id)
    return _twiml(
        callbacks.ended(get_session(), provider=get_provider(), leg=leg, bridged=dial_bridged())
    )


def dial_bridged() -> bool:
    """Whether a Dial put the two parties through to each other.

    Twilio's DialBridged says so; DialCallStatus alone cannot, since a call that the
    rung party declined during screening, or that the caller left with *, may still
    end "completed". Without DialBridged (older accounts) "completed" is taken as put through.
    """
    bridged = request.form.get("DialBridged")
    if bridged is not None:
        return bridged.lower() == "true"
    return request.form.get("DialCallStatus") == "completed"


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
            text=plain_text(request.form.get("TranscriptionText", "")),
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
    line = settings.line_for_sms(request.form.get("To"), request.form.get("MessagingServiceSid"))
    if sms_refused(session, settings, line=line, sender=sender):
        return _twiml(provider.sms_reply([]))  # blocked or too many: no answer, nothing kept
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
    SMS_STATUS_REPORTS.labels(status).inc()
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


def database_unavailable(error: Exception) -> Response:
    """The database cannot be reached: one log line and one count, never a 500 page.

    A caller (or an operator, resident or volunteer on a leg the line rang) hears that
    we are sorry and may try again in a few minutes, in their language if this request
    had read their call, else in every language of the line; then the line hangs up.

    An SMS and Twilio's reports get 503. Twilio then logs an HTTP error (11200) in its
    console, where alerts can watch it, and requests the number's fallback URL if one is set;
    an empty 200 would hide that a volunteer's answer was lost. Twilio retries only when
    the webhook URL asks for it (connection overrides, ``#rp=5xx``): safe, since every
    handler is idempotent on its MessageSid.
    """
    INCIDENTS.labels("database_unavailable").inc()
    log.error("incident database_unavailable: %s in %s", type(error).__name__, request.endpoint)
    if request.endpoint == "twilio.sms":
        return Response(get_provider().sms_reply([]), status=503, mimetype="text/xml")
    if request.endpoint in REPORTS:
        return Response(status=503)
    line = _settings().line_for_number(request.form.get("To"))
    flow = get_flow(line.flow)
    spoken = every_voice(flow, _language_already_read())
    actions: list[object] = []
    for language, voice in spoken:
        if actions:
            actions.append(ivr.Pause(seconds=1))
        actions.append(ivr.Say(text=DATABASE_UNAVAILABLE[language], language=voice.language))
        if line.general_number:
            number = spoken_phone_number(line.general_number, line.country)
            sentence = GENERAL_NUMBER[language].format(number=number)
            actions.append(ivr.Say(text=sentence, language=voice.language))
    twiml = get_provider().render(
        [*actions, ivr.Hangup()],
        action_url=request.path,  # nothing waits for an answer
        voices={voice.language: voice for _, voice in spoken},
    )
    return _twiml(twiml)


for _error in DATABASE_UNAVAILABLE_ERRORS:
    blueprint.register_error_handler(_error, database_unavailable)


def _language_already_read() -> str | None:
    """The caller's language, when this request read their call before the database failed
    (at the commit, say). Only what was loaded is looked at: asking for more would query."""
    call_sid = request.form.get("CallSid")
    for held in list(get_session().identity_map.values()):
        if isinstance(held, CallSession):
            loaded = sa.inspect(held).dict
            if loaded.get("call_sid") == call_sid:
                return (loaded.get("state") or {}).get("language")
    return None
