"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json.

Written by hand beside the serializers in ``callcenter_ui.api``: a generator from typed
models would have reshaped the contract (error bodies, list filters, serializers) that
clients and tests rely on. The tests keep it honest instead: every API route is described
here (tests/test_api.py), each handler reads exactly the query parameters and body members
named here, undocumented query parameters are refused at run time (``query_parameters``),
and schemathesis finds no 5xx and no answer the document does not describe
(tests/test_api_fuzz.py).
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

from callcenter_ui import api_contract as contract
from hotline.http_bounds import MAX_ID
from hotline.models import RequestStatus

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}


def _nullable(schema: dict) -> dict:
    return {**schema, "type": [schema["type"], "null"]}


MOMENT = {"type": "string", "format": "date-time"}
OPTIONAL_MOMENT = _nullable(MOMENT)
OPTIONAL_STRING = _nullable(STRING)
OPTIONAL_INTEGER = _nullable(INTEGER)
COUNTS = {"type": "object", "additionalProperties": INTEGER}
# What the API accepts as an id (the id columns are 32-bit integers); a bigger one is a 404.
ID = {**INTEGER, "minimum": 1, "maximum": MAX_ID}
# A filter's value: what the API's _text_arg accepts.
FILTER_TEXT = {
    **STRING,
    "minLength": 1,
    "maxLength": contract.MAX_TEXT_ARG,
    "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _page_of(item: str) -> dict:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "total": {**INTEGER, "description": "Rows matching the filters, on all pages."},
            "limit": INTEGER,
            "offset": INTEGER,
        },
        f"One page of {item} resources.",
    )


HELP_REQUEST = {
    "id": INTEGER,
    "reference": {
        **STRING,
        "description": "The six digits the caller heard.",
        "pattern": r"^\d{6}$",
    },
    "line": {**OPTIONAL_STRING, "description": "The help line's slug (config.toml)."},
    "source": {**STRING, "enum": list(contract.REQUEST_SOURCES)},
    "status": {**STRING, "enum": [str(s) for s in RequestStatus]},
    "language": OPTIONAL_STRING,
    "category": OPTIONAL_STRING,
    "postcode": OPTIONAL_STRING,
    "municipality": {**OPTIONAL_STRING, "description": "The postcode's municipality."},
    "urgency": OPTIONAL_STRING,
    "message": {**STRING, "description": "Message text; phone numbers are redacted."},
    "transcript": {**OPTIONAL_STRING, "description": "Transcript; phone numbers are redacted."},
    "has_recording": BOOLEAN,
    "notes": {**STRING, "description": "Operators' notes; phone numbers are redacted."},
    "duplicate_of_id": OPTIONAL_INTEGER,
    "cancel_reason": OPTIONAL_STRING,
    "created_at": MOMENT,
    "updated_at": MOMENT,
    "announced_at": OPTIONAL_MOMENT,
    "assigned_at": {**OPTIONAL_MOMENT, "description": "When a volunteer was first assigned."},
    "url": {**STRING, "description": "This request in the API."},
}
VOLUNTEER = {
    "id": INTEGER,
    "line": OPTIONAL_STRING,
    "name": STRING,
    "postcode": STRING,
    "municipality": OPTIONAL_STRING,
    "languages": {"type": "array", "items": STRING},
    "skills": {"type": "array", "items": STRING, "description": "Request categories."},
    "availability": {
        "type": "object",
        "description": 'Weekday → time ranges, e.g. {"mon": ["09:00-12:00"]}; empty: any time.',
        "additionalProperties": {"type": "array", "items": STRING},
    },
    "has_car": BOOLEAN,
    "has_phone": {**BOOLEAN, "description": "Whether a mobile number is on file (never shown)."},
    "safety_accepted_at": OPTIONAL_MOMENT,
    "insurance_registered_at": OPTIONAL_MOMENT,
    "active": BOOLEAN,
    "created_at": MOMENT,
    "updated_at": MOMENT,
    "url": STRING,
}
ASSIGNMENT = {
    "id": INTEGER,
    "request_id": INTEGER,
    "volunteer_id": INTEGER,
    "status": {**STRING, "enum": list(contract.ASSIGNMENT_STATUSES)},
    "assigned_by_id": {**OPTIONAL_INTEGER, "description": "The operator who assigned."},
    "created_at": MOMENT,
    "responded_at": OPTIONAL_MOMENT,
}
SPEED = _object(
    {
        "median_seconds": {**OPTIONAL_INTEGER, "description": "None when nothing was assigned."},
        "requests": {**INTEGER, "description": "Requests the median is taken over."},
    },
    "Median time from a request coming in to its first assignment.",
)

