"""The access policy: what an account (or an API token acting as it) may see and do.

This module is the one place that decides. Everything else asks it:

- **Who** asks is a :class:`Principal`, built once per request from the account
  (:func:`principal_for`): its id, its role and the lines it works on (``None``: every
  line). The command line acts as :data:`SYSTEM`, the installation's administrator.
- **Which rows** it sees: the ``*_filter`` functions return ``where`` clauses for
  requests, volunteers, leads, assignments, calls, texts, tokens, accounts and audit
  events. Lists are built with them, so another line's rows never load.
- **What it may do**: the ``check_*`` functions return the thing asked for, or raise
  :class:`NotVisible` (another line's thing, or none at all: answered as "not found", so
  that ids of other towns reveal nothing) or :class:`NotAllowed` (seen, but this role may
  not do it: "forbidden").

The rules, in words:

- Operators and coordinators work on the requests, volunteers, calls and recordings of
  their own lines; an account with no lines works on every line.
- Only coordinators follow up volunteer leads, approve volunteers who signed up, manage
  accounts and read other accounts' tokens and the audit log; they manage only accounts
  whose lines are all their own (an account of every line only when they have every line
  themselves), and they cannot give lines they do not have.
- Everyone manages their own API tokens; a token acts exactly as its account.
- A visitor of a line's public pages (no login) is :func:`public_visitor` of that line
  alone: it gets counts of that line's requests (``hotline.public.needs``), never a row.

No Flask and no HTML here: the web layer turns the two denials into 404 and 403.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.models import (
    ApiToken,
    Assignment,
    AuditEvent,
    BlockedCaller,
    CallSession,
    HelpRequest,
    Line,
    Operator,
    Volunteer,
    VolunteerApplication,
    VolunteerLead,
)

OPERATOR, COORDINATOR, ADMINISTRATOR = "operator", "coordinator", "system"
PUBLIC = "public"  # a visitor of one line's public page: counts only


class AccessDenied(Exception):
    """The principal may not have this; ``status`` is the HTTP answer the web layer gives."""

    status = 403


class NotVisible(AccessDenied):
    """Another line's thing, or no thing at all: both are answered as "not found"."""

    status = 404


class NotAllowed(AccessDenied):
    """The thing is visible, but the principal's role may not do this with it."""

    status = 403


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account (or a token acting as it), or the system itself.

    ``line_ids`` are the row ids of the lines it works on and ``line_slugs`` their
    slugs; both are None for "every line". An account limited to lines that are not
    configured any more has empty sets: it sees nothing, rather than everything.
    """

    id: int | None
    role: str
    line_ids: frozenset[int] | None
    line_slugs: frozenset[str] | None

    @property
    def all_lines(self) -> bool:
        """Whether it works on every line (now and any line added later)."""
        return self.line_ids is None

    @property
    def is_coordinator(self) -> bool:
        """Coordinators (and the system) manage accounts, leads and the audit log."""
        return self.role in (COORDINATOR, ADMINISTRATOR)

    def sees_line(self, line_id: int | None) -> bool:
        """Whether it works on the line with row id ``line_id``."""
        return self.line_ids is None or line_id in self.line_ids

    def has_line_slugs(self, slugs: Collection[str]) -> bool:
        """Whether every line in ``slugs`` is one of its own (empty ``slugs``: every line)."""
        if self.line_slugs is None:
            return True
        return bool(slugs) and set(slugs) <= self.line_slugs


# The command line: whoever runs `hotline ...` on the server administers the installation.
SYSTEM = Principal(id=None, role=ADMINISTRATOR, line_ids=None, line_slugs=None)


def public_visitor(line_id: int, slug: str) -> Principal:
    """Whoever opens line ``slug``'s public page: that line alone, no account, no role."""
    return Principal(
        id=None, role=PUBLIC, line_ids=frozenset({line_id}), line_slugs=frozenset({slug})
    )


def principal_for(session: Session, operator: Operator) -> Principal:
    """The principal of a staff account (a logged-in session, or an API token of it)."""
    return principal_of(operator, line_ids_of(session, operator.lines))


def principal_of(operator: Operator, line_ids: Iterable[int] | None) -> Principal:
    """The principal of ``operator`` when its lines' row ids are already known."""
    if not operator.lines:
        return Principal(id=operator.id, role=operator.role, line_ids=None, line_slugs=None)
    return Principal(
        id=operator.id,
        role=operator.role,
        line_ids=frozenset(line_ids or ()),
        line_slugs=frozenset(operator.lines),
    )


def line_ids_of(session: Session, slugs: Collection[str]) -> frozenset[int] | None:
    """Row ids of the lines ``slugs`` (empty: every line, None)."""
    if not slugs:
        return None
    found = session.exec(select(Line.id).where(col(Line.slug).in_(list(slugs)))).all()
    return frozenset(line_id for line_id in found if line_id is not None)


# --- which rows: query filters -------------------------------------------------------------


