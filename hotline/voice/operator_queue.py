"""A gentle wait: the caller waits in the line's queue while the operators' phones ring.

A caller who reaches the operators (0, or a dial node to "operators") is put in the
line's Twilio queue (``<Enqueue waitUrl action>``). While they wait Twilio asks the
waitUrl again and again; each answer is one sentence (the flow's wait texts in turn,
their place in the queue between two of them) said while listening for *, which
takes them out of the queue to the message path, as does the flow's ``max_wait``.

Meanwhile each operator phone of the line is rung once, by REST, as its own call leg
(an outbox job per phone, paced at one call a second per account with the call-backs).
The operator who picks up hears the whisper of the first caller waiting, then
``<Dial><Queue>`` puts them through to that caller, whose call card appears on their
page. Then the caller's other legs stop ringing; a caller who leaves or hangs up stops
all of them. An operator who answers when nobody waits any more hears so.

State is in the database (``OperatorWait``, ``OperatorRing``): ids and statuses, no
numbers; the operators' numbers stay in the configuration and are handed only to the
provider. Every step is idempotent on the CallSid (or the leg's id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from hotline import ivr
from hotline.config import LineSettings, Settings
from hotline.db import get_engine, session_scope
from hotline.flows import get_flow
from hotline.ivr import Flow
from hotline.ivr.schema import DEFAULT_MAX_WAIT, DialNode
from hotline.models import CallSession, Line, Operator, OperatorRing, OperatorWait, utcnow
from hotline.outbox import add_work
from hotline.queue import get_redis
from hotline.telephony import Provider, TelephonyError, get_provider
from hotline.telephony.pacing import take_call_slot
from hotline.voice import live_calls

log = logging.getLogger(__name__)

# Webhook paths under /twilio (hotline.webhooks routes them; jobs build absolute URLs).
WAIT_PATH = "/voice/queue/wait"  # the Enqueue's waitUrl: what the caller hears next
WAIT_KEY_PATH = "/voice/queue/key"  # a key pressed while waiting
BRIDGED_PATH = "/voice/queue/bridged"  # <Queue url>: the caller is being put through
LEG_ANSWERED_PATH = "/voice/operator/answered"  # an operator picked up their leg
LEG_ENDED_PATH = "/voice/operator/ended"  # the operator's <Dial><Queue> is over
LEG_STATUS_PATH = "/voice/operator/status"  # the leg's status callback

JOB_QUEUE = "intake"  # a caller is waiting: as urgent as their request
RING_JOB = "hotline.voice.operator_queue.ring_operator"
CANCEL_JOB = "hotline.voice.operator_queue.stop_ringing"
# Extra seconds an operator's phone may ring beyond the caller's longest wait.
RING_MARGIN = 5
QUEUE_RESULTS_BRIDGED = ("bridged", "redirected-from-bridged")
FINAL_LEG_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")


def queue_name(line_slug: str) -> str:
    """The line's queue at Twilio (64 characters at most)."""
    return f"hotline-{line_slug}"[:64]


def enter_queue(
    session: Session, *, call: CallSession, line: Line, line_settings: LineSettings, step: int
) -> OperatorWait:
    """The caller goes into the queue: one ring job per operator phone, in this transaction.

    Idempotent on (call, step): a second call for the same step returns the same wait.
    """
    if call.id is None:
        session.add(call)
        session.flush()
    found = session.exec(
        select(OperatorWait).where(
            OperatorWait.call_session_id == call.id, OperatorWait.step == step
        )
    ).first()
    if found is not None:
        return found
    wait = OperatorWait(call_session_id=call.id, line_id=line.id, step=step)
    session.add(wait)
    session.flush()
    for index in range(len(line_settings.operator_numbers)):
        ring = OperatorRing(wait_id=wait.id, operator_index=index)
        session.add(ring)
        session.flush()
        add_work(session, queue=JOB_QUEUE, job=RING_JOB, ring_id=ring.id)
    return wait


