"""Operators' work on help requests: the live queue, triage, notes, duplicates, cancelling,
and logging a call taken by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.config import LineSettings, Secrets, normalise_number
from hotline.dispatch import cancel_open_assignments
from hotline.intake import create_help_request
from hotline.lifecycle import change_status
from hotline.models import (
    CLOSED_QUEUE_RANK,
    IN_HAND_QUEUE_RANK,
    Assignment,
    HelpRequest,
    Line,
    RequestStatus,
    utcnow,
)
from hotline.privacy import redact_personal_details, store_contact
from hotline.vocabulary import CATEGORIES, LANGUAGES, N_, URGENCIES
from hotline.volunteers import TranslatableError

TRIAGE_FIELDS = ("category", "postcode", "urgency", "language", "notes")


class TriageError(TranslatableError):
    """A triage request that cannot be carried out (the message says why, in English with
    placeholders; the call centre shows it in the operator's language)."""


# What to choose again when a form sends a value outside the vocabulary (a forged form).
CHOOSE_FROM_THE_LIST = {
    "category": N_("Choose what is needed from the list."),
    "urgency": N_("Choose the urgency from the list."),
    "language": N_("Choose the language from the list."),
}


@dataclass(frozen=True)
class QueueRow:
    """One line of the operators' queue: the request and what is worth knowing at a glance."""

    help_request: HelpRequest
    age: timedelta
    has_message: bool
    called_before: bool  # the same caller (keyed hash) made an earlier request
    # What the request waits for (stuck: no_volunteer_found, offer_fell_through,
    # needs_follow_up; to do: to_triage, to_assign; in hand: offered, accepted; or its
    # closed status: QUEUE_RANK_SQL's groups, one by one) and for how long: the resident's
    # wait while nobody helps yet, else the time since the offer, the acceptance or the close.
    state: str = "to_triage"
    waited: timedelta = timedelta(0)

    @property
    def needs_action(self) -> bool:
        """Whether an operator must do something now (not in hand, not closed): the
        database's queue_rank, which orders the page, also says under which heading."""
        rank = self.help_request.queue_rank
        return rank is not None and rank < IN_HAND_QUEUE_RANK


@dataclass(frozen=True)
class QueueFilters:
    """What an operator narrows the queue to; None means any."""

    status: str | None = None
    category: str | None = None
    postcode: str | None = None
    language: str | None = None
    source: str | None = None


QUEUE_PAGE_SIZE = 50  # rows per page of the queue: what an operator reads before acting
QUEUE_COUNTED = 1000  # the queue counts this many at most: "more than 1,000 requests"


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: its rows, how many requests match, and where the next page starts."""

    rows: list[QueueRow]
    # How many requests match, on all pages, counted up to QUEUE_COUNTED ("more than" after
    # that); None when filtered by category, postcode or language, which no index serves:
    # counting those would read every open request.
    total: int | None
    more_than_total: bool
    next_after: int | None  # the id to pass as ``after`` for the next page; None: last page


def list_queue(
    session: Session,
    *,
    filters: QueueFilters,
    visible: Any = None,
    now: datetime | None = None,
    limit: int = QUEUE_PAGE_SIZE,
    after: int | None = None,
) -> QueuePage:
    """A page of the requests the account sees (``visible``: the access policy's
    ``request_filter``; None: every line), open ones unless ``filters.status`` says
    otherwise: what an operator must act on before what is in hand (stuck ones first: no
    volunteer found, an offer that fell through, a volunteer who never reported done; then
    new and triaged ones; then offered and accepted), urgent ones first in each, then the
    oldest; call-backs strictly oldest first. ``after``: the last request of the page
    before (keyset pagination).

    The order is the generated column ``queue_rank`` with ``created_at`` and ``id``, which
    the queue's indexes hold in that order: a page reads its own rows, not every open one.
    """
    now = now or utcnow()
    conditions = [] if visible is None else [visible]
    if filters.status:
        conditions.append(HelpRequest.status == filters.status)
    else:  # open: the ranks below CLOSED_QUEUE_RANK (an index range, unlike status IN ...)
        conditions.append(col(HelpRequest.queue_rank) < CLOSED_QUEUE_RANK)
    for field in ("category", "postcode", "language", "source"):
        value = getattr(filters, field)
        if value:
            conditions.append(getattr(HelpRequest, field) == value)
    if filters.source == "callback":  # call-backs: strictly oldest first
        order = (col(HelpRequest.created_at), col(HelpRequest.id))
    else:
        order = (col(HelpRequest.queue_rank), col(HelpRequest.created_at), col(HelpRequest.id))
    query = select(HelpRequest).where(*conditions)
    if after is not None:
        last = session.exec(select(*order).where(HelpRequest.id == after)).first()
        if last is not None:
            query = query.where(sa.tuple_(*order) > sa.tuple_(*last))
    requests = list(session.exec(query.order_by(*order).limit(limit + 1)))
    more, requests = len(requests) > limit, requests[:limit]
    total = None
    if not (filters.category or filters.postcode or filters.language):
        # Bounded: an exact count of 36,000 open requests costs PostgreSQL a table scan.
        counted = select(HelpRequest.id).where(*conditions).limit(QUEUE_COUNTED + 1).subquery()
        total = session.exec(select(sa.func.count()).select_from(counted)).one()
    repeat_callers = _repeat_callers(session, requests)
    offered, accepted = _offer_times(session, requests)
    rows = []
    for help_request in requests:
        state, since = _queue_state(help_request, offered, accepted)
        rows.append(
            QueueRow(
                help_request=help_request,
                age=now - help_request.created_at,
                has_message=bool(help_request.recording_sid or help_request.message),
                called_before=help_request.id in repeat_callers,
                state=state,
                waited=max(now - since, timedelta(0)),
            )
        )
    return QueuePage(
        rows=rows,
        total=None if total is None else min(total, QUEUE_COUNTED),
        more_than_total=total is not None and total > QUEUE_COUNTED,
        next_after=requests[-1].id if more else None,
    )


def _queue_state(
    help_request: HelpRequest, offered: dict[int, datetime], accepted: dict[int, datetime]
) -> tuple[str, datetime]:
    """What ``help_request`` waits for, and since when (see QueueRow.state)."""
    status, since = help_request.status, help_request.created_at
    if status in (RequestStatus.DONE, RequestStatus.CANCELLED):
        return status, help_request.updated_at  # closed ones change no more after that
    if help_request.no_volunteer_at is not None:
        return "no_volunteer_found", since
    if status == RequestStatus.ACCEPTED:
        since = accepted.get(help_request.id) or help_request.updated_at
        return ("needs_follow_up" if help_request.follow_up_at else "accepted"), since
    if status == RequestStatus.ASSIGNED:
        return "offered", offered.get(help_request.id) or help_request.assigned_at or since
    if status == RequestStatus.TRIAGED:
        return ("offer_fell_through" if help_request.assigned_at else "to_assign"), since
    return "to_triage", since


def _offer_times(
    session: Session, requests: list[HelpRequest]
) -> tuple[dict[int, datetime], dict[int, datetime]]:
    """For the page's requests in hand: when the newest open offer went out, and when the
    volunteer accepted ({request id: time}); one query for the page."""
    ids = [r.id for r in requests if r.status in (RequestStatus.ASSIGNED, RequestStatus.ACCEPTED)]
    offered: dict[int, datetime] = {}
    accepted: dict[int, datetime] = {}
    if not ids:
        return offered, accepted
    for request_id, status, created_at, responded_at in session.exec(
        select(
            Assignment.help_request_id,
            Assignment.status,
            Assignment.created_at,
            Assignment.responded_at,
        ).where(
            col(Assignment.help_request_id).in_(ids),
            col(Assignment.status).in_(("offered", "accepted")),
        )
    ):
        if status == "offered":
            offered[request_id] = max(created_at, offered.get(request_id, created_at))
        elif responded_at is not None:
            accepted[request_id] = responded_at
    return offered, accepted


def _repeat_callers(session: Session, requests: list[HelpRequest]) -> set[int]:
    """Ids of the requests whose caller had made an earlier request (by keyed hash)."""
    hashes = {r.caller_hash for r in requests if r.caller_hash}
    if not hashes:
        return set()
    first_seen = dict(
        session.exec(
            select(HelpRequest.caller_hash, sa.func.min(HelpRequest.created_at))
            .where(col(HelpRequest.caller_hash).in_(hashes))
            .group_by(HelpRequest.caller_hash)
        ).all()
    )
    return {
        r.id for r in requests if r.caller_hash and first_seen.get(r.caller_hash) < r.created_at
    }


def callers_earlier_requests(
    session: Session, help_request: HelpRequest, *, visible: Any = None
) -> list[HelpRequest]:
    """The same caller's other requests (by keyed hash), newest first; ``visible``: the
    access policy's ``request_filter`` (None: every line's)."""
    if not help_request.caller_hash:
        return []
    query = select(HelpRequest).where(
        HelpRequest.caller_hash == help_request.caller_hash,
        HelpRequest.id != help_request.id,
    )
    if visible is not None:
        query = query.where(visible)
    return list(session.exec(query.order_by(col(HelpRequest.created_at).desc())))


def triage_request(
    session: Session,
    *,
    help_request: HelpRequest,
    operator_id: int,
    line: LineSettings,
    changes: dict[str, str | None],
) -> HelpRequest:
    """Correct category, area, urgency, language or notes (audited); new becomes triaged."""
    _require_open(help_request)
    cleaned = _validated(changes, line)
    diff = {
        field: [getattr(help_request, field), value]
        for field, value in cleaned.items()
        if getattr(help_request, field) != value
    }
    for field, (_old, new) in diff.items():
        setattr(help_request, field, new)
    help_request.updated_at = utcnow()
    session.add(help_request)
    if diff:
        record(session, "triaged", operator_id=operator_id, help_request_id=help_request.id, **diff)
    if help_request.status == RequestStatus.NEW:
        change_status(session, help_request, RequestStatus.TRIAGED, operator_id=operator_id)
    session.commit()
    return help_request


def _validated(changes: dict[str, str | None], line: LineSettings) -> dict[str, str | None]:
    cleaned: dict[str, str | None] = {}
    for field, value in changes.items():
        if field not in TRIAGE_FIELDS:
            raise TriageError(N_("%(field)s cannot be corrected here."), field=field)
        value = (value or "").strip() or None
        allowed = {"category": CATEGORIES, "urgency": URGENCIES, "language": LANGUAGES}.get(field)
        if value is not None and allowed and value not in allowed:
            raise TriageError(CHOOSE_FROM_THE_LIST[field], field=field)
        if field == "postcode" and value is not None and value not in line.postcodes:
            raise TriageError(
                N_("Postcode %(postcode)s is not served by %(line)s."),
                field="postcode",
                postcode=value,
                line=line.name,
            )
        # A number typed into the notes belongs in the vault, not in notes and the audit log.
        cleaned[field] = value if field != "notes" else redact_personal_details(value or "")
    return cleaned


def mark_duplicate(
    session: Session, *, help_request: HelpRequest, original_reference: str, operator_id: int
) -> HelpRequest:
    """Close a request as a duplicate of another one on the same line (by reference)."""
    original = session.exec(
        select(HelpRequest).where(
            HelpRequest.line_id == help_request.line_id,
            HelpRequest.reference == original_reference.strip(),
        )
    ).first()
    if original is None:
        raise TriageError(
            N_("No request of this line has the reference %(reference)s."),
            field="original_reference",
            reference=original_reference.strip(),
        )
    if original.id == help_request.id:
        raise TriageError(
            N_("A request cannot be a duplicate of itself."), field="original_reference"
        )
    help_request.duplicate_of_id = original.id
    _close(session, help_request, f"duplicate of {original.reference}", operator_id)
    record(
        session,
        "duplicate",
        operator_id=operator_id,
        help_request_id=help_request.id,
        of=original.reference,
    )
    session.commit()
    return help_request


def cancel_request(
    session: Session, *, help_request: HelpRequest, reason: str, operator_id: int
) -> HelpRequest:
    """Cancel a request; a reason is required so that nobody wonders later."""
    if not reason.strip():
        raise TriageError(N_("Say why the request is cancelled."), field="reason")
    _close(session, help_request, redact_personal_details(reason.strip()), operator_id)
    session.commit()
    return help_request


def _close(session: Session, help_request: HelpRequest, reason: str, operator_id: int) -> None:
    """Cancel an open request; volunteers waiting on an offer for it must not keep waiting."""
    _require_open(help_request)
    cancel_open_assignments(
        session, help_request=help_request, operator_id=operator_id, reason="request cancelled"
    )
    change_status(
        session, help_request, RequestStatus.CANCELLED, operator_id=operator_id, reason=reason
    )


def _require_open(help_request: HelpRequest) -> None:
    if help_request.status == RequestStatus.DONE:
        raise TriageError(N_("The request is done already: nothing can change it."))
    if help_request.status == RequestStatus.CANCELLED:
        raise TriageError(N_("The request is cancelled already: nothing can change it."))


def log_live_call(
    session: Session,
    *,
    line: LineSettings,
    line_row: Line,
    secrets: Secrets,
    operator_id: int,
    phone_number: str,
    language: str,
    category: str,
    postcode: str,
    urgency: str,
    message: str,
) -> HelpRequest:
    """A call an operator took by hand becomes a request like any other.

    The number typed by the operator goes straight into the vault; the request
    only points at it.
    """
    number = normalise_number(phone_number, line.country)
    if number is None:
        raise TriageError(N_("This is not a valid phone number."), field="phone_number")
    fields = _validated(
        {"language": language, "category": category, "postcode": postcode, "urgency": urgency},
        line,
    )
    if not all(fields.values()):
        raise TriageError(N_("Choose the language, what is needed, the postcode and the urgency."))
    contact = store_contact(session, secrets, number)
    help_request = create_help_request(
        session,
        line=line_row,
        contact=contact,
        source="live",
        message=redact_personal_details(message.strip()),
        **fields,
    )
    record(session, "logged_live_call", operator_id=operator_id, help_request_id=help_request.id)
    change_status(session, help_request, RequestStatus.TRIAGED, operator_id=operator_id)
    session.commit()
    return help_request
