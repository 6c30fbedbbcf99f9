"""Two towns share one installation: nobody of Tienen reaches anything of Leuven.

The matrix walks EVERY rule of the app's URL map (every method) and every operation of
the API's OpenAPI document, with the ids of Leuven's request, volunteer, lead, assignment,
call, block, API token and account filled into the URL, as

(a) Tina, an operator of Tienen,
(b) Toon, a coordinator of Tienen,
(c) Tina's API token,
(d) Olga, an operator of every line, on the routes only coordinators may use,

and expects 404 or 403, or a page holding none of Leuven's data; never a 5xx; and after
every POST, Leuven's rows are exactly as they were.

A new route fails this test until it is classified in ``ROUTES`` below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlmodel import Session, SQLModel, col, func, select

from hotline import create_app
from hotline.access.accounts import create_operator
from hotline.access.api_tokens import create_token
from hotline.db import line_row
from hotline.intake import create_help_request
from hotline.models import (
    ApiToken,
    Assignment,
    AuditEvent,
    BlockedCaller,
    CallSession,
    HelpRequest,
    Operator,
    SmsMessage,
    Volunteer,
    VolunteerLead,
    utcnow,
)
from hotline.privacy import store_contact
from tests.conftest import STAFF_PASSWORD, StaffClient, two_towns_config

# --- how every route is classified ---------------------------------------------------------
#
# PUBLIC       no staff login: Twilio's signed webhooks, health, static files, the login page,
#              a line's public page and neighbour card.
# LEUVEN_ID    takes the id of one of Leuven's things: 404 or 403 for Tienen's staff.
# OWN_LINES    a list or a page of the account's own: 200 (or 4xx) without any of Leuven's data.
# SESSION      ends the caller's own session (logout): must not fail nor touch Leuven.
# COORDINATOR  only coordinators: also 403 for an operator of every line (with Leuven's ids).
# API          the JSON API: walked through the OpenAPI document with Tina's token.
#
# A route in several classes (e.g. a coordinators' page taking a Leuven id) lists them all.
PUBLIC, LEUVEN_ID, OWN_LINES, SESSION, COORDINATOR, API = (
    "public", "leuven_id", "own_lines", "session", "coordinator", "api",
)  # fmt: skip

ROUTES: dict[str, set[str]] = {
    # public
    "static": {PUBLIC},
    "ui.static": {PUBLIC},
    "auth.login": {PUBLIC},
    "favicon": {PUBLIC},
    "language.choose": {PUBLIC},  # before logging in too; a logged-in account keeps its choice
    "observability.health": {PUBLIC},
    "observability.ready": {PUBLIC},
    "observability.metrics": {PUBLIC},
    "twilio.sms": {PUBLIC},
    "twilio.sms_status": {PUBLIC},
    "twilio.voice": {PUBLIC},
    "twilio.voice_answered": {PUBLIC},
    "twilio.call_back_confirm": {PUBLIC},
    "twilio.call_back_ended": {PUBLIC},
    "twilio.call_back_whisper": {PUBLIC},
    "twilio.voice_screen": {PUBLIC},
    "twilio.voice_screen_answer": {PUBLIC},
    "twilio.voice_status": {PUBLIC},
    "twilio.voice_step": {PUBLIC},
    "twilio.voice_transcription": {PUBLIC},
    # the operators' queue (#16): Twilio's, signed like every /twilio/ webhook
    "twilio.operator_leg_answered": {PUBLIC},
    "twilio.operator_leg_ended": {PUBLIC},
    "twilio.operator_leg_status": {PUBLIC},
    "twilio.queue_bridged": {PUBLIC},
    "twilio.queue_key": {PUBLIC},
    "twilio.queue_wait": {PUBLIC},
    # a line's public page and neighbour card (#13): counts only (tests/test_public_page.py)
    "public.line_page": {PUBLIC},
    "public.neighbour_card": {PUBLIC},
    # the account's own
    "auth.home": {OWN_LINES},
    "auth.logout": {SESSION},
    "auth.logout_everywhere": {SESSION},
    "accounts.profile": {OWN_LINES},
    "accounts.index": {OWN_LINES, COORDINATOR},
    "accounts.update": {LEUVEN_ID, COORDINATOR},
    "dashboard.index": {OWN_LINES},
    "dashboard.api_tokens": {OWN_LINES},
    "dashboard.revoke_api_token": {LEUVEN_ID},
    "requests.queue": {OWN_LINES},
    "requests.callbacks": {OWN_LINES},
    "requests.follow_up": {OWN_LINES},
    "requests.new": {OWN_LINES},
    "requests.detail": {LEUVEN_ID},
    "requests.triage_view": {LEUVEN_ID},
    "requests.duplicate": {LEUVEN_ID},
    "requests.cancel": {LEUVEN_ID},
    "assignments.panel": {LEUVEN_ID},
    "assignments.find": {LEUVEN_ID},
    "assignments.assign": {LEUVEN_ID},
    "assignments.ask_best": {LEUVEN_ID},
    "assignments.reply": {LEUVEN_ID},
    "calls.call_back": {LEUVEN_ID},
    "calls.recording": {LEUVEN_ID},
    "calls.lead_recording": {LEUVEN_ID},
    "live_calls.taken": {OWN_LINES},
    "live_calls.log": {LEUVEN_ID},
    "live_calls.dismiss": {LEUVEN_ID},
    "volunteers.index": {OWN_LINES},
    "volunteers.new": {OWN_LINES},
    "volunteers.edit": {LEUVEN_ID},
    "volunteers.deactivate": {LEUVEN_ID},
    "volunteers.reactivate": {LEUVEN_ID},
    "volunteers.leads": {OWN_LINES},
    "volunteers.lead_status": {LEUVEN_ID, COORDINATOR},
    "retention.forget": {LEUVEN_ID, COORDINATOR},
    "blocked_callers.index": {OWN_LINES, COORDINATOR},
    "blocked_callers.block": {LEUVEN_ID, COORDINATOR},
    "blocked_callers.unblock": {LEUVEN_ID, COORDINATOR},
    "audit_log.numbers": {OWN_LINES, COORDINATOR},
    # the API: every operation is walked through the OpenAPI document
    "api.openapi_json": {PUBLIC},
    "api.unknown_path": {API},
    "api.me": {API},
    "api.list_requests": {API},
    "api.get_request": {API},
    "api.change_request_status": {API},
    "api.list_volunteers": {API},
    "api.get_volunteer": {API},
    "api.list_assignments": {API},
    "api.statistics": {API},
}

HOW_TO_CLASSIFY = (
    "Classify it in ROUTES in tests/test_access_matrix.py: PUBLIC (no login), LEUVEN_ID "
    "(takes an id of another line's thing: must answer 404/403 through "
    "hotline.access.policy), OWN_LINES (a list or page of the account's own lines), "
    "SESSION, COORDINATOR (coordinators only), API (and document it in the OpenAPI "
    "document); add the id it takes to LeuvenThings.ids if it is a new kind of id."
)

# Form fields a forged POST might carry, so that a missing check would let the action through.
PLAUSIBLE_FORM = {
    "reason": "test of another town",
    "status": "dropped",
    "role": "coordinator",
    "active": "y",
    "lines": "tienen",
    "reply": "accepted",
    "original_reference": "000000",
    "category": "meal",
    "urgency": "today",
    "language": "nl",
    "postcode": "3000",
    "notes": "changed by Tienen",
    "name": "changed by Tienen",
    "confirm": "yes",
    "seen": "",
}


@pytest.fixture
def two_towns_app(app_config, tmp_path):
    """The repository's configuration with a second town, Tienen, beside Leuven."""
    app = create_app({**app_config, "config_file": two_towns_config(tmp_path)})
    yield app
    app.extensions["hotline.engine"].dispose()


