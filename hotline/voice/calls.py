"""Call use cases: move one phone call through its IVR flow, one webhook at a time.

The call's place in the flow is kept in the database (``CallSession``), so any
web worker can serve any step, and a retried webhook gets the very same answer.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlmodel import Session, select

from hotline import ivr
from hotline.config import LineSettings, Settings, normalise_number
from hotline.db import line_row
from hotline.intake import (
    create_help_request,
    create_volunteer_lead,
    request_status_for_caller,
)
from hotline.ivr.schema import DialNode, EffectNode, PhoneNode, RecordNode
from hotline.messaging.texts import national_number
from hotline.models import CallSession, Contact, HelpRequest, Line, VolunteerLead, utcnow
from hotline.observability.metrics import IVR_STEPS
from hotline.privacy import redact_personal_details, reveal_number, store_contact
from hotline.telephony import DialPlan, QueuePlan
from hotline.voice import connections, operator_queue
from hotline.voice.callbacks import RESIDENT_RING_SECONDS
from hotline.voice.texts import spoken_digits

# Renders the actions of one turn for the provider; gets the step the answer belongs to
# and whom a Dial among them rings (or the queue the caller waits in).
Renderer = Callable[[Sequence[object], int, DialPlan | QueuePlan | None], str]

# Twilio's stand-ins for a withheld caller ID (its support article "Why am I getting calls
# from these strange numbers?"): RESTRICTED, BLOCKED, UNKNOWN, ANONYMOUS, UNAVAILABLE.
WITHHELD_NUMBERS = frozenset(
    {"+7378742833", "+2562533", "+8656696", "+266696687", "+86282452253", "+464"}
)
# In stored answers, numbers are tokens, filled in again (from the configuration and the
# vault) only in what is sent to the provider: see hide/fill below.
TOKEN = re.compile(r">operator:(\d+)<|>contact:(\d+)<|\[\[number:(\d+)\]\]")


@dataclass(frozen=True)
class CallUrls:
    """Webhook URLs a call's TwiML points at, beyond its own step URL."""

    screen: Callable[[str, str], str]  # (call_sid, target) -> the person rung hears who calls
    queue_wait: str = ""  # the waitUrl of the operators' queue: what a waiting caller hears


@dataclass(frozen=True)
class CallEnv:
    """What a call needs besides the database: its line, flow and secrets."""

    settings: Settings
    line: LineSettings
    flow: ivr.Flow
    render: Renderer
    urls: CallUrls


class UnknownCall(LookupError):
    """A step webhook for a call this app never answered."""


def context_for(
    line: LineSettings, now: datetime, *, caller_number_known: bool = True
) -> ivr.CallContext:
    """The facts the IVR engine needs about the line (and the caller) at this moment."""
    return ivr.CallContext(
        within_opening_hours=line.is_open(now),
        postcodes=line.postcodes,
        register_url=line.register_url,
        # Without operator phones nobody can be connected: go straight to the call-back path.
        operator_available=bool(line.operator_numbers),
        caller_number_known=caller_number_known,
    )


def _context(env: CallEnv, call: CallSession) -> ivr.CallContext:
    return context_for(env.line, utcnow(), caller_number_known=call.contact_id is not None)


def caller_e164(raw: str | None, country: str) -> str | None:
    """The caller's number in E.164, or None when it is withheld, unknown or not a number."""
    raw = (raw or "").strip()
    if raw in WITHHELD_NUMBERS:
        return None
    return normalise_number(raw, country) if raw else None


def answer_call(session: Session, env: CallEnv, *, call_sid: str, caller_number: str | None) -> str:
    """The first webhook of a call: put the caller's number in the vault, greet them."""
    call = call_by_sid(session, call_sid)
    if call is not None:  # Twilio retried the first webhook
        return _replay(session, env, call)
    line = line_row(session, env.settings, env.line.slug)
    number = caller_e164(caller_number, env.line.country)
    contact = store_contact(session, env.settings.secrets, number) if number else None
    call = CallSession(
        call_sid=call_sid, line_id=line.id, contact_id=contact.id if contact else None
    )
    turn = ivr.start_call(env.flow, _context(env, call), call_key=call_sid)
    return _complete_turn(session, env, call, turn)