SCHEMAS: dict[str, dict] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": STRING,
            "title": STRING,
            "status": INTEGER,
            "code": {**STRING, "description": "Stable, machine-readable error code."},
            "detail": STRING,
            "current_status": {**STRING, "description": "409 only: the request's status."},
            "allowed": {
                "type": "array",
                "items": STRING,
                "description": "409 only: the statuses the request may move to by API.",
            },
        },
        "required": ["type", "title", "status", "code", "detail"],
    },
    "Operator": _object(
        {
            "id": INTEGER,
            "username": STRING,
            "display_name": STRING,
            "role": {**STRING, "enum": ["operator", "coordinator"]},
        },
        "The staff account a token acts for.",
    ),
    "HelpRequest": _object(HELP_REQUEST, "An anonymised help request (no phone number)."),
    "HelpRequestDetail": _object(
        {
            **HELP_REQUEST,
            "assignments": {"type": "array", "items": _ref("Assignment")},
            "history": {"type": "array", "items": _ref("AuditEntry")},
        },
        "A help request with its assignments and its audit history, oldest first.",
    ),
    "AuditEntry": _object(
        {
            "action": STRING,
            "operator_id": OPTIONAL_INTEGER,
            "detail": {"type": "object", "description": 'What changed, e.g. {"from": "new"}.'},
            "at": MOMENT,
        },
        "One change to a request, and who made it.",
    ),
    "Assignment": _object(ASSIGNMENT, "A volunteer asked to help with a request."),
    "Volunteer": _object(VOLUNTEER, "A volunteer (no phone number)."),
    "VolunteerDetail": _object(
        {**VOLUNTEER, "open_assignments": {**INTEGER, "description": "Offered or accepted."}},
        "A volunteer with their open assignments counted.",
    ),
    "HelpRequestPage": _page_of("HelpRequest"),
    "VolunteerPage": _page_of("Volunteer"),
    "AssignmentPage": _page_of("Assignment"),
    "StatusChange": {
        "type": "object",
        "properties": {
            "status": {**STRING, "enum": [str(s) for s in contract.SETTABLE_STATUSES]},
            "reason": {
                **OPTIONAL_STRING,
                "maxLength": contract.MAX_REASON_LENGTH,
                "pattern": "^[^\\u0000]*$",
                "description": "Why; required to cancel. Phone numbers are redacted.",
            },
        },
        "required": ["status"],
        "additionalProperties": False,
        # Cancelling needs a reason with something in it.
        "if": {"properties": {"status": {"const": "cancelled"}}},
        "then": {"required": ["reason"], "properties": {"reason": {**STRING, "pattern": "\\S"}}},
    },
    "Statistics": _object(
        {
            "at": MOMENT,
            "line": OPTIONAL_STRING,
            "timezone": {**STRING, "description": "Days and weeks are counted in this zone."},
            "open_total": INTEGER,
            "open_by_status": COUNTS,
            "open_by_category": {**COUNTS, "description": '"" counts uncategorised ones.'},
            "open_by_postcode": {**COUNTS, "description": '"" counts those without a postcode.'},
            "waiting_by_language": {**COUNTS, "description": "New or triaged requests."},
            "longest_wait_seconds": OPTIONAL_INTEGER,
            "time_to_assign": _object(
                {"today": SPEED, "this_week": SPEED}, "By the day of assignment."
            ),
            "requests_per_day": {
                "type": "array",
                "items": _object(
                    {"date": {**STRING, "format": "date"}, "count": INTEGER},
                    "Requests that came in on one local day.",
                ),
            },
        },
        "Counts only, never people.",
    ),
}


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


RESPONSES = {
    "BadRequest": _problem(
        "A parameter or the body is not valid, or a query parameter is not one of this path's."
    ),
    "Unauthorized": {
        **_problem("No token, or an unknown or revoked one."),
        "headers": {
            "WWW-Authenticate": {"schema": STRING, "description": 'Bearer realm="hotline"'}
        },
    },
    "NotFound": _problem("No such resource."),
}


def _query(name: str, description: str, schema: dict | None = None, **extra: Any) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or STRING,
        **extra,
    }


def _list_query(name: str, description: str, enum: list[str] | None = None) -> dict:
    items = {**STRING, "enum": enum} if enum else FILTER_TEXT
    return _query(
        name,
        description + " Several: comma-separated or repeated.",
        {"type": "array", "items": items, "maxItems": contract.MAX_LIST_ARG},
        style="form",
        explode=True,
    )


def _path(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": ID,
    }


def _ok(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _get(
    operation_id: str, summary: str, schema: str, parameters: list | None = None, *, found=False
) -> dict:
    responses = {
        "200": _ok(schema, summary),
        # Also without parameters: an undocumented query parameter is refused.
        "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"},
    }
    if found:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": parameters or [],
            "responses": responses,
        }
    }


PAGINATION = [
    {"$ref": "#/components/parameters/limit"},
    {"$ref": "#/components/parameters/offset"},
]


def _line_query(slugs: list[str]) -> dict:
    """``?line=``: one of this installation's lines (another is a 400)."""
    return _query(
        "line",
        "Only this line (its slug in config.toml); 404 for a line the token may not read.",
        {**STRING, "enum": slugs},
    )