def current_wait(session: Session, call: CallSession) -> OperatorWait | None:
    """The caller's latest wait in the queue, whatever became of it."""
    return session.exec(
        select(OperatorWait)
        .where(OperatorWait.call_session_id == call.id)
        .order_by(OperatorWait.id.desc())  # type: ignore[union-attr]
    ).first()


def _call(session: Session, call_sid: str) -> CallSession | None:
    return session.exec(select(CallSession).where(CallSession.call_sid == call_sid)).first()


# -- the caller's side --------------------------------------------------------------------


@dataclass(frozen=True)
class WaitTurn:
    """What to answer the waitUrl: the actions of the next turn, or None to leave."""

    actions: list | None


def next_wait_turn(
    session: Session, *, flow: Flow, call_sid: str, position: int | None, queue_time: int
) -> WaitTurn:
    """The next sentence for a waiting caller; None (leave the queue) once they have waited
    the dial node's ``max_wait`` seconds, or when we do not know them as waiting."""
    call = _call(session, call_sid)
    wait = current_wait(session, call) if call is not None else None
    node = flow.nodes.get((call.state if call else {}).get("node", ""))
    if wait is not None and wait.status == "bridged":
        # Being put through this very moment: a breath, never a <Leave/> that would undo it.
        return WaitTurn([ivr.Pause(seconds=1)])
    if wait is None or wait.status != "waiting" or not isinstance(node, DialNode):
        return WaitTurn(None)
    if queue_time >= node.max_wait:
        return WaitTurn(None)  # the Enqueue's action takes them to the message, kindly
    actions = ivr.wait_turn(flow, call.state, turn=wait.turns, position=position)
    session.execute(
        sa.update(OperatorWait)
        .where(OperatorWait.id == wait.id)
        .values(turns=OperatorWait.turns + 1)
    )
    session.commit()
    return WaitTurn(actions)


def wait_ended(session: Session, *, call: CallSession, bridged: bool) -> None:
    """The caller's wait is over (the Enqueue's action, or the end of the call): if nobody
    took them, every phone still ringing for them stops. Idempotent; the caller commits."""
    wait = current_wait(session, call)
    if wait is None:
        return
    if wait.ended_at is None:
        wait.ended_at = utcnow()
    if wait.status == "waiting" and not bridged:
        wait.status = "left"
        add_work(session, queue=JOB_QUEUE, job=CANCEL_JOB, wait_id=wait.id)
    session.add(wait)


# -- the operators' legs ------------------------------------------------------------------


def ring_operator(ring_id: int) -> bool:
    """rq job: ring one operator phone for a waiting caller. True if it rings now.

    Placed once: the row is claimed (pending -> placing) before Twilio is asked, so a
    retry after a crash never rings the phone twice; a caller who left meanwhile gets
    their phone cancelled at once. Twilio unreachable: raises, rq retries.
    """
    settings: Settings = current_app.extensions["hotline.settings"]
    provider = get_provider()
    with session_scope(get_engine()) as session:
        ring = session.get(OperatorRing, ring_id)
        if ring is None or ring.status != "pending":
            return False
        wait = session.get(OperatorWait, ring.wait_id)
        line = session.get(Line, wait.line_id)
        line_settings = settings.lines.get(line.slug)
        numbers = line_settings.operator_numbers if line_settings else ()
        if wait.status != "waiting" or ring.operator_index >= len(numbers):
            ring.status = "canceled"
            session.add(ring)
            return False
        claimed = session.execute(
            sa.update(OperatorRing)
            .where(OperatorRing.id == ring_id, OperatorRing.status == "pending")
            .values(status="placing")
        ).rowcount
        session.commit()
        if not claimed:
            return False
        base = settings.public_base_url + "/twilio"
        try:
            take_call_slot(get_redis(), account=settings.secrets.twilio_account_sid or "-")
            sid = provider.create_call(
                to=numbers[ring.operator_index],
                from_=line_settings.phone_number,
                url=f"{base}{LEG_ANSWERED_PATH}?ring={ring.id}",
                timeout=_ring_seconds(session, line_settings, wait),
                status_callback=f"{base}{LEG_STATUS_PATH}?ring={ring.id}",
            )
        except TelephonyError as error:
            ring = session.get(OperatorRing, ring_id, populate_existing=True)
            ring.status = "failed" if error.permanent else "pending"
            session.add(ring)
            session.commit()
            if error.permanent:
                log.warning("operator phone %s of line %s refused: %s", ring.operator_index,
                            line.slug, error)  # fmt: skip
                return False
            raise
        ring = session.get(OperatorRing, ring_id, populate_existing=True)
        ring.call_sid, ring.status, ring.placed_at = sid, "ringing", utcnow()
        session.add(ring)
        session.commit()
        session.refresh(wait)
        if wait.status != "waiting":  # the caller left while we rang: stop at once
            _cancel(session, provider, ring)
            return False
        log.info("operator phone %s rings for wait %s (%s)", ring.operator_index, wait.id, sid)
        return True