def continue_call(
    session: Session,
    env: CallEnv,
    *,
    call_sid: str,
    step: int,
    digits: str | None,
    speech: str | None,
    recording_sid: str | None,
    dial_bridged: bool | None = None,
    queue_result: str | None = None,
) -> str:
    """A Gather, Record, Dial or Enqueue came back: feed the outcome to the engine, answer
    the next step.

    ``dial_bridged`` (for a Dial) says whether the caller was put through to someone;
    if not (nobody answered, the person rung declined) the dial node's "unavailable" exit
    is taken. ``queue_result`` (Twilio's QueueResult, for the wait in the operators' queue)
    does the same: "bridged" after a conversation, anything else ("leave" after * or the
    longest wait, "hangup", "queue-full", "error") leads to the message.
    """
    call = call_by_sid(session, call_sid)
    if call is None:
        raise UnknownCall(call_sid)
    if step != call.step:  # a retry of a step we already answered
        return _replay(session, env, call)
    if recording_sid:
        call.state = {**call.state, "recording_sid": recording_sid}
    context = _context(env, call)
    node = env.flow.nodes.get(call.state.get("node", ""))
    masked = isinstance(node, DialNode) and node.target in connections.TARGETS
    if masked and dial_bridged is not None:
        # Put through only if the person rung also accepted with 1.
        dial_bridged = dial_bridged and call.bridged_at is not None
        _note_masked_call(session, env, call, _line(session, env, call), node.target, dial_bridged)
    if isinstance(node, DialNode) and node.queues and queue_result is not None:
        dial_bridged = queue_result in operator_queue.QUEUE_RESULTS_BRIDGED
        operator_queue.wait_ended(session, call=call, bridged=dial_bridged)
    if dial_bridged is False:
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
    return _complete_turn(session, env, call, turn)


def _line(session: Session, env: CallEnv, call: CallSession) -> Line:
    """The call's line row, read only by the steps that need it (an effect, a dial).

    Most menu steps need none: skipping the read saves a query on every step. Once read
    (or written by ``answer_call``), the session's identity map answers without SQL.
    """
    found = session.get(Line, call.line_id) if call.line_id is not None else None
    return found if found is not None else line_row(session, env.settings, env.line.slug)


def _complete_turn(session: Session, env: CallEnv, call: CallSession, turn) -> str:
    """Carry out the turn's effects, store the new state and the answer, commit once.

    The stored answer holds tokens instead of phone numbers; what is sent has them filled in.
    """

    def perform(effect: ivr.Effect) -> dict:
        return _carry_out(session, env, call, _line(session, env, call), effect)

    turn = ivr.run_effects(env.flow, turn, _context(env, call), perform)
    plan = None
    if turn.actions and isinstance(turn.actions[-1], ivr.Dial):
        plan = _dial_plan(
            session,
            env,
            call,
            _line(session, env, call),
            turn.actions[-1].target,
            step=turn.state["step"],
        )
        if plan is None:  # nobody to ring (any more): straight to the dial's other exit
            after = ivr.operator_fallback(env.flow, turn.state, _context(env, call))
            after = ivr.run_effects(env.flow, after, _context(env, call), perform)
            turn = dataclasses.replace(after, actions=[*turn.actions[:-1], *after.actions])
    step = turn.state["step"]
    _store_turn(
        session,
        call,
        state=turn.state,
        step=step,
        last_node=turn.state.get("node"),
        updated_at=utcnow(),
        last_response=env.render(_with_number_tokens(turn.actions), step, plan),
    )
    answer = fill(session, env, call)  # a number it decrypts is audited in this same commit
    session.commit()
    IVR_STEPS.labels(call.last_node or "none").inc()
    return answer


def _store_turn(session: Session, call: CallSession, **values: object) -> None:
    """Write a call's new place in the flow and its answer (committed by the caller).

    A known call's row gets one keyed UPDATE (Core), not the ORM's unit of work, which
    cost a menu step more than the statement itself. What the turn's effects changed on
    the call (its request, a keyed-in caller, ...) goes in the same UPDATE, and only
    that, as the ORM would write it: a column another webhook set meanwhile stays as it
    is. The loaded object is then told the values are the database's, so it stays what
    the row holds and the commit has nothing more to write for it. A new call is added.
    """
    if call.id is None:
        for name, value in values.items():
            setattr(call, name, value)
        session.add(call)
        return
    changed = {name: getattr(call, name) for name in instance_state(call).committed_state}
    values = {**changed, **values}
    session.connection().execute(STORE_TURN, {"call_id": call.id, **values})
    for name, value in values.items():
        set_committed_value(call, name, value)