def on_lines(principal: Principal, column: Any) -> Any:
    """``column`` (a line id column) is one of the principal's lines."""
    if principal.line_ids is None:
        return sa.true()
    return col(column).in_(sorted(principal.line_ids))


def request_filter(principal: Principal) -> Any:
    """The help requests the principal sees."""
    return on_lines(principal, HelpRequest.line_id)


def volunteer_filter(principal: Principal) -> Any:
    """The volunteers the principal sees."""
    return on_lines(principal, Volunteer.line_id)


def lead_filter(principal: Principal) -> Any:
    """The volunteer leads (people who phoned to offer help) the principal sees."""
    return on_lines(principal, VolunteerLead.line_id)


def application_filter(principal: Principal) -> Any:
    """The volunteer sign-ups (from the public page) the principal sees: its lines'."""
    return on_lines(principal, VolunteerApplication.line_id)


def blocked_caller_filter(principal: Principal) -> Any:
    """The blocked callers the principal sees (their lines' blocks)."""
    return on_lines(principal, BlockedCaller.line_id)


def number_use_filter(principal: Principal) -> Any:
    """The vault's audit entries the principal sees: the decryptions on its lines (their
    line is in the entry's detail); a principal of every line also sees key rotations."""
    if principal.all_lines:
        return sa.true()
    return col(AuditEvent.detail)["line"].as_integer().in_(principal.line_ids or [])


def assignment_filter(principal: Principal) -> Any:
    """The assignments the principal sees: those of the requests it sees."""
    if principal.all_lines:
        return sa.true()
    return col(Assignment.help_request_id).in_(
        select(HelpRequest.id).where(request_filter(principal))
    )


def account_filter(session: Session, principal: Principal) -> Any:
    """The staff accounts the principal sees: coordinators those they manage, others themselves."""
    if principal.role == ADMINISTRATOR:
        return sa.true()
    if not principal.is_coordinator:
        return Operator.id == principal.id
    return col(Operator.id).in_(managed_account_ids(session, principal))


def token_filter(session: Session, principal: Principal) -> Any:
    """The API tokens the principal sees: its own, and a coordinator's managed accounts'."""
    if principal.role == ADMINISTRATOR:
        return sa.true()
    if not principal.is_coordinator:
        return ApiToken.operator_id == principal.id
    return col(ApiToken.operator_id).in_(managed_account_ids(session, principal))


def audit_filter(session: Session, principal: Principal) -> Any:
    """The audit events the principal sees: those of its lines' requests and volunteers, and
    (coordinators) those about the accounts it manages."""
    if principal.all_lines and principal.is_coordinator:
        return sa.true()
    about_requests = col(AuditEvent.help_request_id).in_(
        select(HelpRequest.id).where(request_filter(principal))
    )
    about_volunteers = col(AuditEvent.volunteer_id).in_(
        select(Volunteer.id).where(volunteer_filter(principal))
    )
    about_accounts = sa.and_(
        col(AuditEvent.help_request_id).is_(None),
        col(AuditEvent.volunteer_id).is_(None),
        col(AuditEvent.operator_id).in_(
            managed_account_ids(session, principal) if principal.is_coordinator else []
        ),
    )
    return sa.or_(about_requests, about_volunteers, about_accounts)


def managed_account_ids(session: Session, principal: Principal) -> list[int]:
    """Ids of the accounts the principal manages (itself included)."""
    if not principal.is_coordinator:
        return [principal.id] if principal.id is not None else []
    return [
        operator_id
        for operator_id, lines in session.exec(select(Operator.id, Operator.lines)).all()
        if operator_id is not None
        and (operator_id == principal.id or principal.has_line_slugs(lines or []))
    ]


def statistics_lines(principal: Principal, line_id: int | None = None) -> Any:
    """The lines figures may count: ``line_id`` if the principal sees it (else NotVisible),
    otherwise all of its lines (None: every line)."""
    if line_id is not None:
        if not principal.sees_line(line_id):
            raise NotVisible("line", line_id)
        return line_id
    return principal.line_ids


# --- what it may do: checks ----------------------------------------------------------------


def check_line(principal: Principal, line_id: int | None) -> int | None:
    """A line the principal works on (to file a request or register a volunteer there)."""
    if line_id is None or not principal.sees_line(line_id):
        raise NotVisible("line", line_id)
    return line_id


def check_request(principal: Principal, help_request: HelpRequest | None) -> HelpRequest:
    """A request the principal may see, triage, assign, call back and change the status of."""
    if help_request is None or not principal.sees_line(help_request.line_id):
        raise NotVisible("request", getattr(help_request, "id", None))
    return help_request


# Every member of staff who sees a request moves it on (triage, cancel, done):
check_change_status = check_request
check_request_recording = check_request


def check_volunteer(principal: Principal, volunteer: Volunteer | None) -> Volunteer:
    """A volunteer the principal may see, edit and (de)activate (operators manage volunteers
    as much as coordinators, on their own lines)."""
    if volunteer is None or not principal.sees_line(volunteer.line_id):
        raise NotVisible("volunteer", getattr(volunteer, "id", None))
    return volunteer