def _ring_seconds(session: Session, line_settings: LineSettings, wait: OperatorWait) -> int:
    """Once, for as long as the caller may wait (Twilio allows 600 s at most)."""
    flow = get_flow(line_settings.flow)
    call = session.get(CallSession, wait.call_session_id)
    node = flow.nodes.get(call.state.get("node", "")) if call else None
    longest = node.max_wait if isinstance(node, DialNode) else DEFAULT_MAX_WAIT
    return min(600, longest + RING_MARGIN)


def stop_ringing(wait_id: int) -> int:
    """rq job: every phone still ringing for this wait stops (but the one put through).
    Returns how many were cancelled. Twilio unreachable: raises, rq retries the rest."""
    provider = get_provider()
    with session_scope(get_engine()) as session:
        wait = session.get(OperatorWait, wait_id)
        if wait is None:
            return 0
        rings = session.exec(
            select(OperatorRing).where(
                OperatorRing.wait_id == wait_id,
                OperatorRing.status.in_(("pending", "ringing")),  # type: ignore[attr-defined]
            )
        ).all()
        cancelled = 0
        for ring in rings:
            if ring.id != wait.bridged_ring_id:
                _cancel(session, provider, ring)
                cancelled += 1
        return cancelled


def _cancel(session: Session, provider: Provider, ring: OperatorRing) -> None:
    if ring.status == "ringing" and ring.call_sid:
        provider.cancel_call(ring.call_sid)
    ring.status, ring.ended_at = "canceled", utcnow()
    session.add(ring)
    session.commit()


@dataclass(frozen=True)
class LegAnswer:
    """What an operator who picked up is put through to: a waiting caller, or nobody."""

    call: CallSession | None  # the caller the whisper is about
    operator: Operator | None
    taken: bool = False  # nobody left for them because a colleague took the caller


def leg_answered(
    session: Session,
    settings: Settings,
    *,
    line: LineSettings,
    ring_id: int,
    leg_sid: str,
    operator_number: str,
) -> LegAnswer:
    """An operator picked up their ringing leg: claim the first caller waiting on the line
    (Twilio's queue is first in, first out) for the whisper. Idempotent on the leg."""
    ring = session.get(OperatorRing, ring_id)
    if ring is None:
        return LegAnswer(None, None)
    operator = live_calls.operator_for_phone(session, settings, operator_number, line.country)
    if operator is not None and not live_calls.works_on(operator, line.slug):
        operator = None
    if ring.answered_at is None:
        ring.answered_at, ring.status = utcnow(), "answered"
        ring.call_sid = ring.call_sid or leg_sid
        ring.operator_id = operator.id if operator else None
        session.add(ring)
        session.commit()
    own_wait = session.get(OperatorWait, ring.wait_id)
    # A retried webhook: the caller this leg was told about (still waiting, or its own).
    claimed = session.exec(
        select(OperatorWait)
        .where(OperatorWait.claimed_by_ring_id == ring.id)
        .order_by(OperatorWait.id.desc())  # type: ignore[union-attr]
    ).first()
    if claimed is not None and not (
        claimed.status == "waiting"
        or (claimed.status == "bridged" and claimed.bridged_ring_id == ring.id)
    ):
        claimed = None
    if claimed is None:
        claimed = _claim_first_waiting(session, line_id=own_wait.line_id, ring_id=ring.id)
    if claimed is None:
        session.refresh(own_wait)
        taken = own_wait.status == "bridged" or (
            own_wait.status == "waiting" and own_wait.claimed_by_ring_id not in (None, ring.id)
        )
        return LegAnswer(None, operator, taken=taken)
    return LegAnswer(session.get(CallSession, claimed.call_session_id), operator)