def call_by_sid(session: Session, call_sid: str) -> CallSession | None:
    """The call session of ``call_sid``, if this app answered that call."""
    return session.exec(CALL_BY_SID, params={"call_sid": call_sid}).first()


# Built once: composing a statement cost a webhook more than SQLAlchemy's cached compile.
# The columns set are the keys given with each execution (see _store_turn).
CALL_BY_SID = select(CallSession).where(CallSession.call_sid == sa.bindparam("call_sid"))
STORE_TURN = sa.update(CallSession.__table__).where(
    CallSession.__table__.c.id == sa.bindparam("call_id")
)


def _dial_plan(
    session: Session, env: CallEnv, call: CallSession, line: Line, target: str, step: int
) -> DialPlan | QueuePlan | None:
    """Whom a Dial of the flow rings, as tokens (or, for the operators, the queue the caller
    waits in while their phones ring); None when there is nobody to ring."""
    if target in connections.TARGETS:
        found = _party(session, env, call, line, target)
        if found is None:
            return None
        call.bridged_at = None  # a new attempt: nobody accepted it yet
        return DialPlan(
            numbers=[f"contact:{found.contact.id}"],
            screen_url=env.urls.screen(call.call_sid, target),
            timeout=RESIDENT_RING_SECONDS,
        )
    if not env.line.operator_numbers:
        return None
    operator_queue.enter_queue(session, call=call, line=line, line_settings=env.line, step=step)
    return QueuePlan(name=operator_queue.queue_name(env.line.slug), wait_url=env.urls.queue_wait)


def _party(session: Session, env: CallEnv, call: CallSession, line: Line, target: str):
    return connections.party(
        session,
        line=line,
        line_settings=env.line,
        caller=session.get(Contact, call.contact_id) if call.contact_id else None,
        reference=str(call.state.get("collected", {}).get("reference", "")),
        target=target,
    )


def party_for_call(
    session: Session, env: CallEnv, call_sid: str, target: str
) -> connections.Party | None:
    """The person a call's masked dial rings (for their screening webhooks)."""
    call = call_by_sid(session, call_sid)
    if call is None:
        return None
    return _party(session, env, call, session.get(Line, call.line_id), target)


def accept_masked_call(session: Session, *, call_sid: str) -> None:
    """The person rung pressed 1: the two are put through (the Dial's outcome will say so)."""
    call = call_by_sid(session, call_sid)
    if call is not None:
        call.bridged_at = utcnow()
        session.add(call)
        session.commit()


def _note_masked_call(
    session: Session, env: CallEnv, call: CallSession, line: Line, target: str, bridged: bool
) -> None:
    found = _party(session, env, call, line, target)
    if found is not None:
        connections.record_attempt(
            session,
            found=found,
            target=target,
            outcome="connected" if bridged else "not_answered",
            call_sid=call.call_sid,
        )


def _with_number_tokens(actions: Sequence[object]) -> list[object]:
    """A number to read back becomes a token in a Say; ``fill`` speaks it when sending."""
    tokens: list[object] = []
    for action in actions:
        if isinstance(action, ivr.ReadNumber):
            tokens.append(ivr.Say(text=f"[[number:{action.ref}]]", language=action.language))
        elif isinstance(action, ivr.Gather):
            tokens.append(dataclasses.replace(action, actions=_with_number_tokens(action.actions)))
        else:
            tokens.append(action)
    return tokens


