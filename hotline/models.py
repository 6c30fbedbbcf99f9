"""The database tables (SQLModel).

No table outside :class:`Contact` holds a phone number: a caller is a keyed
hash plus a pointer into the vault, where the number is encrypted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Field, SQLModel

# Named constraints, so that later migrations can alter them (SQLite's batch mode needs names).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current moment, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Stores UTC and always hands back timezone-aware datetimes, on SQLite too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use datetime.now(timezone.utc)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class RequestStatus(StrEnum):
    """Where a help request is in its life."""

    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DONE = "done"
    CANCELLED = "cancelled"


class Line(SQLModel, table=True):
    """A help line (tenant). Its settings live in config.toml; this row anchors its data."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    # The hotline's own public number (e.g. +3216272772), not a resident's.
    phone_number: str = Field(max_length=32)
    created_at: datetime = _when(default_factory=utcnow)


class Contact(SQLModel, table=True):
    """The contact vault: one resident's phone number, encrypted, found by its keyed hash."""

    id: int | None = Field(default=None, primary_key=True)
    caller_hash: str = Field(max_length=64, unique=True, index=True)
    encrypted_number: str = Field(sa_type=sa.Text)
    created_at: datetime = _when(default_factory=utcnow)
    last_seen_at: datetime = _when(default_factory=utcnow)


# A request's place in the operators' queue, kept by the database itself (a generated
# column, so that no writer can forget it): what an operator must act on before what is in
# hand (#11), closed requests after every open one; urgent ones first in each group.
# With created_at and id it is the queue's order, which an index then serves (#15).
# 0/1: stuck, urgent/not (no volunteer found; an offer fell through and the request is
# back at triaged; accepted, never reported done) · 2/3: to do (new, triaged) ·
# 4/5: in hand (offered, accepted) · 6/7: closed.
QUEUE_RANK_SQL = (
    "(CASE WHEN status NOT IN ('new', 'triaged', 'assigned', 'accepted') THEN 6"
    " WHEN no_volunteer_at IS NOT NULL OR follow_up_at IS NOT NULL"
    " OR (status = 'triaged' AND assigned_at IS NOT NULL) THEN 0"
    " WHEN status IN ('new', 'triaged') THEN 2 ELSE 4 END)"
    " + (CASE WHEN urgency = 'today' THEN 0 ELSE 1 END)"
)
IN_HAND_QUEUE_RANK = 4  # ranks below it need an operator's action (stuck, to do)
CLOSED_QUEUE_RANK = 6  # ranks below it are open requests