@dataclass
class LeuvenThings:
    """Leuven's data, with the words that must never reach anyone of Tienen."""

    ids: dict[str, int]
    markers: tuple[str, ...]
    reference: str


def _leuven_things(app) -> LeuvenThings:
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        leuven = line_row(session, settings, "leuven")
        leo = create_operator(session, username="leo", display_name="Leo Leuvenaar",
                              password=STAFF_PASSWORD, locale="en", lines=["leuven"])  # fmt: skip
        contact = store_contact(session, settings.secrets, "+32470112233")
        help_request = create_help_request(
            session, line=leuven, contact=contact, postcode="3000", category="groceries",
            urgency="today", language="nl", recording_sid="RE" + "a" * 32,
            message="Leuven-secret-message about the shopping",
        )  # fmt: skip
        volunteer = Volunteer(line_id=leuven.id, name="Vera Leuvenaar", postcode="3000",
                              languages=["nl"], skills=["groceries"])  # fmt: skip
        lead = VolunteerLead(line_id=leuven.id, recording_sid="RE" + "b" * 32,
                             transcript="Leuven-lead-transcript")  # fmt: skip
        session.add_all([volunteer, lead])
        session.flush()
        assignment = Assignment(help_request_id=help_request.id, volunteer_id=volunteer.id,
                                code="4821", status="offered")  # fmt: skip
        # A call answered by a shared phone of Leuven: every Leuven operator may log it.
        call = CallSession(call_sid="CA" + "c" * 32, line_id=leuven.id, answered_at=utcnow())
        session.add_all([assignment, call])
        session.flush()
        ids = {
            "request_id": help_request.id,
            "volunteer_id": volunteer.id,
            "lead_id": lead.id,
            "assignment_id": assignment.id,
            "call_id": call.id,
            "operator_id": leo.id,
        }
        blocked = _leuven_block(session, leuven.id, help_request)
        if blocked is not None:
            ids["block_id"] = blocked
        session.commit()
        reference = help_request.reference
        ids["token_id"] = _token_id(session, create_token(session, operator_id=leo.id,
                                                          name="leo-weekly-report"))  # fmt: skip
    return LeuvenThings(
        ids=ids,
        markers=(
            "Vera Leuvenaar",
            "Leo Leuvenaar",
            "Leuven-secret-message",
            "Leuven-lead-transcript",
            "leo-weekly-report",
        ),  # fmt: skip
        reference=reference,
    )


