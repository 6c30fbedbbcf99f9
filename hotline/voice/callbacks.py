"""Calling a resident back: the system rings the operator's own phone, then the resident's.

Both calls show the line's public number, so neither side sees the other's number,
and the operator's browser never receives the resident's number: the system takes
both numbers out of the vault only to hand them to the telephony provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from hotline.audit import record
from hotline.config import Settings
from hotline.ivr import Flow
from hotline.models import AuditEvent, Contact, HelpRequest, Line, Operator, utcnow
from hotline.privacy import reveal_number
from hotline.queue import get_redis
from hotline.telephony import Provider, Voice
from hotline.telephony.pacing import take_call_slot
from hotline.voice import texts

log = logging.getLogger(__name__)

CALL_BACK = "call_back"  # audit action; the detail holds the provider's call_sid
CALL_BACK_RESULT = "call_back_result"  # audit action; detail: outcome (see OUTCOMES)
# How a call-back ended, as the request's history and the call-backs list say it.
OUTCOMES = ("connected", "not_answered", "not_confirmed")
OPERATOR_RING_SECONDS = 30
# Elderly residents take a while to reach the phone: let it ring about nine times.
RESIDENT_RING_SECONDS = 45
# Seconds an operator's click waits for a free outgoing call slot (one a second).
CALL_SLOT_PATIENCE = 3
# A second press within this time would ring the operator's phone while it already rings.
REPEAT_GUARD = timedelta(seconds=OPERATOR_RING_SECONDS + 15)


class CallBackError(Exception):
    """A call-back that cannot be started; the subclass says why."""


class OperatorHasNoPhone(CallBackError):
    """The operator has not put their own phone number on their profile page."""


class ResidentHasNoNumber(CallBackError):
    """The request has no number in the vault (never given, or purged after retention)."""


class CallBackAlreadyRinging(CallBackError):
    """The operator's phone is already being rung for this request."""


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


def _claim_phone(session: Session, *, help_request_id: int, operator_id: int) -> bool:
    """Commit that the operator's phone is rung for this request now; False if it already is.

    One conditional UPDATE: of two clicks that arrive together (two web processes),
    exactly one rings the phone. A claim lapses after REPEAT_GUARD.
    """
    if is_ringing(session, help_request_id=help_request_id, operator_id=operator_id):
        return False
    now = utcnow()
    claimed = session.execute(
        sa.update(Operator)
        .where(
            Operator.id == operator_id,
            sa.or_(
                Operator.call_back_request_id.is_(None),  # type: ignore[union-attr]
                Operator.call_back_request_id != help_request_id,
                Operator.call_back_at < now - REPEAT_GUARD,  # type: ignore[operator]
            ),
        )
        .values(call_back_request_id=help_request_id, call_back_at=now)
    ).rowcount
    session.commit()
    return bool(claimed)


def _release_phone(session: Session, *, operator_id: int) -> None:
    session.rollback()
    session.execute(
        sa.update(Operator)
        .where(Operator.id == operator_id)
        .values(call_back_request_id=None, call_back_at=None)
    )
    session.commit()


