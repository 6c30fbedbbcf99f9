"""The gate at the start of the voice and SMS webhooks: blocked callers, then rate limits.

A refused call hears a kind sentence in every language of the line and the line hangs up;
no request, call record or vault entry is made, only the limit's counter moves. A refused
SMS gets an empty answer (a reply could feed a loop with an automated sender) and nothing
of it is kept. A withheld number can be neither blocked nor counted: it is let through.
"""

from __future__ import annotations

from flask import request
from sqlmodel import Session, select

from hotline import ivr
from hotline.abuse.blocking import is_blocked
from hotline.abuse.limits import call_over_limit, sms_over_limit
from hotline.config import LineSettings, Settings, normalise_number
from hotline.models import CallSession
from hotline.privacy import caller_hash
from hotline.telephony import get_provider
from hotline.voice.calls import CallEnv, caller_e164
from hotline.voice.texts import (
    BLOCKED_CALLER,
    GENERAL_NUMBER,
    RATE_LIMITED,
    every_voice,
    spoken_phone_number,
)


def call_refusal(
    session: Session, env: CallEnv, *, call_sid: str, caller_number: str | None
) -> str | None:
    """TwiML for a call that is not taken (a blocked caller, or one calling too often);
    None for a call the line answers.

    A second delivery of a call's first webhook (Twilio retrying, or two copies racing) is
    the same call: it is neither counted again nor refused halfway.
    """
    number = caller_e164(caller_number, env.line.country)
    if number is None:
        return None
    if session.exec(select(CallSession.id).where(CallSession.call_sid == call_sid)).first():
        return None
    hashed = caller_hash(number, env.settings.secrets.hash_pepper)
    if is_blocked(session, line_slug=env.line.slug, hashed_caller=hashed):
        return _goodbye(env, BLOCKED_CALLER, general_number=False)
    if call_over_limit(hashed):
        return _goodbye(env, RATE_LIMITED, general_number=True)
    return None


def sms_refused(session: Session, settings: Settings, *, line: LineSettings, sender: str) -> bool:
    """Whether this SMS is ignored: its sender is blocked on ``line`` or sends too many."""
    number = normalise_number(sender, line.country)
    if number is None:
        return False
    hashed = caller_hash(number, settings.secrets.hash_pepper)
    return is_blocked(session, line_slug=line.slug, hashed_caller=hashed) or sms_over_limit(hashed)


def _goodbye(env: CallEnv, sentences: dict[str, str], *, general_number: bool) -> str:
    """``sentences`` in every language of the line (the caller's is not known yet), then
    the city's general number when asked and the line has one, then the line hangs up."""
    spoken = every_voice(env.flow, None)
    actions: list[object] = []
    for language, voice in spoken:
        if actions:
            actions.append(ivr.Pause(seconds=1))
        actions.append(ivr.Say(text=sentences[language], language=voice.language))
        if general_number and env.line.general_number:
            number = spoken_phone_number(env.line.general_number, env.line.country)
            text = GENERAL_NUMBER[language].format(number=number)
            actions.append(ivr.Say(text=text, language=voice.language))
    return get_provider().render(
        [*actions, ivr.Hangup()],
        action_url=request.path,  # nothing waits for an answer
        voices={voice.language: voice for _, voice in spoken},
    )