def _leuven_block(session: Session, line_id: int, help_request: HelpRequest) -> int:
    block = BlockedCaller(line_id=line_id, caller_hash=help_request.caller_hash,
                          help_request_id=help_request.id)  # fmt: skip
    session.add(block)
    session.flush()
    return block.id


def _token_id(session: Session, raw: str) -> int:
    from hotline.access.api_tokens import hash_token

    return session.exec(select(ApiToken.id).where(ApiToken.token_hash == hash_token(raw))).one()


def _tienen_staff(app) -> dict[str, StaffClient | str]:
    """Tina (operator of Tienen), Toon (coordinator of Tienen), Olga (operator of every line),
    Leo (operator of Leuven, the control) and Tina's API token."""
    with Session(app.extensions["hotline.engine"]) as session:
        for username, role, lines in (
            ("tina", "operator", ["tienen"]),
            ("toon", "coordinator", ["tienen"]),
            ("olga", "operator", []),
        ):
            create_operator(session, username=username, display_name=username.title(),
                            password=STAFF_PASSWORD, locale="en", role=role,
                            lines=lines)  # fmt: skip
        tina_id = session.exec(select(Operator.id).where(Operator.username == "tina")).one()
        token = create_token(session, operator_id=tina_id, name="tina-report")
    return {
        "tina": StaffClient(app, "tina"),
        "toon": StaffClient(app, "toon"),
        "olga": StaffClient(app, "olga"),
        "leo": StaffClient(app, "leo"),
        "tina_token": token,
    }


