"""The JSON API under /api/v1: token-authenticated, read mostly, never a phone number.

Every call but the OpenAPI document needs ``Authorization: Bearer <token>``
(tokens: ``hotline operator token``). Any staff account's token may use the API;
what a token changes is audited in its operator's name. Errors are RFC 9457
problem details (``application/problem+json``). Resources are built by explicit
serializers below, field by field: a new column never leaks by itself, and free
text (messages, transcripts, notes) has phone numbers redacted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session, col, select
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from callcenter_ui.api_contract import (
    ASSIGNMENT_STATUSES,
    CONTROL_CHARACTERS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_LIST_ARG,
    MAX_REASON_LENGTH,
    MAX_TEXT_ARG,
    OPEN_ASSIGNMENT_STATUSES,
    REQUEST_SOURCES,
    SETTABLE_STATUSES,
)
from callcenter_ui.openapi import openapi_document, query_parameters
from hotline.access import policy
from hotline.access.api_tokens import authenticate_token
from hotline.audit import history
from hotline.config import Settings
from hotline.db import get_session
from hotline.dispatch import cancel_open_assignments
from hotline.http_bounds import MAX_ID
from hotline.lifecycle import TRANSITIONS, IllegalTransition, can_change, change_status
from hotline.models import (
    Assignment,
    AuditEvent,
    HelpRequest,
    Line,
    Operator,
    RequestStatus,
    Volunteer,
    utcnow,
)
from hotline.overview import dashboard
from hotline.privacy import redact_personal_details

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = ("api.openapi_json",)


# --- errors -------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answered as problem details: HTTP status, a stable code, a readable detail."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers, self.extra = headers or {}, extra


def problem(
    status: int, code: str, title: str, detail: str, headers: dict | None = None, **extra: Any
):
    """An RFC 9457 problem-details response; ``extra`` adds members such as ``allowed``."""
    body = {"type": "about:blank", "title": title, "status": status, "code": code}
    response = jsonify({**body, "detail": detail, **extra})
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers.update(headers or {})
    return response


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
}


@blueprint.errorhandler(ApiError)
def _api_error(error: ApiError):
    title = _TITLES.get(error.status, "Error")
    return problem(error.status, error.code, title, error.detail, error.headers, **error.extra)


@blueprint.errorhandler(HTTPException)
def problem_for(error: HTTPException):
    """Any HTTP error as problem details (the app's error pages hand API paths to this)."""
    code = (error.name or "error").lower().replace(" ", "_")
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    return problem(error.code or 500, code, error.name, error.description or "", headers)


@blueprint.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_path(unknown: str):
    """Unknown API paths and wrong methods get JSON errors too, not the HTML error pages.

    (Routing errors never reach a blueprint's error handlers, so this catch-all
    stands in for them: 405 when the path exists with other methods, else 404.)
    """
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _args = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown_path":
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise NotFound("There is no such API path; see /api/v1/openapi.json.")


# --- authentication -----------------------------------------------------------------------

_CHALLENGE = 'Bearer realm="hotline"'


@blueprint.before_request
def _authenticate() -> None:
    """Every API call needs a valid token; the operator it belongs to is ``g.api_operator``."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiError(
            401,
            "missing_token",
            "Send an API token: 'Authorization: Bearer <token>'.",
            {"WWW-Authenticate": _CHALLENGE},
        )
    operator = authenticate_token(get_session(), raw.strip())
    if operator is None:
        raise ApiError(
            401,
            "invalid_token",
            "The token is unknown, revoked, or its account is deactivated.",
            {"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )
    g.api_operator = operator
    # A token sees and does exactly what its account may (hotline.access.policy).
    g.principal = policy.principal_for(get_session(), operator)


@blueprint.before_request
def _documented_parameters_only() -> None:
    """A query parameter the OpenAPI document does not name is a 400, not silently ignored:
    ``?stauts=new`` would otherwise answer every request as if it were a filter."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.url_rule is None or not request.args:
        return

    known = query_parameters(request.url_rule.rule, request.method)
    unknown = sorted(set(request.args) - known) if known is not None else []
    if unknown:
        raise ApiError(
            400,
            "unknown_parameter",
            f"Unknown query parameter(s): {', '.join(unknown)[:200]}; "
            f"this path takes: {', '.join(sorted(known)) or 'none'}.",
        )


@blueprint.after_request
def _not_for_caches(response):
    # Answers hold volunteers' names and residents' messages: no proxy or browser keeps them.
    if request.endpoint not in PUBLIC_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


# --- parameters ---------------------------------------------------------------------------


def _int_arg(name: str, default: int, *, minimum: int, maximum: int = MAX_ID) -> int:
    """A whole-number query parameter within ``minimum..maximum`` (400 otherwise)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only ("²".isdigit() is true), and few of them: int() of a long one is slow.
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None
    if number is None or not minimum <= number <= maximum:
        raise ApiError(
            400, "invalid_parameter", f"'{name}' must be a whole number ({minimum}..{maximum})."
        )
    return number


def _text_arg(name: str, raw: str) -> str:
    """A text value of a query parameter: 1..MAX_TEXT_ARG characters, no control characters
    (PostgreSQL refuses NUL bytes in text; no postcode, language or slug holds one)."""
    if not raw or len(raw) > MAX_TEXT_ARG or CONTROL_CHARACTERS.search(raw):
        raise ApiError(
            400,
            "invalid_parameter",
            f"'{name}' must be text of 1 to {MAX_TEXT_ARG} characters, without control characters.",
        )
    return raw


def _list_arg(name: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    """A filter given as ``name=a,b`` or ``name=a&name=b`` (at most MAX_LIST_ARG times)."""
    given = [_text_arg(name, raw) for raw in request.args.getlist(name)]
    if len(given) > MAX_LIST_ARG:
        raise ApiError(400, "invalid_parameter", f"'{name}' is given at most {MAX_LIST_ARG} times.")
    values = [part.strip() for raw in given for part in raw.split(",")]
    values = [value for value in values if value]
    if allowed is not None:
        for value in values:
            if value not in allowed:
                raise ApiError(
                    400,
                    "invalid_parameter",
                    f"'{name}' must be one of {', '.join(allowed)} (got '{value}').",
                )
    return values


def _bool_arg(name: str) -> bool | None:
    """``true``/``1``/``yes`` or ``false``/``0``/``no``; absent: None."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, "invalid_parameter", f"'{name}' must be true or false.")


_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60", re.IGNORECASE)
_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def _datetime_arg(name: str) -> datetime | None:
    """An RFC 3339 moment (ISO 8601 with a timezone), as UTC; 400 without a zone."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        # RFC 3339 allows "z" and a leap second (":60"), which fromisoformat refuses.
        text = raw[:-1] + "+00:00" if raw[-1:] in "zZ" else raw
        value = datetime.fromisoformat(_LEAP_SECOND.sub(r"\g<1>59", text))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ApiError(
            400,
            "invalid_parameter",
            f"'{name}' must be an ISO 8601 moment with a timezone, e.g. 2026-03-20T08:00:00Z.",
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00 is before every UTC moment, 9999 at -14:00 after
        return _EARLIEST if value.year == 1 else _LATEST


def _line_ids(session: Session) -> dict[int, str]:
    return {line.id: line.slug for line in session.exec(select(Line))}


def _line_filter(session: Session) -> int | None:
    slug = request.args.get("line")
    if slug is None:
        return None
    for line_id, line_slug in _line_ids(session).items():
        if line_slug == slug:
            if not g.principal.sees_line(line_id):
                # Another town's line: its data is not the token's to read.
                raise ApiError(404, "not_found", f"There is no line '{slug}' for this token.")
            return line_id
    raise ApiError(400, "invalid_parameter", f"There is no line '{slug}'.")


def _page(session: Session, query, serialize: Callable[[Any], dict]) -> dict:
    """One page of ``query``'s rows (limit/offset) with the total, serialized."""
    limit = _int_arg("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = _int_arg("offset", 0, minimum=0)
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.limit(limit).offset(offset))
    return {
        "items": [serialize(row) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def _json_list_contains(column, value: str):
    # Languages and skills are small JSON lists of codes (["nl", "en"]); matching the quoted
    # code in their text works alike on SQLite and PostgreSQL without JSON operators.
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.cast(column, sa.Text).like(f'%"{escaped}"%', escape="\\")


# --- serializers: explicit fields only; no phone number, caller hash, contact or call id ---


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: str | None) -> str | None:
    return redact_personal_details(value) if value else value


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_personal_details(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    return value


def _settings() -> Settings:
    return current_app.extensions["hotline.settings"]


def _municipality(line_slug: str | None, postcode: str | None) -> str | None:
    line = _settings().lines.get(line_slug or "")
    return line.postcodes.get(postcode) if line and postcode else None


def serialize_request(help_request: HelpRequest, lines: dict[int, str]) -> dict:
    """A help request as the API shows it."""
    line = lines.get(help_request.line_id)
    return {
        "id": help_request.id,
        "reference": help_request.reference,
        "line": line,
        "source": help_request.source,
        "status": help_request.status,
        "language": help_request.language,
        "category": help_request.category,
        "postcode": help_request.postcode,
        "municipality": _municipality(line, help_request.postcode),
        "urgency": help_request.urgency,
        "message": _text(help_request.message) or "",
        "transcript": _text(help_request.transcript),
        "has_recording": help_request.recording_sid is not None,
        "notes": _text(help_request.notes) or "",
        "duplicate_of_id": help_request.duplicate_of_id,
        "cancel_reason": _text(help_request.cancel_reason),
        "created_at": _when(help_request.created_at),
        "updated_at": _when(help_request.updated_at),
        "announced_at": _when(help_request.announced_at),
        "assigned_at": _when(help_request.assigned_at),
        "url": url_for("api.get_request", request_id=help_request.id),
    }


def serialize_assignment(assignment: Assignment) -> dict:
    """An assignment as the API shows it (without the volunteer's SMS reply code)."""
    return {
        "id": assignment.id,
        "request_id": assignment.help_request_id,
        "volunteer_id": assignment.volunteer_id,
        "status": assignment.status,
        "assigned_by_id": assignment.assigned_by_id,
        "created_at": _when(assignment.created_at),
        "responded_at": _when(assignment.responded_at),
    }


def serialize_event(event: AuditEvent) -> dict:
    """One audit entry of a request's history."""
    return {
        "action": event.action,
        "operator_id": event.operator_id,
        "detail": _redacted(event.detail),
        "at": _when(event.created_at),
    }


def serialize_volunteer(volunteer: Volunteer, lines: dict[int, str]) -> dict:
    """A volunteer as the API shows it: whether a phone is known, never the number."""
    line = lines.get(volunteer.line_id)
    return {
        "id": volunteer.id,
        "line": line,
        "name": volunteer.name,
        "postcode": volunteer.postcode,
        "municipality": _municipality(line, volunteer.postcode),
        "languages": list(volunteer.languages or []),
        "skills": list(volunteer.skills or []),
        "availability": dict(volunteer.availability or {}),
        "has_car": volunteer.has_car,
        "has_phone": volunteer.contact_id is not None,
        "safety_accepted_at": _when(volunteer.safety_accepted_at),
        "insurance_registered_at": _when(volunteer.insurance_registered_at),
        "active": volunteer.active,
        "created_at": _when(volunteer.created_at),
        "updated_at": _when(volunteer.updated_at),
        "url": url_for("api.get_volunteer", volunteer_id=volunteer.id),
    }


def serialize_operator(operator: Operator) -> dict:
    """The staff account a token acts for."""
    return {
        "id": operator.id,
        "username": operator.username,
        "display_name": operator.display_name,
        "role": operator.role,
    }


# --- endpoints ----------------------------------------------------------------------------


@blueprint.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API (no token needed)."""

    return jsonify(openapi_document())


@blueprint.get("/me")
def me() -> ResponseReturnValue:
    """The account the token acts for: a quick way to check a token."""
    return jsonify(serialize_operator(g.api_operator))


@blueprint.get("/requests")
def list_requests() -> ResponseReturnValue:
    """Help requests, newest first, filtered and paginated."""
    session = get_session()
    query = select(HelpRequest).where(policy.request_filter(g.principal))
    statuses = _list_arg("status", tuple(RequestStatus))
    if statuses:
        query = query.where(col(HelpRequest.status).in_(statuses))
    for name in ("category", "postcode", "language", "urgency", "source"):
        values = _list_arg(name, REQUEST_SOURCES if name == "source" else None)
        if values:
            query = query.where(col(getattr(HelpRequest, name)).in_(values))
    line_id = _line_filter(session)
    if line_id is not None:
        query = query.where(HelpRequest.line_id == line_id)
    updated_since = _datetime_arg("updated_since")
    if updated_since is not None:
        query = query.where(col(HelpRequest.updated_at) >= updated_since)
    query = query.order_by(col(HelpRequest.created_at).desc(), col(HelpRequest.id).desc())
    lines = _line_ids(session)
    return jsonify(_page(session, query, lambda row: serialize_request(row, lines)))


def _help_request_or_404(session: Session, request_id: int) -> HelpRequest:
    try:  # another line's request is answered exactly like a missing one
        return policy.check_request(g.principal, session.get(HelpRequest, request_id))
    except policy.NotVisible:
        raise ApiError(404, "not_found", f"There is no help request {request_id}.") from None


def _request_detail(session: Session, help_request: HelpRequest) -> dict:
    assignments = session.exec(
        select(Assignment)
        .where(Assignment.help_request_id == help_request.id)
        .order_by(col(Assignment.created_at), col(Assignment.id))
    )
    return {
        **serialize_request(help_request, _line_ids(session)),
        "assignments": [serialize_assignment(a) for a in assignments],
        "history": [serialize_event(e) for e in history(session, help_request_id=help_request.id)],
    }


@blueprint.get("/requests/<int:request_id>")
def get_request(request_id: int) -> ResponseReturnValue:
    """One help request with its assignments and its history."""
    session = get_session()
    return jsonify(_request_detail(session, _help_request_or_404(session, request_id)))


@blueprint.post("/requests/<int:request_id>/status")
def change_request_status(request_id: int) -> ResponseReturnValue:
    """Move a request to triaged, done or cancelled (audited as the token's operator)."""
    session = get_session()
    help_request = _help_request_or_404(session, request_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "invalid_body", 'Send a JSON object: {"status": "...", "reason": "..."}.'
        )
    unknown = sorted(set(body) - {"status", "reason"})
    if unknown:  # a misspelt member is refused, never silently ignored
        raise ApiError(400, "invalid_body", f"Unknown member(s): {', '.join(unknown)[:200]}.")
    new_status, reason = body.get("status"), body.get("reason")
    if new_status not in SETTABLE_STATUSES:
        raise ApiError(
            400,
            "invalid_status",
            f"'status' must be one of {', '.join(SETTABLE_STATUSES)}; a request becomes "
            "assigned or accepted through an assignment.",
        )
    if reason is not None and (not isinstance(reason, str) or "\x00" in reason):
        raise ApiError(400, "invalid_reason", "'reason' must be text (without NUL characters).")
    reason = redact_personal_details(reason.strip()) if reason and reason.strip() else None
    if reason and len(reason) > MAX_REASON_LENGTH:
        raise ApiError(
            400, "invalid_reason", f"'reason' has at most {MAX_REASON_LENGTH} characters."
        )
    if new_status == RequestStatus.CANCELLED and not reason:
        raise ApiError(400, "reason_required", "Cancelling a request needs a 'reason'.")
    current = help_request.status
    try:
        if new_status in (RequestStatus.CANCELLED, RequestStatus.TRIAGED) and can_change(
            current, new_status
        ):
            # As in the call centre: volunteers waiting on an offer must not keep waiting.
            cancel_open_assignments(
                session,
                help_request=help_request,
                operator_id=g.api_operator.id,
                reason=f"request {new_status} through the API",
            )
        change_status(
            session, help_request, new_status, operator_id=g.api_operator.id, reason=reason
        )
    except IllegalTransition as error:
        session.rollback()
        raise ApiError(
            409,
            "illegal_transition",
            str(error).capitalize() + ".",
            current_status=current,
            allowed=sorted(TRANSITIONS.get(current, set()) & set(SETTABLE_STATUSES)),
        ) from None
    session.commit()
    return jsonify(_request_detail(session, help_request))


@blueprint.get("/volunteers")
def list_volunteers() -> ResponseReturnValue:
    """Volunteers by name, filtered and paginated; never a phone number."""
    session = get_session()
    query = select(Volunteer).where(policy.volunteer_filter(g.principal))
    postcodes = _list_arg("postcode")
    if postcodes:
        query = query.where(col(Volunteer.postcode).in_(postcodes))
    for name, column in (("language", Volunteer.languages), ("skill", Volunteer.skills)):
        for value in _list_arg(name):  # several values: the volunteer has all of them
            query = query.where(_json_list_contains(column, value))
    active = _bool_arg("active")
    if active is not None:
        query = query.where(Volunteer.active == active)
    line_id = _line_filter(session)
    if line_id is not None:
        query = query.where(Volunteer.line_id == line_id)
    query = query.order_by(col(Volunteer.name), col(Volunteer.id))
    lines = _line_ids(session)
    return jsonify(_page(session, query, lambda row: serialize_volunteer(row, lines)))


@blueprint.get("/volunteers/<int:volunteer_id>")
def get_volunteer(volunteer_id: int) -> ResponseReturnValue:
    """One volunteer, with how many assignments they have open."""
    session = get_session()
    try:  # another line's volunteer is answered exactly like a missing one
        volunteer = policy.check_volunteer(g.principal, session.get(Volunteer, volunteer_id))
    except policy.NotVisible:
        raise ApiError(404, "not_found", f"There is no volunteer {volunteer_id}.") from None
    open_assignments = session.exec(
        select(sa.func.count())
        .select_from(Assignment)
        .where(
            Assignment.volunteer_id == volunteer.id,
            col(Assignment.status).in_(OPEN_ASSIGNMENT_STATUSES),
        )
    ).one()
    return jsonify(
        {**serialize_volunteer(volunteer, _line_ids(session)), "open_assignments": open_assignments}
    )


@blueprint.get("/assignments")
def list_assignments() -> ResponseReturnValue:
    """Assignments, newest first, filtered by request, volunteer or status; paginated."""
    session = get_session()
    query = select(Assignment).where(policy.assignment_filter(g.principal))
    request_id = _int_arg("request_id", 0, minimum=1) if "request_id" in request.args else None
    if request_id is not None:
        query = query.where(Assignment.help_request_id == request_id)
    volunteer_id = (
        _int_arg("volunteer_id", 0, minimum=1) if "volunteer_id" in request.args else None
    )
    if volunteer_id is not None:
        query = query.where(Assignment.volunteer_id == volunteer_id)
    statuses = _list_arg("status", ASSIGNMENT_STATUSES)
    if statuses:
        query = query.where(col(Assignment.status).in_(statuses))
    query = query.order_by(col(Assignment.created_at).desc(), col(Assignment.id).desc())
    return jsonify(_page(session, query, serialize_assignment))


@blueprint.get("/statistics")
def statistics() -> ResponseReturnValue:
    """The dashboard's figures (counts only), for one line or all of them."""
    session = get_session()
    line_id = _line_filter(session)
    settings = _settings()
    first_line = next(iter(settings.lines.values()))
    timezone = settings.lines.get(request.args.get("line") or "", first_line).timezone
    # Without ?line=: every line of the token's account, added up.
    lines = policy.statistics_lines(g.principal, line_id)
    figures = dashboard(session, now=utcnow(), timezone=timezone, line_id=lines)

    def speed(assign_speed) -> dict:
        median = assign_speed.median
        return {
            "median_seconds": round(median.total_seconds()) if median is not None else None,
            "requests": assign_speed.count,
        }

    return jsonify(
        {
            "at": _when(figures.now),
            "line": request.args.get("line") or None,
            "timezone": timezone,
            "open_total": figures.open_total,
            "open_by_status": figures.by_status,
            "open_by_category": figures.by_category,
            "open_by_postcode": figures.by_postcode,
            "waiting_by_language": figures.waiting_by_language,
            "longest_wait_seconds": (
                round(figures.longest_wait.total_seconds()) if figures.longest_wait else None
            ),
            "time_to_assign": {
                "today": speed(figures.assign_today),
                "this_week": speed(figures.assign_this_week),
            },
            "requests_per_day": [
                {"date": day.day.isoformat(), "count": day.count} for day in figures.per_day
            ],
        }
    )
