"""Call use cases: move one phone call through its IVR flow, one webhook at a time.

The call's place in the flow is kept in the database (``CallSession``), so any
web worker can serve any step, and a retried webhook gets the very same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from hotline import ivr
from hotline.config import LineSettings, Settings, normalise_number
from hotline.db import line_row
from hotline.intake import (
    create_help_request,
    create_volunteer_lead,
    request_status_for_caller,
)
from hotline.ivr.schema import DialNode, EffectNode, RecordNode
from hotline.models import CallSession, Contact, HelpRequest, Line, VolunteerLead, utcnow
from hotline.privacy import redact_phone_numbers, store_contact

# Renders the actions of one turn for the provider; gets the step the answer belongs to.
Renderer = Callable[[Sequence[object], int], str]


@dataclass(frozen=True)
class CallEnv:
    """What a call needs besides the database: its line, flow and secrets."""

    settings: Settings
    line: LineSettings
    flow: ivr.Flow
    render: Renderer


class UnknownCall(LookupError):
    """A step webhook for a call this app never answered."""


def context_for(line: LineSettings, now: datetime) -> ivr.CallContext:
    """The facts the IVR engine needs about the line at this moment."""
    return ivr.CallContext(
        within_opening_hours=line.is_open(now),
        postcodes=line.postcodes,
        register_url=line.register_url,
        # Without operator phones nobody can be connected: go straight to the call-back path.
        operator_available=bool(line.operator_numbers),
    )


def answer_call(session: Session, env: CallEnv, *, call_sid: str, caller_number: str | None) -> str:
    """The first webhook of a call: put the caller's number in the vault, greet them."""
    call = session.exec(select(CallSession).where(CallSession.call_sid == call_sid)).first()
    if call is not None:  # Twilio retried the first webhook
        return _with_operator_numbers(call.last_response, env.line)
    line = line_row(session, env.settings, env.line.slug)
    number = normalise_number(caller_number or "", env.line.country)
    contact = store_contact(session, env.settings.secrets, number) if number else None
    call = CallSession(
        call_sid=call_sid, line_id=line.id, contact_id=contact.id if contact else None
    )
    turn = ivr.start_call(env.flow, context_for(env.line, utcnow()), call_key=call_sid)
    return _complete_turn(session, env, call, line, turn)


def continue_call(
    session: Session,
    env: CallEnv,
    *,
    call_sid: str,
    step: int,
    digits: str | None,
    speech: str | None,
    recording_sid: str | None,
    dial_status: str | None = None,
) -> str:
    """A Gather, Record or Dial came back: feed the outcome to the engine, answer the next step.

    ``dial_status`` is Twilio's DialCallStatus: "completed" when an operator spoke
    with the caller; anything else (no-answer, busy, failed, the caller pressed *)
    sends the caller to leave a message for a call-back.
    """
    call = session.exec(select(CallSession).where(CallSession.call_sid == call_sid)).first()
    if call is None:
        raise UnknownCall(call_sid)
    if step != call.step:  # a retry of a step we already answered
        return _with_operator_numbers(call.last_response, env.line)
    if recording_sid:
        call.state = {**call.state, "recording_sid": recording_sid}
    line = line_row(session, env.settings, env.line.slug)
    context = context_for(env.line, utcnow())
    if dial_status is not None and dial_status != "completed":
        turn = ivr.operator_fallback(env.flow, call.state, context)
    else:
        turn = ivr.handle_input(
            env.flow,
            call.state,
            context,
            digits=digits or None,
            speech=speech or None,
            recording_url_present=bool(recording_sid),
        )
    return _complete_turn(session, env, call, line, turn)


def _complete_turn(session: Session, env: CallEnv, call: CallSession, line: Line, turn) -> str:
    """Carry out the turn's effects, store the new state and the answer, commit once."""
    turn = ivr.run_effects(
        env.flow,
        turn,
        context_for(env.line, utcnow()),
        lambda effect: _carry_out(session, call, line, effect),
    )
    call.state = turn.state
    call.step = turn.state["step"]
    call.last_node = turn.state.get("node")
    call.updated_at = utcnow()
    answer = env.render(turn.actions, call.step)
    call.last_response = _without_operator_numbers(answer, env.line)
    session.add(call)
    session.commit()
    return answer


