"""Calls that an operator answered: a live card while it lasts, a request without a number.

When an operator's phone picks up a caller the IVR put through, Twilio runs the
``<Number url>`` of that phone: the app finds the operator by the keyed hash of the
phone (their number is in the vault like every number), marks the call as theirs and
whispers what the IVR collected. Their page then shows the call; saving its short
form creates the request with the caller's vault entry already linked, so the
operator never types or sees the number. A call that ends unsaved stays on their
page as "call taken, not logged" until they complete or dismiss it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, or_, select

from hotline.audit import record
from hotline.config import LineSettings, Settings, normalise_number
from hotline.intake import create_help_request
from hotline.ivr import Flow
from hotline.models import CallSession, Contact, HelpRequest, Line, Operator, utcnow
from hotline.privacy import caller_hash, redact_personal_details
from hotline.telephony import Voice
from hotline.voice.texts import operator_whisper, speaking_voice

LOGGED = "call_taken"  # audit action: a request logged from a call an operator answered
DISMISSED = "call_taken_dismissed"
# How far back "call taken, not logged" entries are kept on an operator's page.
NOT_LOGGED_FOR = timedelta(days=7)


class LiveCallError(Exception):
    """A live-call action that cannot be done; the subclass says why."""


class NotYourCall(LiveCallError):
    """The call was answered by someone else, is on another line, or does not exist."""


class StillOnTheLine(LiveCallError):
    """A live call cannot be dismissed: it would be neither logged nor called back."""


class AlreadyLogged(LiveCallError):
    """The call already has a request (saved by the operator, or left by the caller)."""


@dataclass(frozen=True)
class AnsweredCall:
    """What the whisper needs: the call, and the operator who took it (when known)."""

    call: CallSession
    operator: Operator | None


@dataclass
class LiveCall:
    """One call an operator took, as their page shows it."""

    id: int
    line_slug: str
    answered_at: datetime
    ended_at: datetime | None
    language: str | None
    category: str | None
    postcode: str | None
    urgency: str | None
    has_number: bool  # whether the caller's number is in the vault (a call-back is possible)
    earlier: list[HelpRequest] = field(default_factory=list)  # the caller's earlier requests
    help_request: HelpRequest | None = None

    @property
    def live(self) -> bool:
        """Still on the line."""
        return self.ended_at is None


def operator_for_phone(
    session: Session, settings: Settings, number: str, country: str
) -> Operator | None:
    """The active operator account whose own phone is ``number`` (matched by keyed hash)."""
    e164 = normalise_number(number or "", country)
    if e164 is None:
        return None
    hashed = caller_hash(e164, settings.secrets.hash_pepper)
    return session.exec(
        select(Operator)
        .join(Contact, Contact.id == Operator.contact_id)
        .where(Contact.caller_hash == hashed, Operator.active)
    ).first()


def operator_answered(
    session: Session, settings: Settings, *, line: LineSettings, call_sid: str, operator_number: str
) -> AnsweredCall | None:
    """An operator's phone picked up the IVR call ``call_sid``: the call is theirs. Idempotent.

    Returns None for a call this app does not know. The operator is None when the phone
    that answered belongs to no account of this line (a line's shared desk phone, or an
    account limited to other lines): every operator of the line then sees the call.
    """
    call = session.exec(select(CallSession).where(CallSession.call_sid == call_sid)).first()
    if call is None:
        return None
    operator = operator_for_phone(session, settings, operator_number, line.country)
    if operator is not None and not works_on(operator, line.slug):
        operator = None
    if call.answered_at is None:
        call.answered_at = utcnow()
        call.answered_by_id = operator.id if operator else None
        session.add(call)
        session.commit()
    elif call.answered_by_id is not None:
        operator = session.get(Operator, call.answered_by_id)
    return AnsweredCall(call=call, operator=operator)


def whisper(answered: AnsweredCall, *, flow: Flow, line_name: str) -> tuple[str, Voice]:
    """What the operator alone hears before being put through, in their own language:
    "Leuven Helpt, oproep in het Frans, voor boodschappen of apotheek"."""
    state = answered.call.state
    collected = state.get("collected", {})
    wanted = answered.operator.locale if answered.operator else flow.default_language
    language, voice = speaking_voice(flow, wanted)
    text = operator_whisper(
        operator_language=language,
        line_name=line_name,
        caller_language=state.get("language"),
        category=collected.get("category"),
        urgency=collected.get("urgency"),
    )
    return text, voice


def works_on(operator: Operator, line_slug: str) -> bool:
    """Whether an account works on a line (an empty list of lines: every line)."""
    return not operator.lines or line_slug in operator.lines


def calls_taken(
    session: Session, *, operator: Operator, now: datetime | None = None
) -> list[LiveCall]:
    """The calls this operator is on, then those they took and did not log yet (newest first).

    Calls that a shared phone answered are shown to every operator of the line.
    """
    now = now or utcnow()
    query = (
        select(CallSession, Line.slug)
        .join(Line, Line.id == CallSession.line_id)
        .where(
            CallSession.answered_at.is_not(None),
            CallSession.dismissed_at.is_(None),
            or_(CallSession.ended_at.is_(None), CallSession.help_request_id.is_(None)),
            CallSession.answered_at >= now - NOT_LOGGED_FOR,
        )
    )
    query = query.where(
        or_(CallSession.answered_by_id == operator.id, CallSession.answered_by_id.is_(None))
    )
    if operator.lines:
        query = query.where(Line.slug.in_(operator.lines))
    rows = session.exec(query.order_by(CallSession.answered_at.desc()).limit(20)).all()
    return [_live_call(session, call, slug) for call, slug in rows]


def _live_call(session: Session, call: CallSession, line_slug: str) -> LiveCall:
    collected = call.state.get("collected", {})
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    earlier: list[HelpRequest] = []
    if contact is not None:
        earlier = list(
            session.exec(
                select(HelpRequest)
                .where(
                    HelpRequest.caller_hash == contact.caller_hash,
                    HelpRequest.line_id == call.line_id,
                    or_(HelpRequest.call_sid.is_(None), HelpRequest.call_sid != call.call_sid),
                )
                .order_by(HelpRequest.created_at.desc())
                .limit(3)
            )
        )
    return LiveCall(
        id=call.id,
        line_slug=line_slug,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        language=call.state.get("language"),
        category=collected.get("category"),
        postcode=collected.get("postcode"),
        urgency=collected.get("urgency"),
        has_number=contact is not None,
        earlier=earlier,
        help_request=session.get(HelpRequest, call.help_request_id)
        if call.help_request_id
        else None,
    )


def taken_call(session: Session, *, call_id: int, operator: Operator) -> CallSession:
    """A call this operator may log or dismiss (theirs, or a shared phone's on their line)."""
    call = session.get(CallSession, call_id)
    if call is None or call.answered_at is None:
        raise NotYourCall(f"no call {call_id} was answered")
    if call.answered_by_id is not None and call.answered_by_id != operator.id:
        raise NotYourCall(f"call {call_id} was answered by someone else")
    if not works_on(operator, session.get(Line, call.line_id).slug):
        raise NotYourCall(f"call {call_id} is on another line")
    return call


def log_call(
    session: Session,
    *,
    call_id: int,
    operator: Operator,
    language: str | None,
    category: str | None,
    postcode: str | None,
    urgency: str | None,
    notes: str = "",
) -> HelpRequest:
    """Save the request of a call the operator took, with the caller's vault entry linked."""
    call = taken_call(session, call_id=call_id, operator=operator)
    if call.help_request_id is not None:
        raise AlreadyLogged(f"call {call_id} already has a request")
    help_request = create_help_request(
        session,
        line=session.get(Line, call.line_id),
        contact=session.get(Contact, call.contact_id) if call.contact_id else None,
        call_sid=call.call_sid,
        source="live",
        language=language or None,
        category=category or None,
        postcode=postcode or None,
        urgency=urgency or None,
        recording_sid=call.state.get("recording_sid"),
    )
    if notes:
        # An operator may jot down what the caller said, numbers included: not here.
        help_request.notes = redact_personal_details(notes)
    call.help_request_id = help_request.id
    session.add_all([help_request, call])
    record(session, LOGGED, operator_id=operator.id, help_request_id=help_request.id)
    session.commit()
    return help_request


def dismiss_call(session: Session, *, call_id: int, operator: Operator) -> CallSession:
    """Drop a call taken but not logged from the operator's page (a wrong number, a joke)."""
    call = taken_call(session, call_id=call_id, operator=operator)
    if call.help_request_id is not None:
        raise AlreadyLogged(f"call {call_id} already has a request")
    if call.ended_at is None:
        raise StillOnTheLine(f"call {call_id} is still going on")
    call.dismissed_at = utcnow()
    session.add(call)
    record(session, DISMISSED, operator_id=operator.id, call=call.id)
    session.commit()
    return call