def _claim_first_waiting(session: Session, *, line_id: int, ring_id: int) -> OperatorWait | None:
    """The oldest waiting caller of the line nobody was told about yet, now this leg's."""
    candidates = session.exec(
        select(OperatorWait.id)
        .where(
            OperatorWait.line_id == line_id,
            OperatorWait.status == "waiting",
            OperatorWait.claimed_by_ring_id.is_(None),  # type: ignore[union-attr]
        )
        .order_by(OperatorWait.enqueued_at, OperatorWait.id)
        .limit(10)
    ).all()
    for wait_id in candidates:
        taken = session.execute(
            sa.update(OperatorWait)
            .where(
                OperatorWait.id == wait_id,
                OperatorWait.status == "waiting",
                OperatorWait.claimed_by_ring_id.is_(None),  # type: ignore[union-attr]
            )
            .values(claimed_by_ring_id=ring_id)
        ).rowcount
        session.commit()
        if taken:
            return session.get(OperatorWait, wait_id, populate_existing=True)
    return None


def caller_bridged(
    session: Session,
    settings: Settings,
    *,
    line: LineSettings,
    caller_sid: str,
    ring_id: int,
) -> CallSession | None:
    """Twilio is putting the caller through to this leg (``<Queue url>``): the call is the
    operator's (their live card), and the caller's other phones stop ringing. Idempotent."""
    ring = session.get(OperatorRing, ring_id)
    call = _call(session, caller_sid)
    wait = current_wait(session, call) if call is not None else None
    if ring is None or wait is None:
        return None
    if wait.status == "waiting":
        if wait.claimed_by_ring_id != ring.id:
            # Two operators answered at once and Twilio gave this one another caller than
            # its whisper named: the caller it was told about may be told to someone else.
            session.execute(
                sa.update(OperatorWait)
                .where(OperatorWait.claimed_by_ring_id == ring.id, OperatorWait.id != wait.id)
                .values(claimed_by_ring_id=None)
            )
        wait.status, wait.bridged_ring_id, wait.claimed_by_ring_id = "bridged", ring.id, ring.id
        session.add(wait)
        add_work(session, queue=JOB_QUEUE, job=CANCEL_JOB, wait_id=wait.id)
        session.commit()
    numbers = line.operator_numbers
    number = numbers[ring.operator_index] if ring.operator_index < len(numbers) else ""
    live_calls.operator_answered(
        session, settings, line=line, call_sid=caller_sid, operator_number=number
    )
    return call


def leg_over(session: Session, *, ring_id: int, status: str) -> None:
    """The leg's status callback: a phone that stopped ringing is not cancelled again."""
    ring = session.get(OperatorRing, ring_id)
    if ring is None or status not in FINAL_LEG_STATUSES:
        return
    if ring.ended_at is None:
        ring.ended_at = utcnow()
    if ring.status in ("placing", "ringing"):
        ring.status = "ended"
    session.add(ring)
    session.commit()


def leg_was_bridged(session: Session, *, ring_id: int) -> bool:
    """Whether this operator leg was put through to a caller."""
    return (
        session.exec(select(OperatorWait.id).where(OperatorWait.bridged_ring_id == ring_id)).first()
        is not None
    )