check_manage_volunteer = check_volunteer


def check_assign(
    principal: Principal, help_request: HelpRequest | None, volunteer: Volunteer | None
) -> tuple[HelpRequest, Volunteer]:
    """A request and a volunteer of the principal's lines, to ask the one to help with the other."""
    return check_request(principal, help_request), check_volunteer(principal, volunteer)


def check_assignment(principal: Principal, assignment: Assignment | None, session: Session):
    """An assignment of a request the principal sees (to record a volunteer's answer)."""
    if assignment is None:
        raise NotVisible("assignment", None)
    check_request(principal, session.get(HelpRequest, assignment.help_request_id))
    return assignment


def check_lead(principal: Principal, lead: VolunteerLead | None) -> VolunteerLead:
    """A volunteer lead the principal may see and listen to."""
    if lead is None or not principal.sees_line(lead.line_id):
        raise NotVisible("lead", getattr(lead, "id", None))
    return lead


check_lead_recording = check_lead


def check_follow_up_lead(principal: Principal, lead: VolunteerLead | None) -> VolunteerLead:
    """A lead a coordinator notes the follow-up of (operators only listen)."""
    check_lead(principal, lead)
    if not principal.is_coordinator:
        raise NotAllowed("follow up leads")
    return lead  # type: ignore[return-value]


def check_application(
    principal: Principal, application: VolunteerApplication | None
) -> VolunteerApplication:
    """A sign-up of one of the principal's lines, which only its coordinators approve or reject."""
    if application is None or not principal.sees_line(application.line_id):
        raise NotVisible("application", getattr(application, "id", None))
    check_coordinator(principal)
    return application


def check_call(principal: Principal, call: CallSession | None) -> CallSession:
    """A call on one of the principal's lines that it answered, or that a shared phone of
    the line answered (to log or dismiss it)."""
    if (
        call is None
        or not principal.sees_line(call.line_id)
        or call.answered_by_id not in (None, principal.id)
    ):
        raise NotVisible("call", getattr(call, "id", None))
    return call


def check_blocked_caller(principal: Principal, blocked: BlockedCaller | None) -> BlockedCaller:
    """A block on one of the principal's lines, which only coordinators may lift."""
    if blocked is None or not principal.sees_line(blocked.line_id):
        raise NotVisible("blocked caller", blocked.id if blocked else None)
    check_coordinator(principal)
    return blocked


def check_coordinator(principal: Principal) -> Principal:
    """Coordinators only (accounts, leads' follow-up, everyone's tokens, the audit log)."""
    if not principal.is_coordinator:
        raise NotAllowed("coordinators only")
    return principal


def may_manage_account(principal: Principal, account: Operator) -> bool:
    """Whether the principal manages ``account``: a coordinator whose lines hold all of its."""
    if principal.role == ADMINISTRATOR:
        return True
    if not principal.is_coordinator:
        return False
    return account.id == principal.id or principal.has_line_slugs(account.lines or [])


def check_manage_account(principal: Principal, account: Operator | None) -> Operator:
    """An account the principal may see, edit, (de)activate and give tokens to."""
    check_coordinator(principal)
    if account is None or not may_manage_account(principal, account):
        raise NotVisible("account", getattr(account, "id", None))
    return account


def own_lines(principal: Principal, configured: Iterable[str]) -> list[str]:
    """The configured lines the principal works on, in configuration order (where it files
    requests and registers volunteers; what a coordinator may give an account)."""
    return [slug for slug in configured if principal.has_line_slugs([slug])]


grantable_lines = own_lines


def check_grant_lines(principal: Principal, slugs: Collection[str]) -> list[str]:
    """Lines the principal may give an account (empty: every line, only if it has every line)."""
    if not principal.is_coordinator:
        raise NotAllowed("coordinators only")
    if not slugs and not principal.all_lines:
        raise NotAllowed("only a coordinator of every line makes an account of every line")
    if slugs and not principal.has_line_slugs(slugs):
        raise NotAllowed("a coordinator gives only lines of their own")
    return sorted(set(slugs))


def check_token(principal: Principal, token: ApiToken | None, owner: Operator | None) -> ApiToken:
    """An API token the principal may see and revoke: its own, or (coordinators) a managed
    account's. Another line's account's token is not found; a colleague's is forbidden."""
    if token is None or owner is None:
        raise NotVisible("token", getattr(token, "id", None))
    if token.operator_id == principal.id or principal.role == ADMINISTRATOR:
        return token
    if not principal.has_line_slugs(owner.lines or []):
        raise NotVisible("token", token.id)
    if not may_manage_account(principal, owner):
        raise NotAllowed("someone else's token")
    return token


def check_read_audit(principal: Principal) -> Principal:
    """Reading the audit log (filtered with :func:`audit_filter`): coordinators only."""
    return check_coordinator(principal)
