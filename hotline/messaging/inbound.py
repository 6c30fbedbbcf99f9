"""A volunteer's SMS in, the answer out: JA / NEE / KLAAR with or without the code, HULP, STOP.

The sender is found by the keyed hash of their number, never by a plaintext lookup;
a number that belongs to no volunteer is not stored and gets one neutral sentence.
Every message is kept once (by Twilio's MessageSid, with phone numbers redacted) with
the answer given, so that a retried webhook gets the same answer and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, col, select

from hotline.config import LineSettings, Settings, normalise_number
from hotline.db import line_row
from hotline.dispatch import OPEN_ASSIGNMENT_STATUSES, AssignmentError, AssignmentStatus
from hotline.http_bounds import plain_text
from hotline.lifecycle import IllegalTransition
from hotline.messaging.delivery import UNSUBSCRIBED
from hotline.messaging.offers import answer_offer, details_text, offer_not_delivered
from hotline.messaging.replies import Intent, Reply, understand
from hotline.messaging.sending import opt_in, opt_out
from hotline.messaging.texts import (
    CATEGORIES,
    DONE_WORDS,
    REPLY_WORDS,
    sms_text,
    volunteer_language,
)
from hotline.models import Assignment, Contact, HelpRequest, SmsMessage, Volunteer
from hotline.privacy import caller_hash, redact_personal_details

log = logging.getLogger(__name__)
A = AssignmentStatus
MAX_BODY = 1600  # Twilio's limit for one message; anything longer is not a reply
REPLIES = {Intent.ACCEPT: A.ACCEPTED, Intent.DECLINE: A.DECLINED, Intent.DONE: A.DONE}
# What the volunteer is told after each outcome of their answer.
ANSWER_TEXTS = {
    A.DECLINED: "declined",
    A.GIVEN_BACK: "given_back",
    A.DONE: "thanks",
    "taken": "taken",
}


@dataclass(frozen=True)
class InboundSms:
    """What Twilio posts for one incoming SMS (the sender's number stays in memory only)."""

    message_sid: str
    from_number: str
    to: str
    body: str
    messaging_service_sid: str | None = None
    opt_out_type: str | None = None  # Advanced Opt-Out: STOP, START or HELP


@dataclass
class Received:
    """The stored inbound message and the texts to answer it with (in the TwiML)."""

    message: SmsMessage
    answers: list[SmsMessage]


def previous_answer(session: Session, message_sid: str) -> str | None:
    """The TwiML answered when this message came in before (Twilio retried), or None."""
    return session.exec(
        select(SmsMessage.response).where(
            SmsMessage.message_sid == message_sid, SmsMessage.direction == "in"
        )
    ).first()


def receive_sms(session: Session, *, settings: Settings, inbound: InboundSms) -> Received:
    """Store an incoming SMS, act on it, and return the texts that answer it. Not committed.

    The inbound row is flushed first: a second copy of the same message (a retry
    racing the first) fails on its MessageSid and replays the first one's answer.
    """
    line = settings.line_for_sms(inbound.to, inbound.messaging_service_sid)
    line_id = line_row(session, settings, line.slug).id
    volunteer = _volunteer_of(session, settings, inbound.from_number, line)
    message = SmsMessage(
        line_id=line_id,
        volunteer_id=volunteer.id if volunteer else None,
        direction="in",
        kind="reply",
        body=redact_personal_details(plain_text(inbound.body[:MAX_BODY])),
        message_sid=inbound.message_sid,
        status="received",
    )
    session.add(message)
    session.flush()
    reply = understand(inbound.body, opt_out_type=inbound.opt_out_type)
    received = Received(message, [])
    if volunteer is None:
        if reply.intent not in (Intent.STOP, Intent.START):  # Twilio answers those itself
            received.answers.append(
                _answer(session, None, line_id, "unknown_sender", line.languages[0], line)
            )
        log.info("sms %s from a number that is no volunteer's", message.id)
        return received
    _Conversation(session, settings, line, line_id, volunteer, received).handle(reply)
    return received


def _volunteer_of(
    session: Session, settings: Settings, number: str, line: LineSettings
) -> Volunteer | None:
    """The volunteer whose vault entry has this number's keyed hash (no plaintext lookup)."""
    normalised = normalise_number(number, line.country)
    if normalised is None:
        return None
    hashed = caller_hash(normalised, settings.secrets.hash_pepper)
    return session.exec(
        select(Volunteer)
        .join(Contact, col(Contact.id) == Volunteer.contact_id)
        .where(Contact.caller_hash == hashed)
    ).first()


def _answer(
    session: Session,
    volunteer: Volunteer | None,
    line_id: int,
    kind: str,
    language: str,
    line: LineSettings,
    *,
    assignment: Assignment | None = None,
    body: str | None = None,
    **values: str,
) -> SmsMessage:
    """An answer given in the TwiML; its status callback later finds it by id."""
    sms = SmsMessage(
        line_id=line_id,
        volunteer_id=volunteer.id if volunteer else None,
        help_request_id=assignment.help_request_id if assignment else None,
        assignment_id=assignment.id if assignment else None,
        direction="out",
        kind=kind,
        body=body if body is not None else sms_text(kind, language, line, **values),
        status="queued",
    )
    session.add(sms)
    session.flush()
    return sms


class _Conversation:
    """One volunteer's message, handled: what it means for their offers, and what to say."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        line: LineSettings,
        line_id: int,
        volunteer: Volunteer,
        received: Received,
    ):
        self.session, self.settings, self.line, self.line_id = session, settings, line, line_id
        self.volunteer, self.received = volunteer, received
        self.language = volunteer_language(volunteer, line)

    def say(self, kind: str, *, assignment: Assignment | None = None, **values: str) -> None:
        self.received.answers.append(
            _answer(
                self.session,
                self.volunteer,
                self.line_id,
                kind,
                self.language,
                self.line,
                assignment=assignment,
                **values,
            )
        )

    def handle(self, reply: Reply) -> None:
        if reply.intent is Intent.STOP:
            if opt_out(self.session, self.volunteer, why="texted STOP"):
                # Offers they can no longer get answers about go to the next volunteer.
                for assignment in self._open_assignments():
                    if assignment.status == A.OFFERED:
                        offer_not_delivered(
                            self.session,
                            assignment_id=assignment.id,
                            code=UNSUBSCRIBED,
                            line=self.line,
                            reason="the volunteer texted STOP",
                        )
            return  # Twilio confirms it; anything from us would be refused (21610)
        if reply.intent is Intent.START:
            opt_in(self.session, self.volunteer)
            return  # Twilio confirms it
        if reply.whole_keyword and reply.intent is Intent.ACCEPT:
            opt_in(self.session, self.volunteer)  # a bare YES re-subscribes at Twilio too
        if self.volunteer.sms_opted_out_at is not None and reply.intent is not Intent.ACCEPT:
            return  # texting them is what they asked us not to do
        if reply.intent is Intent.HELP:
            if not reply.answered_by_twilio:  # Advanced Opt-Out sent the town's own help text
                self.say("how_to", example=self._example_code())
            return
        if reply.intent is Intent.UNKNOWN:
            self.say("not_understood", example=self._example_code())
            return
        assignment = self._assignment_for(reply)
        if assignment is None:
            return
        self._apply(assignment, REPLIES[reply.intent])
        # Tied to the request only now: pointing at it earlier would take a lock on it
        # before the answer waits for the request's own lock.
        self.received.message.help_request_id = assignment.help_request_id
        self.received.message.assignment_id = assignment.id
        self.session.add(self.received.message)

    def _open_assignments(self) -> list[Assignment]:
        return list(
            self.session.exec(
                select(Assignment)
                .where(
                    Assignment.volunteer_id == self.volunteer.id,
                    col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
                )
                .order_by(col(Assignment.created_at), col(Assignment.id))
            )
        )

    def _example_code(self) -> str:
        open_assignments = self._open_assignments()
        return open_assignments[0].code if open_assignments else "4821"

    def _assignment_for(self, reply: Reply) -> Assignment | None:
        """The assignment an answer is about, or None after telling the volunteer why not."""
        open_assignments = self._open_assignments()
        if reply.code:
            for code in reply.codes:  # "Ja, 3000 Leuven, 4821": the number that is a code
                for assignment in open_assignments:
                    if assignment.code == code:
                        return assignment
            earlier = self.session.exec(
                select(Assignment)
                .where(Assignment.volunteer_id == self.volunteer.id, Assignment.code == reply.code)
                .order_by(col(Assignment.created_at).desc())
            ).first()
            if earlier is not None:
                self._no_longer_open(earlier)
                return None
            codes = ", ".join(a.code for a in open_assignments)
            self.say(
                "unknown_code",
                code=reply.code,
                open=sms_text("open_codes", self.language, self.line, codes=codes) if codes else "",
            )
            return None
        if reply.intent is Intent.DONE:
            # KLAAR without a code finishes what they accepted, never a fresh offer.
            open_assignments = [a for a in open_assignments if a.status == A.ACCEPTED]
        if len(open_assignments) == 1:
            return open_assignments[0]
        if not open_assignments:
            latest = self.session.exec(
                select(Assignment)
                .where(Assignment.volunteer_id == self.volunteer.id)
                .order_by(col(Assignment.created_at).desc(), col(Assignment.id).desc())
            ).first()
            if latest is not None and self._taken(latest):
                self._no_longer_open(latest)  # a JA that came second: "already taken"
            else:
                self.say("no_open")
            return None
        self.say(
            "which_one",
            offers=", ".join(self._label(a) for a in open_assignments),
            word=reply_word(reply.intent, self.language),
            example=open_assignments[0].code,
        )
        return None

    def _label(self, assignment: Assignment) -> str:
        """ "4821 (boodschappen of apotheek, 3000)": enough to tell offers apart."""
        help_request = self.session.get(HelpRequest, assignment.help_request_id)
        what = CATEGORIES[self.language].get(help_request.category or "other", "")
        where = f", {help_request.postcode}" if help_request.postcode else ""
        return f"{assignment.code} ({what}{where})"

    def _taken(self, assignment: Assignment) -> bool:
        """Whether this volunteer's offer was withdrawn because another one accepted."""
        help_request = self.session.get(HelpRequest, assignment.help_request_id)
        return assignment.status == A.CANCELLED and help_request.status in ("accepted", "done")

    def _no_longer_open(self, assignment: Assignment) -> None:
        help_request = self.session.get(HelpRequest, assignment.help_request_id)
        kind = "taken" if self._taken(assignment) else "no_longer_open"
        self.say(kind, assignment=assignment, reference=help_request.reference)

    def _apply(self, assignment: Assignment, reply: str) -> None:
        try:
            outcome = answer_offer(
                self.session, assignment=assignment, reply=reply, operator_id=None, line=self.line
            )
        except (AssignmentError, IllegalTransition):
            self._no_longer_open(assignment)
            return
        help_request = self.session.get(HelpRequest, assignment.help_request_id)
        result = outcome.result
        if result == "unchanged":
            result = assignment.status
        if result == A.ACCEPTED:
            self.received.answers.append(
                _answer(
                    self.session,
                    self.volunteer,
                    self.line_id,
                    "details",
                    self.language,
                    self.line,
                    assignment=assignment,
                    body=details_text(self.volunteer, assignment, help_request, self.line),
                )
            )
        elif result in ANSWER_TEXTS:
            self.say(ANSWER_TEXTS[result], assignment=assignment, reference=help_request.reference)
        else:
            self._no_longer_open(assignment)


def reply_word(intent: Intent, language: str) -> str:
    """The word the texts teach for ``intent`` in ``language`` (JA, NEE, KLAAR...)."""
    yes, no = REPLY_WORDS.get(language, REPLY_WORDS["nl"])
    return {Intent.ACCEPT: yes, Intent.DECLINE: no, Intent.DONE: DONE_WORDS.get(language, yes)}[
        intent
    ]