def _carry_out(session: Session, call: CallSession, line: Line, effect: ivr.Effect) -> dict:
    """Do the work an IVR effect asks for; return what the engine needs to go on."""
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    data = effect.data
    # The Record action gave us the recording's sid; the engine only knows "recorded or not".
    recording_sid = call.state.get("recording_sid") if data.get("recording") else None
    if effect.name in ("create_request", "create_callback_request"):
        help_request = create_help_request(
            session,
            line=line,
            contact=contact,
            call_sid=call.call_sid,
            source="ivr" if effect.name == "create_request" else "callback",
            language=data.get("language"),
            category=data.get("category"),
            postcode=data.get("postcode"),
            urgency=data.get("urgency"),
            recording_sid=recording_sid,
        )
        call.help_request_id = help_request.id
        return {"reference": help_request.reference}
    if effect.name == "create_volunteer_lead":
        lead = create_volunteer_lead(
            session,
            line=line,
            contact=contact,
            call_sid=call.call_sid,
            language=data.get("language"),
            recording_sid=recording_sid,
        )
        return {"lead": lead.id}
    if effect.name == "lookup_request":
        status = request_status_for_caller(
            session,
            line=line,
            reference=str(data.get("reference", "")),
            caller_hash=contact.caller_hash if contact else None,
        )
        return {"status": status}
    raise ValueError(f"unknown IVR effect {effect.name!r}")


def help_request_for_call(session: Session, call_sid: str) -> HelpRequest | None:
    """The help request a call created, if any."""
    return session.exec(select(HelpRequest).where(HelpRequest.call_sid == call_sid)).first()


def record_call_end(
    session: Session, env: CallEnv, *, call_sid: str, status: str
) -> CallSession | None:
    """Note how a call ended (completed, busy, no-answer...) and in which menu. Idempotent.

    A caller who hangs up while the operators' phones ring, or before the beep of
    the call-back message, still asked for a person: they get a call-back request,
    so that no call is lost.
    """
    call = session.exec(select(CallSession).where(CallSession.call_sid == call_sid)).first()
    if call is None or status not in FINAL_CALL_STATUSES:
        return None  # ringing, in-progress... (if the account sends those): not an end
    if call.ended_at is None:
        call.ended_at = utcnow()
    call.end_status = status
    if call.help_request_id is None and _was_waiting_for_a_person(env.flow, call.state):
        collected = call.state.get("collected", {})
        help_request = create_help_request(
            session,
            line=line_row(session, env.settings, env.line.slug),
            contact=session.get(Contact, call.contact_id) if call.contact_id else None,
            call_sid=call.call_sid,
            source="callback",
            language=call.state.get("language"),
            category=collected.get("category"),
            postcode=collected.get("postcode"),
            urgency=collected.get("urgency"),
        )
        call.help_request_id = help_request.id
    session.add(call)
    session.commit()
    return call


FINAL_CALL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")


def _was_waiting_for_a_person(flow: ivr.Flow, state: dict) -> bool:
    node = flow.nodes.get(state.get("node", ""))
    if isinstance(node, DialNode):
        return True
    if isinstance(node, RecordNode):
        after = flow.nodes.get(node.goto)
        return isinstance(after, EffectNode) and after.effect == "create_callback_request"
    return False


def last_answer(session: Session, env: CallEnv, call_sid: str) -> str | None:
    """The answer last given for a call (to replay when two copies of a webhook raced)."""
    call = session.exec(select(CallSession).where(CallSession.call_sid == call_sid)).first()
    return _with_operator_numbers(call.last_response, env.line) if call else None


# A stored answer that dials operators names them by position, not by number: their
# phones stay out of the database, and a replay dials whoever is configured now.
def _without_operator_numbers(twiml: str, line: LineSettings) -> str:
    for index, number in enumerate(line.operator_numbers):
        twiml = twiml.replace(f">{number}<", f">operator:{index}<")
    return twiml


def _with_operator_numbers(twiml: str, line: LineSettings) -> str:
    for index, number in enumerate(line.operator_numbers):
        twiml = twiml.replace(f">operator:{index}<", f">{number}<")
    return twiml


def attach_transcript(session: Session, *, recording_sid: str, text: str) -> bool:
    """Store a recording's transcript on the help request or volunteer lead that holds it."""
    found = False
    for model in (HelpRequest, VolunteerLead):
        for row in session.exec(select(model).where(model.recording_sid == recording_sid)):
            # Callers sometimes say a number in their message: it stays out of the database.
            row.transcript = redact_phone_numbers(text)
            session.add(row)
            found = True
    session.commit()
    return found