class HelpRequest(SQLModel, table=True):
    """An anonymised request for help, as operators see it."""

    __tablename__ = "help_request"
    __table_args__ = (
        sa.UniqueConstraint("line_id", "reference", name="uq_help_request_reference"),
        # The queue in its order: all lines, one line, one status, call-backs (oldest first).
        sa.Index("ix_help_request_queue", "queue_rank", "created_at", "id"),
        sa.Index("ix_help_request_line_queue", "line_id", "queue_rank", "created_at", "id"),
        sa.Index("ix_help_request_status_queue", "status", "queue_rank", "created_at", "id"),
        sa.Index("ix_help_request_source_queue", "source", "created_at", "id"),
        # Every call's first webhook asks whether the caller has a request in hand. With
        # one-column indexes SQLite took line_id's and read the whole line (33 ms at 100k).
        sa.Index("ix_help_request_caller_line_status", "caller_hash", "line_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    reference: str = Field(max_length=6)
    source: str = Field(default="ivr", max_length=16)  # ivr | live | callback
    status: str = Field(default=RequestStatus.NEW, max_length=16, index=True)
    language: str | None = Field(default=None, max_length=8)
    category: str | None = Field(default=None, max_length=32)
    postcode: str | None = Field(default=None, max_length=8)
    urgency: str | None = Field(default=None, max_length=16)
    message: str = Field(default="", sa_type=sa.Text)
    transcript: str | None = Field(default=None, sa_type=sa.Text)
    recording_sid: str | None = Field(default=None, max_length=64)
    notes: str = Field(default="", sa_type=sa.Text)
    caller_hash: str | None = Field(default=None, max_length=64, index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    # One request per call at most: Twilio's retries must not create a second one.
    call_sid: str | None = Field(default=None, max_length=64, unique=True)
    duplicate_of_id: int | None = Field(default=None, foreign_key="help_request.id")
    cancel_reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _when(default_factory=utcnow, index=True)
    updated_at: datetime = _when(default_factory=utcnow)
    announced_at: datetime | None = _when(default=None)
    assigned_at: datetime | None = _when(default=None)  # first assignment: time-to-assign figures
    # Offers ran out (every suggested volunteer asked, or the line's limit reached): the
    # request is back at the top of the queue, marked "no volunteer found", until assigned.
    no_volunteer_at: datetime | None = _when(default=None, index=True)
    # The volunteer accepted but never reported done, even after a reminder: operators follow up.
    follow_up_at: datetime | None = _when(default=None, index=True)
    # Its personal parts (contact, caller hash, message, transcript, recording, SMS bodies)
    # were removed (hotline.retention); the row stays for the statistics. A recording_sid
    # still set here is one whose deletion at the provider failed: the next purge retries.
    purged_at: datetime | None = _when(default=None, index=True)
    # A coordinator used "forget this resident" (set together with purged_at).
    forgotten_at: datetime | None = _when(default=None)
    # Computed by the database from status, urgency, no_volunteer_at, follow_up_at and
    # assigned_at (QUEUE_RANK_SQL): never set it; it is read after a write like any server
    # default.
    queue_rank: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.Computed(QUEUE_RANK_SQL, persisted=True)),
    )


class VolunteerLead(SQLModel, table=True):
    """Someone who phoned to offer help: a recorded name and area for coordinators to follow up."""

    __tablename__ = "volunteer_lead"

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    language: str | None = Field(default=None, max_length=8)
    recording_sid: str | None = Field(default=None, max_length=64)
    transcript: str | None = Field(default=None, sa_type=sa.Text)
    caller_hash: str | None = Field(default=None, max_length=64, index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    call_sid: str | None = Field(default=None, max_length=64, unique=True)
    status: str = Field(default="new", max_length=16)  # new | contacted | registered | dropped
    created_at: datetime = _when(default_factory=utcnow)
    purged_at: datetime | None = _when(default=None)  # recording, transcript, contact removed


class CallSession(SQLModel, table=True):
    """One phone call's place in the IVR, so that any web worker can serve its next step."""

    __tablename__ = "call_session"

    id: int | None = Field(default=None, primary_key=True)
    call_sid: str = Field(max_length=64, unique=True, index=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    state: dict = Field(default_factory=dict, sa_type=JSON)
    step: int = 0
    # The TwiML answered for the current step, replayed verbatim when Twilio retries it.
    last_response: str = Field(default="", sa_type=sa.Text)
    help_request_id: int | None = Field(default=None, foreign_key="help_request.id", index=True)
    started_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    ended_at: datetime | None = _when(default=None)
    end_status: str | None = Field(default=None, max_length=32)
    last_node: str | None = Field(default=None, max_length=64)
    # An operator's phone answered the call (matched by the keyed hash of that phone):
    # their call-centre page shows a live card until the call is logged or dismissed.
    answered_by_id: int | None = Field(default=None, foreign_key="operator.id", index=True)
    answered_at: datetime | None = _when(default=None)
    # "call taken, not logged" that the operator chose to drop (e.g. a wrong number)
    dismissed_at: datetime | None = _when(default=None)
    # The person dialled for a masked call accepted it (pressed 1 on hearing who calls);
    # reset whenever the call dials someone anew.
    bridged_at: datetime | None = _when(default=None)
    purged_at: datetime | None = _when(default=None)  # state, TwiML and contact removed


class OutboxMessage(SQLModel, table=True):
    """Work to be queued, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    queue: str = Field(max_length=32)
    job: str = Field(max_length=128)  # dotted path of the rq job function
    # Ids only, never personal data: job arguments end up in Redis and in worker logs.
    payload: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _when(default_factory=utcnow)
    enqueued_at: datetime | None = _when(default=None, index=True)
    # A timer (an offer that expires, a check-in): queued on rq to run at this moment.
    run_at: datetime | None = _when(default=None)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    # The job ran to the end (rq's on_success). Queued work that never gets here, because
    # Redis lost it, is queued again by the relay's sweep (hotline.outbox.requeue_lost).
    completed_at: datetime | None = _when(default=None, index=True)


class Operator(SQLModel, table=True):
    """A member of city staff who logs in: an operator, or a coordinator who manages accounts."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="operator", max_length=16)  # operator | coordinator
    locale: str = Field(default="nl", max_length=8)
    # Slugs of the lines whose requests and volunteers this account works on; empty: all.
    lines: list = Field(default_factory=list, sa_type=JSON)
    # The operator's own phone, for "call back" bridging; in the vault like every number.
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    # The call-back this operator's phone is being rung for, claimed before Twilio is asked:
    # two clicks (two web processes) never ring the phone twice.
    call_back_request_id: int | None = None
    call_back_at: datetime | None = _when(default=None)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=utcnow)
    last_login_at: datetime | None = _when(default=None)


class ApiToken(SQLModel, table=True):
    """A token for the JSON API; only its hash is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    operator_id: int = Field(foreign_key="operator.id")
    created_at: datetime = _when(default_factory=utcnow)
    last_used_at: datetime | None = _when(default=None)
    revoked_at: datetime | None = _when(default=None)


class StaffSession(SQLModel, table=True):
    """One login of a staff member in one browser; the cookie holds a secret, we its hash.

    Logging out ends this one; a password change, deactivation and "log out everywhere" end
    all of the account's; idleness and age end it by themselves (README, "Sessions").
    """

    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    created_at: datetime = _when(default_factory=utcnow)
    last_seen_at: datetime = _when(default_factory=utcnow)
    ended_at: datetime | None = _when(default=None)
    # logout | logout_everywhere | password_changed | deactivated | idle | expired
    ended_reason: str | None = Field(default=None, max_length=32)


class Volunteer(SQLModel, table=True):
    """Someone who helps residents; the mobile number lives in the vault."""

    __table_args__ = (
        # Suggestions read a line's volunteers alphabetically, by postcode or all of them,
        # a few at a time (hotline.suggestions); the operator's search too.
        sa.Index("ix_volunteer_line_postcode_name", "line_id", "postcode", "name", "id"),
        sa.Index("ix_volunteer_line_name", "line_id", "name", "id"),
        # Is the caller one of the line's volunteers? (every call's first webhook)
        sa.Index("ix_volunteer_contact_line", "contact_id", "line_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    name: str = Field(max_length=120)
    # Indexed: every call's first webhook asks whether the caller is a volunteer.
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    postcode: str = Field(max_length=8, index=True)
    languages: list = Field(default_factory=list, sa_type=JSON)  # ["nl", "en"]
    skills: list = Field(default_factory=list, sa_type=JSON)  # request categories
    # {"mon": ["09:00-12:00", "14:00-18:00"], ...}; an empty dict: any time
    availability: dict = Field(default_factory=dict, sa_type=JSON)
    has_car: bool = False
    safety_accepted_at: datetime | None = _when(default=None)
    insurance_registered_at: datetime | None = _when(default=None)
    # Texted STOP (or Twilio reported them unsubscribed): no SMS at all until they text START.
    sms_opted_out_at: datetime | None = _when(default=None)
    active: bool = True
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    # Left long ago: name and contact removed (hotline.retention); assignments stay, anonymous.
    purged_at: datetime | None = _when(default=None)


class Assignment(SQLModel, table=True):
    """A volunteer asked to help with one request; answered by SMS (JA/NEE/KLAAR + code)."""

    id: int | None = Field(default=None, primary_key=True)
    help_request_id: int = Field(foreign_key="help_request.id", index=True)
    volunteer_id: int = Field(foreign_key="volunteer.id", index=True)
    code: str = Field(max_length=8)  # the 4 digits volunteers reply with: "JA 4821"
    # offered -> accepted | declined | expired | undelivered | cancelled (withdrawn);
    # accepted -> done | given_back (hotline.dispatch.AssignmentStatus)
    status: str = Field(default="offered", max_length=16, index=True)
    assigned_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = _when(default_factory=utcnow)
    responded_at: datetime | None = _when(default=None)
    expires_at: datetime | None = _when(default=None)  # an unanswered offer moves on then
    reminded_at: datetime | None = _when(default=None)  # accepted, no KLAAR: reminder sent


class SmsMessage(SQLModel, table=True):
    """One SMS to or from a volunteer: the conversation operators read, and its delivery.

    The body is stored with phone numbers redacted; the number it went to or came
    from is never stored here (it is the volunteer's, in the vault).
    """

    __tablename__ = "sms_message"

    id: int | None = Field(default=None, primary_key=True)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    volunteer_id: int | None = Field(default=None, foreign_key="volunteer.id", index=True)
    help_request_id: int | None = Field(default=None, foreign_key="help_request.id", index=True)
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id", index=True)
    # A text to someone signing up (their confirmation code): no volunteer yet (#13).
    application_id: int | None = Field(
        default=None, foreign_key="volunteer_application.id", index=True
    )
    direction: str = Field(max_length=3)  # in | out
    # out: offer, details, taken, declined, given_back, thanks, reminder, how_to, ...; in: reply
    kind: str = Field(max_length=24)
    body: str = Field(default="", sa_type=sa.Text)
    # Twilio's id ("SM..."); a retried inbound webhook carries the same one.
    message_sid: str | None = Field(default=None, max_length=64, unique=True)
    # out: pending -> submitting -> queued / sent / delivered | undelivered / failed | not_sent;
    # in: received. "submitting": handed to the provider at submitted_at, answer not yet known.
    status: str = Field(default="pending", max_length=16)
    submitted_at: datetime | None = _when(default=None)
    error_code: int | None = None
    # in: the TwiML answered, replayed verbatim when Twilio retries the webhook
    response: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _when(default_factory=utcnow, index=True)
    updated_at: datetime = _when(default_factory=utcnow)


class BlockedCaller(SQLModel, table=True):
    """A caller a coordinator blocked on a line: their calls hear one sentence, their SMS are
    ignored. Known only by the keyed hash of their number (hotline.abuse.blocking)."""

    __tablename__ = "blocked_caller"
    __table_args__ = (
        sa.UniqueConstraint("line_id", "caller_hash", name="uq_blocked_caller_line_caller"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    caller_hash: str = Field(max_length=64, index=True)
    reason: str = Field(default="", sa_type=sa.Text)  # phone numbers redacted
    # The request it was blocked from (its reference stays if the request goes).
    help_request_id: int | None = Field(default=None, foreign_key="help_request.id")
    reference: str = Field(default="", max_length=6)
    blocked_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = _when(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Who changed what, when: every operator action on a request or volunteer."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    help_request_id: int | None = Field(default=None, foreign_key="help_request.id", index=True)
    volunteer_id: int | None = Field(default=None, foreign_key="volunteer.id", index=True)
    operator_id: int | None = Field(default=None, foreign_key="operator.id")
    action: str = Field(max_length=48)  # e.g. "triaged", "status:assigned", "note"
    # What changed, e.g. {"category": ["groceries", "meal"]}; never a phone number.
    detail: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _when(default_factory=utcnow, index=True)


class PurgeRun(SQLModel, table=True):
    """One line's daily purge (hotline.retention): at most one per local day, whichever
    worker schedules it first; what it removed, in counts only."""

    __tablename__ = "purge_run"
    __table_args__ = (sa.UniqueConstraint("line_id", "day", name="uq_purge_run_day"),)

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    day: date  # the line's local date
    scheduled_at: datetime = _when(default_factory=utcnow)
    finished_at: datetime | None = _when(default=None)
    removed: dict = Field(default_factory=dict, sa_type=JSON)
    # The run goes in steps (rq jobs); each is claimed by one delivery until claimed_until,
    # so a second delivery of the same job does nothing (hotline.retention.daily).
    step: int = 0
    claim: str | None = Field(default=None, max_length=32)
    claimed_until: datetime | None = _when(default=None)


class OperatorWait(SQLModel, table=True):
    """A caller waiting in the line's queue for an operator (hotline.voice.operator_queue).

    One per time the caller reached the operators (the call's step then); ids and
    statuses only, never a number.
    """

    __tablename__ = "operator_wait"
    __table_args__ = (
        sa.UniqueConstraint("call_session_id", "step", name="uq_operator_wait_call_step"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_session_id: int = Field(foreign_key="call_session.id", index=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    step: int  # the call's step whose answer put the caller in the queue
    status: str = Field(default="waiting", max_length=16, index=True)  # waiting|bridged|left
    enqueued_at: datetime = _when(default_factory=utcnow)
    ended_at: datetime | None = _when(default=None)
    turns: int = 0  # wait sentences said so far (which one comes next)
    # The operator leg that was told about this caller (its whisper), and the one that
    # was put through to them (Twilio's DequeingCallSid): the same but in a race.
    claimed_by_ring_id: int | None = None
    bridged_ring_id: int | None = None


class OperatorRing(SQLModel, table=True):
    """One operator's phone rung (by REST) for a waiting caller: its own call leg."""

    __tablename__ = "operator_ring"
    __table_args__ = (
        sa.UniqueConstraint("wait_id", "operator_index", name="uq_operator_ring_phone"),
    )

    id: int | None = Field(default=None, primary_key=True)
    wait_id: int = Field(foreign_key="operator_wait.id", index=True)
    # The phone's place in the line's operator_numbers: the number itself stays in config.
    operator_index: int
    call_sid: str | None = Field(default=None, max_length=64, unique=True, index=True)
    # pending -> placing -> ringing -> answered | canceled | ended; canceled before placing
    status: str = Field(default="pending", max_length=16, index=True)
    created_at: datetime = _when(default_factory=utcnow)
    placed_at: datetime | None = _when(default=None)
    answered_at: datetime | None = _when(default=None)
    ended_at: datetime | None = _when(default=None)
    operator_id: int | None = Field(default=None, foreign_key="operator.id", index=True)


class VolunteerApplication(SQLModel, table=True):
    """Someone who signed up on the line's public page, waiting for a coordinator (#13).

    The mobile number is in the vault (``contact_id``); ``caller_hash`` (the vault's keyed
    hash) lets a number sign up once per line. Of the SMS code only a keyed hash is kept.
    pending_code -> waiting (number confirmed, instructions accepted) -> approved | rejected.
    """

    __tablename__ = "volunteer_application"
    __table_args__ = (
        sa.UniqueConstraint("line_id", "caller_hash", name="uq_volunteer_application_caller"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    status: str = Field(default="pending_code", max_length=16, index=True)
    name: str = Field(max_length=120)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    caller_hash: str = Field(max_length=64)
    postcode: str = Field(max_length=8)
    language: str = Field(default="nl", max_length=8)  # the page's language: the SMS's too
    languages: list = Field(default_factory=list, sa_type=JSON)
    skills: list = Field(default_factory=list, sa_type=JSON)
    availability: dict = Field(default_factory=dict, sa_type=JSON)  # empty: any time
    has_car: bool = False
    # The version of the safety instructions accepted (front matter and text hash), and when.
    safety_version: str = Field(default="", max_length=80)
    safety_accepted_at: datetime | None = _when(default=None)
    insurance_read_at: datetime | None = _when(default=None)
    insurance_registered_at: datetime | None = _when(default=None)  # "I am registered"
    # The SMS code: a keyed hash, when it stops working, tries and sends so far.
    code_hash: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = _when(default=None)
    code_attempts: int = 0
    codes_sent: int = 0
    confirmed_at: datetime | None = _when(default=None)
    volunteer_id: int | None = Field(default=None, foreign_key="volunteer.id")
    decided_by_id: int | None = Field(default=None, foreign_key="operator.id")
    decided_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=utcnow, index=True)
    updated_at: datetime = _when(default_factory=utcnow)
