"""The vault's audit for coordinators: every time the system decrypted a phone number, and why.

Newest first, a page at a time, limited to the coordinator's lines. No number is shown:
the audit never held one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from sqlmodel import Session, col, select

from callcenter_ui.auth import coordinator_required, current_principal
from hotline.access import policy
from hotline.db import get_session
from hotline.models import Assignment, AuditEvent, HelpRequest, Line, Operator, Volunteer
from hotline.privacy import REVEAL_REASONS, VAULT_ROTATED, vault_log

blueprint = Blueprint("audit_log", __name__, url_prefix="/audit")
PAGE_SIZE = 50
MAX_PAGE = 100_000  # far beyond any real log; a bigger page number is a 404, not a 500


def reason_words() -> dict[str, str]:
    """What the system decrypted a number for, in the reader's language."""
    return {
        "sms_to_volunteer": _("Texted the volunteer"),
        "sms_check": _("Checked whether an interrupted text to the volunteer went out"),
        "call_back": _("Rang the resident for an operator's call-back"),
        "operator_phone": _("Rang the operator's own phone for a call-back"),
        "masked_call": _("Put a call through without showing numbers"),
        "read_back": _("Read a keyed-in number back to the caller"),
    }


def job_words() -> dict[str, str]:
    """The background jobs that decrypt numbers, in the reader's language."""
    return {"send_sms": _("SMS job")}


@dataclass(frozen=True)
class Entry:
    """One line of the page: what happened, and to whom it relates (never a number)."""

    when: datetime
    what: str
    line: str
    help_request: HelpRequest | None
    volunteer: Volunteer | None
    assignment_code: str | None
    by: str
    call_sid: str | None


def _by_id(session: Session, model, ids: set[int]) -> dict[int, object]:
    if not ids:
        return {}
    return {row.id: row for row in session.exec(select(model).where(col(model.id).in_(ids)))}


def _entries(session: Session, events: list[AuditEvent]) -> list[Entry]:
    """The events with the requests, volunteers and staff they name (one query per kind)."""

    def ids(key: str) -> set[int]:
        return {e.detail[key] for e in events if isinstance(e.detail.get(key), int)}

    requests = _by_id(session, HelpRequest, ids("request"))
    volunteers = _by_id(session, Volunteer, ids("volunteer"))
    assignments = _by_id(session, Assignment, ids("assignment"))
    lines = _by_id(session, Line, ids("line"))
    staff = _by_id(session, Operator, {e.operator_id for e in events if e.operator_id})
    reasons, jobs = reason_words(), job_words()
    entries = []
    for event in events:
        detail = event.detail
        if event.action == VAULT_ROTATED:
            what = _(
                "Re-encrypted %(count)d numbers with the newest vault key",
                count=detail.get("rotated", 0),
            )
        else:
            what = reasons.get(detail.get("reason"), detail.get("reason", ""))
        if event.operator_id in staff:
            by = staff[event.operator_id].display_name
        elif detail.get("job"):
            by = jobs.get(detail["job"], detail["job"])
        elif detail.get("call"):
            by = _("Phone line")
        else:
            by = _("System")
        line = lines.get(detail.get("line"))
        assignment = assignments.get(detail.get("assignment"))
        entries.append(
            Entry(
                when=event.created_at,
                what=what,
                line=line.name if line else "",
                help_request=requests.get(detail.get("request")),
                volunteer=volunteers.get(detail.get("volunteer")),
                assignment_code=assignment.code if assignment else None,
                by=by,
                call_sid=detail.get("call"),
            )
        )
    return entries


@blueprint.get("/numbers")
@coordinator_required
def numbers() -> str:
    """Every decryption of a phone number on the coordinator's lines, newest first."""
    page = request.args.get("page", default=1, type=int)
    if not 1 <= page <= MAX_PAGE:
        abort(404)
    reason = request.args.get("reason")
    reason = reason if reason in REVEAL_REASONS else None
    session = get_session()
    events, more = vault_log(
        session,
        visible=policy.number_use_filter(current_principal()),
        reason=reason,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return render_template(
        "audit/numbers.html",
        entries=_entries(session, events),
        reasons=reason_words(),
        reason=reason or "",
        page=page,
        more=more,
    )