def _paths(line_slugs: list[str]) -> dict:
    line = _line_query(line_slugs)
    request_id = _path("request_id", "The help request's id.")
    status_change = {
        "post": {
            "operationId": "changeRequestStatus",
            "summary": "Move a request to triaged, done or cancelled",
            "description": (
                "Goes through the request's life cycle and is audited in the name of the "
                "token's operator. assigned and accepted follow from assignments instead."
            ),
            "parameters": [request_id],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("StatusChange")}},
            },
            "responses": {
                "200": _ok("HelpRequestDetail", "The request after the change."),
                "400": {"$ref": "#/components/responses/BadRequest"},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "404": {"$ref": "#/components/responses/NotFound"},
                "409": _problem("The request's life does not allow this change now."),
            },
        }
    }
    openapi = {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 description of this API (no token needed).",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "/openapi.json": openapi,
        "/me": _get("getMe", "The account the token acts for", "Operator"),
        "/requests": _get(
            "listRequests",
            "Help requests, newest first",
            "HelpRequestPage",
            [
                _list_query("status", "Only these statuses.", [str(s) for s in RequestStatus]),
                _list_query("category", "Only these categories."),
                _list_query("postcode", "Only these postcodes."),
                _list_query("language", "Only these caller languages."),
                _list_query("urgency", "Only these urgencies."),
                _list_query("source", "Only these sources.", list(contract.REQUEST_SOURCES)),
                line,
                _query(
                    "updated_since",
                    "Only requests changed at or after this moment (ISO 8601 with timezone).",
                    MOMENT,
                ),
                *PAGINATION,
            ],
            found=True,
        ),
        "/requests/{request_id}": _get(
            "getRequest",
            "One help request with its assignments and history",
            "HelpRequestDetail",
            [request_id],
            found=True,
        ),
        "/requests/{request_id}/status": status_change,
        "/volunteers": _get(
            "listVolunteers",
            "Volunteers by name",
            "VolunteerPage",
            [
                _list_query("postcode", "Only these postcodes."),
                _list_query("language", "Only volunteers who speak all these languages."),
                _list_query("skill", "Only volunteers with all these skills (categories)."),
                _query("active", "Only active (true) or inactive (false) volunteers.", BOOLEAN),
                line,
                *PAGINATION,
            ],
            found=True,
        ),
        "/volunteers/{volunteer_id}": _get(
            "getVolunteer",
            "One volunteer",
            "VolunteerDetail",
            [_path("volunteer_id", "The volunteer's id.")],
            found=True,
        ),
        "/assignments": _get(
            "listAssignments",
            "Assignments, newest first",
            "AssignmentPage",
            [
                _query("request_id", "Only this request's assignments.", ID),
                _query("volunteer_id", "Only this volunteer's assignments.", ID),
                _list_query("status", "Only these statuses.", list(contract.ASSIGNMENT_STATUSES)),
                *PAGINATION,
            ],
        ),
        "/statistics": _get(
            "getStatistics",
            "The dashboard's figures: counts only",
            "Statistics",
            [line],
            found=True,
        ),
    }


def openapi_document() -> dict:
    """The OpenAPI 3.1 document of this app's API (built once per app: it names its lines)."""
    extensions = current_app.extensions
    if "hotline.openapi" not in extensions:
        extensions["hotline.openapi"] = _document(list(extensions["hotline.settings"].lines))
    return extensions["hotline.openapi"]


def _document(line_slugs: list[str]) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hotline API",
            "version": "1.0.0",
            "description": (
                "Read help requests, volunteers and assignments of the hotline, and move "
                "requests through their life. Never a phone number: requests carry no caller "
                "data, volunteers only whether a phone is known, and free text has numbers "
                "redacted. Create a token with `hotline operator token USERNAME --name NAME` "
                "and send it as `Authorization: Bearer <token>`. Any staff account's token "
                "may use the API; changes are audited in that account's name. Errors are "
                "RFC 9457 problem details."
            ),
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(line_slugs),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token made with `hotline operator token`.",
                }
            },
            "parameters": {
                "limit": _query(
                    "limit",
                    f"Rows per page (default {contract.DEFAULT_LIMIT}).",
                    {
                        **INTEGER,
                        "minimum": 1,
                        "maximum": contract.MAX_LIMIT,
                        "default": contract.DEFAULT_LIMIT,
                    },
                ),
                "offset": _query(
                    "offset",
                    "Rows to skip.",
                    {**INTEGER, "minimum": 0, "maximum": MAX_ID, "default": 0},
                ),
            },
            "responses": RESPONSES,
            "schemas": SCHEMAS,
        },
    }


def query_parameters(rule: str, method: str) -> set[str] | None:
    """The query parameters the document names for a route (its Flask rule) and method;
    None when the document does not describe the route."""
    document = openapi_document()
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule).removeprefix("/api/v1")
    operation = document["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return None
    shared = document["components"]["parameters"]
    parameters = [
        shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
        for p in operation.get("parameters", [])
    ]
    return {p["name"] for p in parameters if p["in"] == "query"}