def fill(session: Session, env: CallEnv, call: CallSession) -> str:
    """A call's stored answer with its number tokens replaced, for sending to the provider only.

    Operators are named by position (whoever is configured now is dialled on a replay);
    residents and volunteers by vault entry; a number read back is spoken digit by digit.
    Each number taken from the vault is audited in ``session``, for the caller to commit.
    """

    def number(match: re.Match) -> str:
        operator, contact_id, spoken_id = match.groups()
        if operator is not None:
            numbers = env.line.operator_numbers
            return f">{numbers[int(operator) % len(numbers)]}<" if numbers else "><"
        contact = session.get(Contact, int(contact_id or spoken_id))
        if contact is None:
            e164 = ""
        elif contact_id is not None:
            e164 = reveal_number(
                session,
                contact,
                env.settings.secrets,
                reason="masked_call",
                line_id=call.line_id,
                call_sid=call.call_sid,
                **_masked_call_party(session, env, call),
            )
        else:
            e164 = reveal_number(
                session,
                contact,
                env.settings.secrets,
                reason="read_back",
                line_id=call.line_id,
                call_sid=call.call_sid,
            )
        if contact_id is not None:
            return f">{e164}<"
        return spoken_digits(_national_digits(e164, env.line.country))

    return TOKEN.sub(number, call.last_response)


def _masked_call_party(session: Session, env: CallEnv, call: CallSession) -> dict[str, int]:
    """Whom a masked call's dial rings, as ids for the audit of its decryption."""
    node = env.flow.nodes.get(call.state.get("node", ""))
    if not isinstance(node, DialNode) or node.target not in connections.TARGETS:
        return {}
    found = _party(session, env, call, session.get(Line, call.line_id), node.target)
    if found is None:
        return {}
    return {
        "help_request_id": found.help_request.id,
        "assignment_id": found.assignment.id,
        "volunteer_id": found.volunteer.id,
    }


def _replay(session: Session, env: CallEnv, call: CallSession) -> str:
    """The answer already given, again (Twilio retried): its decryptions are audited too."""
    answer = fill(session, env, call)
    session.commit()
    return answer


def _national_digits(e164: str, country: str) -> str:
    """The digits of a number as the caller dials it at home: "0470123456", "0033612345678"."""
    try:
        parsed = phonenumbers.parse(e164, country)
    except phonenumbers.NumberParseException:
        return "".join(filter(str.isdigit, e164))
    if phonenumbers.region_code_for_number(parsed) != country:
        return "00" + e164.lstrip("+")
    return "".join(filter(str.isdigit, national_number(e164, country)))


def _carry_out(
    session: Session, env: CallEnv, call: CallSession, line: Line, effect: ivr.Effect
) -> dict:
    """Do the work an IVR effect asks for; return what the engine needs to go on."""
    data = effect.data
    if data.get("caller_contact") and call.contact_id is None:
        # A caller without caller ID keyed in (and confirmed) a number: it is theirs now.
        keyed = session.get(Contact, int(data["caller_contact"]))
        call.contact_id = keyed.id if keyed else None
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    # The Record action gave us the recording's sid; the engine only knows "recorded or not".
    recording_sid = call.state.get("recording_sid") if data.get("recording") else None
    if effect.name == "check_number":
        return {"number": _keyed_number(session, env, str(data.get("digits", "")))}
    if effect.name == "recognise_caller":
        return connections.recognise_caller(
            session, line=line, line_settings=env.line, contact=contact
        )
    if effect.name == "pick_assignment":
        return connections.pick_assignment(
            session, line=line, line_settings=env.line, contact=contact, code=str(data.get("code"))
        )
    if effect.name == "leave_message":
        if recording_sid:  # after talking to an operator: kept with the call's request
            help_request = create_help_request(
                session,
                line=line,
                contact=contact,
                call_sid=call.call_sid,
                source="callback",
                language=data.get("language"),
                recording_sid=recording_sid,
            )
            call.help_request_id = help_request.id
        return {}
    if effect.name in ("create_request", "create_callback_request"):
        help_request = create_help_request(
            session,
            line=line,
            contact=contact,
            call_sid=call.call_sid,
            source=REQUEST_EFFECTS[effect.name],
            language=data.get("language"),
            category=data.get("category"),
            postcode=data.get("postcode"),
            urgency=data.get("urgency"),
            recording_sid=recording_sid,
        )
        call.help_request_id = help_request.id
        return {
            "reference": help_request.reference,
            "callback": "yes" if help_request.contact_id else "no",
        }
    if effect.name == "create_volunteer_lead":
        lead = create_volunteer_lead(
            session,
            line=line,
            contact=contact,
            call_sid=call.call_sid,
            language=data.get("language"),
            recording_sid=recording_sid,
        )
        return {"lead": lead.id, "callback": "yes" if lead.contact_id else "no"}
    if effect.name == "lookup_request":
        status = request_status_for_caller(
            session,
            line=line,
            reference=str(data.get("reference", "")),
            caller_hash=contact.caller_hash if contact else None,
        )
        # A flow that can put the caller through to their volunteer says so.
        if (
            status == "volunteer_found"
            and _flow_can_connect(env.flow)
            and _party(session, env, call, line, "volunteer") is not None
        ):
            status = "volunteer_accepted"
        return {"status": status}
    raise ValueError(f"unknown IVR effect {effect.name!r}")