def _snapshot(app, line_slug: str = "leuven") -> dict:
    """Every row of Leuven's (and every account and token), as plain values."""
    volatile = {"last_used_at", "last_login_at", "updated_at", "failed_logins", "locked_until"}

    def dump(rows) -> list[dict]:
        return sorted(
            ({k: v for k, v in row.model_dump().items() if k not in volatile} for row in rows),
            key=lambda values: values["id"],
        )

    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        line_id = line_row(session, settings, line_slug).id
        requests = list(session.exec(select(HelpRequest).where(HelpRequest.line_id == line_id)))
        request_ids = [r.id for r in requests]
        own = session.exec(
            select(Operator.id).where(col(Operator.username).in_(["tina", "toon"]))
        ).all()
        snapshot = {
            "requests": dump(requests),
            "volunteers": dump(session.exec(select(Volunteer).where(Volunteer.line_id == line_id))),
            "leads": dump(
                session.exec(select(VolunteerLead).where(VolunteerLead.line_id == line_id))
            ),
            "assignments": dump(session.exec(
                select(Assignment).where(col(Assignment.help_request_id).in_(request_ids))
            )),
            "calls": dump(session.exec(select(CallSession).where(CallSession.line_id == line_id))),
            # Everyone's but the two of Tienen, who may make tokens of their own.
            "accounts": dump(session.exec(select(Operator).where(col(Operator.id).not_in(own)))),
            "tokens": dump(
                session.exec(select(ApiToken).where(col(ApiToken.operator_id).not_in(own)))
            ),
            "sms": session.exec(select(func.count()).select_from(SmsMessage)).one(),
            "events": session.exec(
                select(func.count()).select_from(AuditEvent)
                .where(col(AuditEvent.help_request_id).in_(request_ids))
            ).one(),
        }  # fmt: skip
        blocks = select(BlockedCaller).where(BlockedCaller.line_id == line_id)
        snapshot["blocks"] = dump(session.exec(blocks))
    return snapshot


def _url(rule, ids: dict[str, int]) -> str:
    missing = [name for name in rule.arguments if name not in ids]
    assert not missing, f"{rule.endpoint} ({rule.rule}) takes {missing}: " + HOW_TO_CLASSIFY
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(ids[name]), path)
    return path


def _leaks(body: str, things: LeuvenThings) -> list[str]:
    found = [marker for marker in things.markers if marker.lower() in body.lower()]
    if re.search(rf"(?<![\w-]){re.escape(things.reference)}(?![\w-])", body):
        found.append(f"reference {things.reference}")
    return found


def _staff_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_classified(two_towns_app):
    unclassified = sorted(
        f"{rule.endpoint} ({', '.join(sorted(rule.methods - {'HEAD', 'OPTIONS'}))} {rule.rule})"
        for rule in two_towns_app.url_map.iter_rules()
        if rule.endpoint not in ROUTES
    )
    assert not unclassified, (
        "Routes the access matrix does not know: "
        + "; ".join(unclassified)
        + ". "
        + HOW_TO_CLASSIFY
    )
    gone = sorted(set(ROUTES) - {rule.endpoint for rule in two_towns_app.url_map.iter_rules()})
    assert not gone, f"ROUTES classifies endpoints that no longer exist: {gone}"