def call_back(
    session: Session,
    *,
    settings: Settings,
    provider: Provider,
    flows: Mapping[str, Flow],
    help_request: HelpRequest,
    operator: Operator,
    urls: CallBackUrls,
) -> str:
    """Ring the operator's phone; once they answer and press 1, ring the request's caller.

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
    if not _claim_phone(session, help_request_id=help_request.id, operator_id=operator.id):
        raise CallBackAlreadyRinging("your phone is already being called for this request")

    leg = _leg(session, settings, flows, help_request, operator)
    # Nothing is dialled until the operator presses 1: a voicemail that picks up their
    # phone can never be put through to the resident.
    twiml = provider.ask_for_key(
        prompt=texts.CALL_BACK_GUARD[leg.language].format(
            line=leg.line.name, digits=texts.spoken_digits(help_request.reference)
        ),
        voice=leg.voice,
        action_url=urls(help_request.id, operator.id)["confirm"],
        otherwise=texts.CALL_BACK_NOT_CONFIRMED[leg.language],
    )
    try:
        # Twilio starts one call a second per account, shared with the operators' phones
        # rung for waiting callers; an operator waits a moment at most, never errors.
        take_call_slot(
            get_redis(),
            account=settings.secrets.twilio_account_sid or "-",
            patience=CALL_SLOT_PATIENCE,
            fail_open=True,
        )
        call_sid = provider.create_call(
            to=reveal_number(
                session,
                operator_contact,
                settings.secrets,
                reason="operator_phone",
                line_id=help_request.line_id,
                help_request_id=help_request.id,
                operator_id=operator.id,
            ),
            from_=leg.caller_id,
            twiml=twiml,
            timeout=OPERATOR_RING_SECONDS,
        )
    except Exception:
        _release_phone(session, operator_id=operator.id)  # nothing rings: try again at once
        raise
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


# Where the call-back's own webhooks are (absolute URLs: the first TwiML is sent inline with
# the Calls API, so there is no document URL to resolve relative ones against).
CallBackUrls = Callable[[int, int], Mapping[str, str]]


@dataclass(frozen=True)
class CallBackLeg:
    """What a call-back needs: the request, the operator, the line, its flow and voice."""

    help_request: HelpRequest
    operator: Operator
    line: Line
    flow: Flow
    caller_id: str  # the line's public number
    language: str  # the operator's, as the flow speaks it
    voice: Voice


def _leg(
    session: Session,
    settings: Settings,
    flows: Mapping[str, Flow],
    help_request: HelpRequest,
    operator: Operator,
) -> CallBackLeg:
    line = session.get(Line, help_request.line_id)
    line_settings = settings.lines.get(line.slug)
    flow = flows[line_settings.flow] if line_settings else next(iter(flows.values()))
    caller_id = line_settings.phone_number if line_settings else line.phone_number
    language, voice = texts.speaking_voice(flow, operator.locale)
    return CallBackLeg(help_request, operator, line, flow, caller_id, language, voice)


def call_back_leg(
    session: Session,
    *,
    settings: Settings,
    flows: Mapping[str, Flow],
    help_request_id: int,
    operator_id: int,
) -> CallBackLeg | None:
    """The call-back a webhook is about, or None when the request or operator is gone."""
    help_request = session.get(HelpRequest, help_request_id)
    operator = session.get(Operator, operator_id)
    if help_request is None or operator is None:
        return None
    return _leg(session, settings, flows, help_request, operator)


def confirmed(
    session: Session,
    *,
    settings: Settings,
    provider: Provider,
    leg: CallBackLeg,
    digits: str,
    urls: Mapping[str, str],
) -> str:
    """The operator answered the guard: on 1, dial the resident; otherwise, say goodbye."""
    contact = (
        session.get(Contact, leg.help_request.contact_id) if leg.help_request.contact_id else None
    )
    if digits != "1" or contact is None:
        _result(session, leg, "not_confirmed")
        return provider.say(texts.CALL_BACK_NOT_CONFIRMED[leg.language], leg.voice, hang_up=True)
    number = reveal_number(
        session,
        contact,
        settings.secrets,
        reason="call_back",
        line_id=leg.help_request.line_id,
        help_request_id=leg.help_request.id,
        operator_id=leg.operator.id,
    )
    session.commit()  # the decryption's audit event
    return provider.connect(
        intro=texts.CALL_BACK_DIALLING[leg.language],
        voice=leg.voice,
        caller_id=leg.caller_id,
        number=number,
        screen_url=urls["whisper"],
        action_url=urls["ended"],
        timeout=RESIDENT_RING_SECONDS,
    )


def resident_whisper(provider: Provider, leg: CallBackLeg) -> str:
    """What the resident hears on picking up, before the operator speaks: who is calling."""
    language, voice = texts.speaking_voice(leg.flow, leg.help_request.language)
    return provider.say(texts.CALL_BACK_WHISPER[language].format(line=leg.line.name), voice)


def ended(session: Session, *, provider: Provider, leg: CallBackLeg, bridged: bool) -> str:
    """The resident's leg is over: note how it went; tell the operator if nobody answered."""
    _result(session, leg, "connected" if bridged else "not_answered")
    return provider.say(texts.CALL_BACK_ENDED[leg.language], leg.voice, hang_up=True)


def _result(session: Session, leg: CallBackLeg, outcome: str) -> None:
    record(
        session,
        CALL_BACK_RESULT,
        operator_id=leg.operator.id,
        help_request_id=leg.help_request.id,
        outcome=outcome,
    )
    session.commit()
    log.info("call-back of request %s: %s", leg.help_request.id, outcome)


@dataclass(frozen=True)
class CallBackAttempts:
    """How often a request was called back, when last, and how that went."""

    count: int
    last_at: datetime
    last_outcome: str | None  # one of OUTCOMES; None while it is (or was never) reported


def attempts(session: Session, help_request_ids: list[int]) -> dict[int, CallBackAttempts]:
    """Call-back attempts per request, for the call-backs list."""
    if not help_request_ids:
        return {}
    counted = session.exec(
        select(AuditEvent.help_request_id, sa.func.count(), sa.func.max(AuditEvent.created_at))
        .where(AuditEvent.action == CALL_BACK, AuditEvent.help_request_id.in_(help_request_ids))
        .group_by(AuditEvent.help_request_id)
    ).all()
    outcomes: dict[int, str] = {}
    for request_id, detail in session.exec(
        select(AuditEvent.help_request_id, AuditEvent.detail)
        .where(
            AuditEvent.action == CALL_BACK_RESULT,
            AuditEvent.help_request_id.in_(help_request_ids),
        )
        .order_by(AuditEvent.id)
    ):
        outcomes[request_id] = detail.get("outcome")
    return {
        request_id: CallBackAttempts(count, _aware(last_at), outcomes.get(request_id))
        for request_id, count, last_at in counted
    }


def _aware(moment: datetime) -> datetime:
    # SQLite hands aggregates back as naive UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
