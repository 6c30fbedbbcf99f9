"""Calling a resident back: the system rings the operator's own phone, then the resident's.

Both calls show the line's public number, so neither side sees the other's number,
and the operator's browser never receives the resident's number: the system takes
both numbers out of the vault only to hand them to the telephony provider.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from sqlmodel import Session, select

from hotline.audit import record
from hotline.config import Settings
from hotline.ivr import Flow
from hotline.models import AuditEvent, Contact, HelpRequest, Line, Operator, utcnow
from hotline.privacy import reveal_number
from hotline.telephony import Provider, Voice

log = logging.getLogger(__name__)

CALL_BACK = "call_back"  # audit action; the detail holds the provider's call_sid
OPERATOR_RING_SECONDS = 30
# A second press within this time would ring the operator's phone while it already rings.
REPEAT_GUARD = timedelta(seconds=OPERATOR_RING_SECONDS + 15)
# What the operator hears on picking up, in their own language; the reference is read
# digit by digit so that it can be checked against the screen.
ANNOUNCEMENT = {
    "nl": "{line}. U belt de bewoner van hulpvraag {digits} terug. Een ogenblik, we verbinden u.",
    "fr": "{line}. Vous rappelez l'habitant de la demande {digits}. Un instant, nous vous "
    "mettons en relation.",
    "en": "{line}. You are calling back the resident of request {digits}. One moment, "
    "connecting you.",
}
ENDED = {
    "nl": "De bewoner is niet meer aan de lijn, of nam niet op. Tot ziens.",
    "fr": "L'habitant n'est plus en ligne, ou n'a pas répondu. Au revoir.",
    "en": "The resident is no longer on the line, or did not answer. Goodbye.",
}


class CallBackError(Exception):
    """A call-back that cannot be started; the subclass says why."""


class OperatorHasNoPhone(CallBackError):
    """The operator has not put their own phone number on their profile page."""


class ResidentHasNoNumber(CallBackError):
    """The request has no number in the vault (never given, or purged after retention)."""


class CallBackAlreadyRinging(CallBackError):
    """The operator's phone is already being rung for this request."""


def operator_voice(flow: Flow, language: str) -> tuple[str, Voice]:
    """The language to speak to an operator in (theirs if the flow speaks it) and its voice."""
    for candidate in (language, flow.default_language, *flow.languages):
        if candidate in ANNOUNCEMENT and candidate in flow.languages:
            spoken = flow.languages[candidate]
            return candidate, Voice(spoken.code, spoken.voice, rate=flow.speaking_rate)
    return "en", Voice(language="en-GB", voice="")


def is_ringing(session: Session, *, help_request_id: int, operator_id: int) -> bool:
    """Whether this operator started a call-back for this request moments ago."""
    since = utcnow() - REPEAT_GUARD
    return (
        session.exec(
            select(AuditEvent.id).where(
                AuditEvent.action == CALL_BACK,
                AuditEvent.help_request_id == help_request_id,
                AuditEvent.operator_id == operator_id,
                AuditEvent.created_at >= since,
            )
        ).first()
        is not None
    )


def call_back(
    session: Session,
    *,
    settings: Settings,
    provider: Provider,
    flows: Mapping[str, Flow],
    help_request: HelpRequest,
    operator: Operator,
) -> str:
    """Ring the operator's phone; once they answer, connect them to the request's caller.

    Returns the provider's call sid and commits a "call_back" audit event (the call is
    under way whatever happens next). Raises a CallBackError subclass when the call
    cannot be made, and TelephonyError when the provider refuses it.
    """
    operator_contact = session.get(Contact, operator.contact_id) if operator.contact_id else None
    if operator_contact is None:
        raise OperatorHasNoPhone("add your own phone number on your profile page first")
    resident_contact = (
        session.get(Contact, help_request.contact_id) if help_request.contact_id else None
    )
    if resident_contact is None:
        raise ResidentHasNoNumber(f"request {help_request.reference} has no number on file")
    if is_ringing(session, help_request_id=help_request.id, operator_id=operator.id):
        raise CallBackAlreadyRinging("your phone is already being called for this request")

    line = session.get(Line, help_request.line_id)
    line_settings = settings.lines.get(line.slug)
    caller_id = line_settings.phone_number if line_settings else line.phone_number
    flow = flows[line_settings.flow] if line_settings else next(iter(flows.values()))
    language, voice = operator_voice(flow, operator.locale)
    twiml = provider.bridge(
        announcement=ANNOUNCEMENT[language].format(
            line=line.name, digits=", ".join(help_request.reference)
        ),
        voice=voice,
        caller_id=caller_id,
        number=reveal_number(resident_contact, settings.secrets),
        ended=ENDED[language],
    )
    call_sid = provider.create_call(
        to=reveal_number(operator_contact, settings.secrets),
        from_=caller_id,
        twiml=twiml,
        timeout=OPERATOR_RING_SECONDS,
    )
    record(
        session,
        CALL_BACK,
        operator_id=operator.id,
        help_request_id=help_request.id,
        call_sid=call_sid,
    )
    session.commit()
    log.info("operator %s calls back request %s (%s)", operator.id, help_request.id, call_sid)
    return call_sid