def test_nobody_of_tienen_reaches_anything_of_leuven_on_any_page(two_towns_app):
    app = two_towns_app
    things = _leuven_things(app)
    staff = _tienen_staff(app)
    before = _snapshot(app)
    # The control: Leuven's own operator sees Leuven's data, so the markers do show leaks.
    assert _leaks(staff["leo"].get("/requests/").get_data(as_text=True), things)
    assert staff["leo"].get(f"/requests/{things.ids['request_id']}").status_code == 200
    failures: list[str] = []
    walked = 0
    for rule, method in _staff_rules(app):
        kinds = ROUTES.get(rule.endpoint, set())
        if kinds & {PUBLIC, API, SESSION} or not kinds:
            continue
        url = _url(rule, things.ids)
        for who in ("tina", "toon"):
            walked += 1
            client = staff[who]
            response = client.get(url) if method == "GET" else client.post(url, PLAUSIBLE_FORM)
            status, body = response.status_code, response.get_data(as_text=True)
            where = f"{who}: {method} {url} ({rule.endpoint}) -> {status}"
            if status >= 500:
                failures.append(f"{where}: a server error")
            elif LEUVEN_ID in kinds and status not in (403, 404):
                failures.append(f"{where}: expected 404 or 403 for Leuven's id")
            elif leaks := _leaks(body, things):
                failures.append(f"{where}: shows Leuven's {leaks}")
            if method != "GET" and _snapshot(app) != before:
                failures.append(f"{where}: changed Leuven's data")
                before = _snapshot(app)
    assert walked > 50
    assert not failures, "\n".join(failures)


def test_an_operator_of_every_line_gets_403_on_every_coordinators_route(two_towns_app):
    app = two_towns_app
    things = _leuven_things(app)
    olga = _tienen_staff(app)["olga"]
    before = _snapshot(app)
    failures = []
    for rule, method in _staff_rules(app):
        if COORDINATOR not in ROUTES.get(rule.endpoint, set()):
            continue
        url = _url(rule, things.ids)
        response = olga.get(url) if method == "GET" else olga.post(url, PLAUSIBLE_FORM)
        if response.status_code != 403:
            failures.append(f"olga: {method} {url} -> {response.status_code}, expected 403")
    assert not failures, "\n".join(failures)
    assert _snapshot(app) == before


def test_logging_out_touches_nothing_of_leuven(two_towns_app):
    app = two_towns_app
    things = _leuven_things(app)
    _tienen_staff(app)
    before = _snapshot(app)
    for rule, method in _staff_rules(app):
        if SESSION not in ROUTES.get(rule.endpoint, set()):
            continue
        tina = StaffClient(app, "tina")  # a fresh session: the route may end it
        url = _url(rule, things.ids)
        response = tina.get(url) if method == "GET" else tina.post(url)
        assert response.status_code < 500, f"{method} {url} -> {response.status_code}"
        assert not _leaks(response.get_data(as_text=True), things)
    assert _snapshot(app) == before


# --- the API, operation by operation from its OpenAPI document ------------------------------


def _operations(app) -> list[tuple[str, str, dict]]:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    base = document.get("servers", [{"url": "/api/v1"}])[0]["url"].rstrip("/")
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append((method.upper(), base + path, operation))
    return operations


def test_every_api_route_is_in_the_openapi_document(two_towns_app):
    documented = {
        re.sub(r"\{[^}]+\}", "<>", path) for _method, path, _op in _operations(two_towns_app)
    }
    for rule in two_towns_app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.unknown_path":
            assert re.sub(r"<[^>]+>", "<>", rule.rule) in documented, (
                f"{rule.rule} is not in the OpenAPI document, so the access matrix cannot walk it"
            )