def _flow_can_connect(flow: ivr.Flow) -> bool:
    """Whether the flow's status lookup can put a resident through to their volunteer."""
    return any(
        isinstance(node, EffectNode)
        and node.effect == "lookup_request"
        and "volunteer_accepted" in (node.branches or {})
        for node in flow.nodes.values()
    )


def _keyed_number(session: Session, env: CallEnv, digits: str) -> int | None:
    """A number keyed in by a caller without caller ID: into the vault if we can call it."""
    number = normalise_number(digits, env.line.country)
    if number is None or number in WITHHELD_NUMBERS or number == env.line.phone_number:
        return None
    kind = phonenumbers.number_type(phonenumbers.parse(number))
    if kind in (
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.TOLL_FREE,
    ):
        return None
    return store_contact(session, env.settings.secrets, number).id


def record_call_end(
    session: Session, env: CallEnv, *, call_sid: str, status: str
) -> CallSession | None:
    """Note how a call ended (completed, busy, no-answer...) and in which menu. Idempotent.

    A caller who hangs up while the operators' phones ring, or before the beep of
    the call-back message, still asked for a person: they get a call-back request,
    so that no call is lost.
    """
    call = call_by_sid(session, call_sid)
    if call is None or status not in FINAL_CALL_STATUSES:
        return None  # ringing, in-progress... (if the account sends those): not an end
    if call.ended_at is None:
        call.ended_at = utcnow()
    call.end_status = status
    node = env.flow.nodes.get(call.state.get("node", ""))
    if isinstance(node, DialNode) and node.queues:  # hung up while waiting: phones stop
        operator_queue.wait_ended(session, call=call, bridged=False)
    source = _request_due_on_hangup(env.flow, call.state)
    # A call an operator answered is theirs to log ("call taken, not logged"), not a call-back.
    if call.help_request_id is None and call.answered_at is None and source is not None:
        collected = call.state.get("collected", {})
        help_request = create_help_request(
            session,
            line=line_row(session, env.settings, env.line.slug),
            contact=session.get(Contact, call.contact_id) if call.contact_id else None,
            call_sid=call.call_sid,
            source=source,
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


REQUEST_EFFECTS = {"create_request": "ivr", "create_callback_request": "callback"}


def _request_due_on_hangup(flow: ivr.Flow, state: dict) -> str | None:
    """The source of the request a caller is owed when they hang up here, if any.

    Waiting for an operator, or on the way to a request (recording its message, keying
    a number in): the caller asked for help, so no call is lost.
    """
    node = flow.nodes.get(state.get("node", ""))
    if isinstance(node, DialNode):
        return "callback" if node.target == "operators" else None
    for _ in range(4):  # record -> phone -> effect at most
        if isinstance(node, RecordNode | PhoneNode):
            node = flow.nodes.get(node.goto)
        elif isinstance(node, EffectNode):
            return REQUEST_EFFECTS.get(node.effect)
        else:
            return None
    return None


def last_answer(session: Session, env: CallEnv, call_sid: str) -> str | None:
    """The answer last given for a call (to replay when two copies of a webhook raced)."""
    call = call_by_sid(session, call_sid)
    return _replay(session, env, call) if call else None


def attach_transcript(session: Session, *, recording_sid: str, text: str) -> bool:
    """Store a recording's transcript on the help request or volunteer lead that holds it."""
    found = False
    for model in (HelpRequest, VolunteerLead):
        for row in session.exec(select(model).where(model.recording_sid == recording_sid)):
            # Callers sometimes say a number in their message: it stays out of the database.
            row.transcript = redact_personal_details(text)
            session.add(row)
            found = True
    session.commit()
    return found