def test_a_tienen_token_reaches_nothing_of_leuven_through_any_api_operation(two_towns_app):
    app = two_towns_app
    things = _leuven_things(app)
    token = _tienen_staff(app)["tina_token"]
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    before = _snapshot(app)
    failures = []
    operations = _operations(app)
    assert len(operations) >= 9
    for method, template, operation in operations:
        if not operation.get("security", [{}]) and "openapi" in template:
            continue  # the public document itself
        path = re.sub(r"\{([^}]+)\}", lambda m: str(things.ids.get(m.group(1), 0)), template)
        names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        attempts = [path]
        if "line" in names:
            attempts.append(path + "?line=leuven")
        for url in attempts:
            if method == "GET":
                response = client.get(url, headers=headers)
            else:
                body = {"status": "cancelled", "reason": "cancelled by Tienen"}
                response = client.open(url, method=method, json=body, headers=headers)
            status, text = response.status_code, response.get_data(as_text=True)
            where = f"token of tina: {method} {url} -> {status}"
            if status >= 500:
                failures.append(f"{where}: a server error")
            elif "{" in template and status not in (403, 404):
                failures.append(f"{where}: expected 404 or 403 for Leuven's id")
            elif "line=leuven" in url and status != 404:
                failures.append(f"{where}: expected 404 for another town's line")
            elif leaks := _leaks(text, things):
                failures.append(f"{where}: shows Leuven's {leaks}")
            if method != "GET" and _snapshot(app) != before:
                failures.append(f"{where}: changed Leuven's data")
    assert not failures, "\n".join(failures)


def test_a_tienen_tokens_statistics_count_only_tienen(two_towns_app, db_session):
    app = two_towns_app
    _leuven_things(app)
    token = _tienen_staff(app)["tina_token"]
    settings = app.extensions["hotline.settings"]
    tienen = line_row(db_session, settings, "tienen")
    create_help_request(db_session, line=tienen, contact=None, postcode="3300")
    db_session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    everything_of_mine = client.get("/api/v1/statistics", headers=headers).get_json()
    tienen_only = client.get("/api/v1/statistics?line=tienen", headers=headers).get_json()
    listed = client.get("/api/v1/requests", headers=headers).get_json()

    assert everything_of_mine["open_total"] == tienen_only["open_total"] == 1
    assert listed["total"] == 1 and listed["items"][0]["line"] == "tienen"
    assert sum(day["count"] for day in everything_of_mine["requests_per_day"]) == 1


def test_leuvens_own_operator_and_token_still_reach_leuven(two_towns_app):
    """The other side of the matrix: the policy hides other towns, not one's own town."""
    app = two_towns_app
    things = _leuven_things(app)
    staff = _tienen_staff(app)
    leo = staff["leo"]
    for path in (
        f"/requests/{things.ids['request_id']}",
        f"/volunteers/{things.ids['volunteer_id']}",
        f"/requests/{things.ids['request_id']}/assignments",
    ):
        assert leo.get(path).status_code == 200, path
    with Session(app.extensions["hotline.engine"]) as session:
        leo_id = session.exec(select(Operator.id).where(Operator.username == "leo")).one()
        token = create_token(session, operator_id=leo_id, name="leo check")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    listed = client.get("/api/v1/requests?line=leuven", headers=headers).get_json()
    assert [item["reference"] for item in listed["items"]] == [things.reference]
    volunteers = client.get("/api/v1/volunteers", headers=headers).get_json()
    assert [v["name"] for v in volunteers["items"]] == ["Vera Leuvenaar"]
    assert client.get("/api/v1/requests?line=tienen", headers=headers).status_code == 404


# The models a new table would need a filter for in hotline.access.policy.
def test_every_table_with_a_line_has_a_policy_filter():
    from hotline.access import policy

    filtered = {
        "help_request",
        "volunteer",
        "volunteer_lead",
        "blocked_caller",
        "volunteer_application",
    }
    with_line = {
        table.name for table in SQLModel.metadata.sorted_tables if "line_id" in table.columns
    }
    # call_session: never listed, each one checked (policy.check_call); sms_message: reached
    # only through its assignment (policy.check_assignment); purge_run: counts only, shown
    # on no page; operator_wait: a caller waiting in the line's queue, read by Twilio's
    # webhooks and the ringing jobs only, shown on no page.
    allowed_elsewhere = {"call_session", "sms_message", "purge_run", "operator_wait"}
    assert with_line - filtered - allowed_elsewhere == set(), (
        "a new table with a line_id: add its filter to hotline.access.policy and this list"
    )
    assert policy.on_lines  # the one helper every filter is built on
