"""The JSON API: tokens, filters, pagination, status changes, privacy and its OpenAPI document.

Any staff account's token may use the API (operators as much as coordinators);
what a token changes is audited in the name of the account it belongs to.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from hotline.access.api_tokens import (
    TokenError,
    authenticate_token,
    create_token,
    list_tokens,
    revoke_token,
)
from hotline.audit import history
from hotline.models import ApiToken, HelpRequest, Operator
from tests.stats_api_data import (
    CALLER_NUMBERS,
    VOLUNTEER_NUMBERS,
    make_assignment,
    make_request,
    make_volunteer,
)


class Api:
    """A client of the API that sends a bearer token."""

    def __init__(self, app, token: str | None):
        self.client = app.test_client()
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **kwargs):
        return self.client.get("/api/v1" + path, headers=self._headers(), **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post("/api/v1" + path, headers=self._headers(), **kwargs)


@pytest.fixture
def olga_token(app, db_session, staff) -> str:
    """An API token of Olga, an operator (not a coordinator)."""
    return create_token(db_session, operator_id=staff["olga"], name="weekly report")


@pytest.fixture
def api(app, olga_token) -> Api:
    return Api(app, olga_token)


# --- tokens -----------------------------------------------------------------------------


def test_only_the_hash_of_a_token_is_stored(db_session, staff):
    raw = create_token(db_session, operator_id=staff["cor"], name="city dashboard")

    stored = db_session.exec(select(ApiToken)).one()
    assert raw.startswith("hlt_") and len(raw) > 40
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in stored.model_dump_json()
    assert stored.name == "city dashboard"
    assert list_tokens(db_session, operator_id=staff["cor"]) == [stored]


def test_a_token_needs_a_name_and_an_active_account(db_session, staff):
    with pytest.raises(TokenError):
        create_token(db_session, operator_id=staff["olga"], name="  ")
    olga = db_session.get(Operator, staff["olga"])
    olga.active = False
    db_session.add(olga)
    db_session.commit()
    with pytest.raises(TokenError):
        create_token(db_session, operator_id=staff["olga"], name="report")


def test_the_operator_token_command_prints_a_token_that_works(
    app, staff, database_url, redis_url, tmp_path, monkeypatch
):
    from click.testing import CliRunner

    from hotline.cli import cli

    if "token" not in getattr(cli.commands.get("operator"), "commands", {}):
        pytest.skip("`hotline operator token` is not registered in hotline/cli.py yet")
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_REDIS_URL", redis_url)

    result = CliRunner().invoke(cli, ["operator", "token", "Olga", "--name", "report"])

    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert raw.startswith("hlt_") and "\n" not in raw  # alone on stdout: easy to pipe
    assert Api(app, raw).get("/me").get_json()["username"] == "olga"
    unknown = CliRunner().invoke(cli, ["operator", "token", "nobody", "--name", "report"])
    assert unknown.exit_code != 0


def test_using_a_token_notes_when_it_was_last_used(db_session, staff, olga_token):
    moment = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)

    operator = authenticate_token(db_session, olga_token, now=moment)

    assert operator.id == staff["olga"]
    assert db_session.exec(select(ApiToken)).one().last_used_at == moment


def test_the_api_refuses_a_call_without_a_token(app, olga_token):
    response = Api(app, None).get("/requests")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "missing_token"


@pytest.mark.parametrize("wrong", ["hlt_not-a-real-token", "nonsense", "Basic b2xnYTpwdw=="])
def test_the_api_refuses_a_wrong_token(app, olga_token, wrong):
    response = Api(app, wrong).get("/requests")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.get_json()["status"] == 401


def test_a_token_that_is_not_sent_as_bearer_is_refused(app, olga_token):
    response = app.test_client().get(
        "/api/v1/requests", headers={"Authorization": f"Token {olga_token}"}
    )

    assert response.status_code == 401


def test_a_revoked_token_is_refused(app, db_session, api, olga_token):
    assert api.get("/requests").status_code == 200
    token = db_session.exec(select(ApiToken)).one()

    revoke_token(db_session, token_id=token.id)

    response = api.get("/requests")
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"
    assert authenticate_token(db_session, olga_token) is None


def test_a_token_stops_working_when_its_account_is_deactivated(app, db_session, staff, api):
    olga = db_session.get(Operator, staff["olga"])
    olga.active = False
    db_session.add(olga)
    db_session.commit()

    assert api.get("/requests").status_code == 401


def test_an_operator_token_may_use_the_api_and_says_whose_it_is(api):
    response = api.get("/me")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "id": response.get_json()["id"],
        "username": "olga",
        "display_name": "Olga Peeters",
        "role": "operator",
    }


# --- help requests ----------------------------------------------------------------------


def test_requests_can_be_filtered_by_status_need_area_and_language(app, db_session, api):
    groceries_nl = make_request(
        app, db_session, category="groceries", postcode="3000", language="nl"
    )
    make_request(app, db_session, category="dog", postcode="3010", language="fr")
    triaged = make_request(
        app, db_session, status="triaged", category="groceries", postcode="3010", language="fr"
    )
    make_request(app, db_session, status="done", category="groceries", postcode="3000")

    def ids(query: str) -> set[int]:
        response = api.get("/requests" + query)
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}

    assert ids("?category=groceries&status=new") == {groceries_nl.id}
    assert ids("?status=new,triaged&postcode=3010&category=groceries") == {triaged.id}
    assert ids("?language=fr&status=triaged") == {triaged.id}
    assert ids("?status=new&status=triaged&language=nl") == {groceries_nl.id}
    assert len(ids("")) == 4
    assert ids("?line=leuven&postcode=9999") == set()


def test_requests_are_paginated_newest_first(app, db_session, api):
    start = datetime(2026, 3, 18, 8, 0, tzinfo=UTC)
    made = [
        make_request(app, db_session, number=None, created_at=start + timedelta(minutes=n))
        for n in range(5)
    ]

    first = api.get("/requests?limit=2").get_json()
    second = api.get("/requests?limit=2&offset=2").get_json()
    last = api.get("/requests?limit=2&offset=4").get_json()

    assert first["total"] == second["total"] == last["total"] == 5
    assert (first["limit"], second["offset"]) == (2, 2)
    seen = [item["id"] for page in (first, second, last) for item in page["items"]]
    assert seen == [r.id for r in reversed(made)]


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=1000",
        "?limit=ten",
        "?offset=-1",
        "?status=lost",
        "?line=atlantis",
        "?updated_since=yesterday",
        "?updated_since=2026-03-18T08:00:00",
    ],
)
def test_bad_parameters_are_answered_with_400(api, query):
    response = api.get("/requests" + query)

    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_parameter"


def test_requests_changed_since_a_moment_can_be_fetched(app, db_session, api):
    old = make_request(app, db_session, created_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    fresh = make_request(app, db_session, created_at=datetime(2026, 3, 18, 8, 0, tzinfo=UTC))

    items = api.get("/requests?updated_since=2026-03-10T00:00:00Z").get_json()["items"]

    assert [item["id"] for item in items] == [fresh.id]
    assert old.id != fresh.id


def test_a_request_shows_its_assignments_and_its_history(app, db_session, api):
    help_request = make_request(app, db_session, status="triaged", postcode="3001")
    volunteer = make_volunteer(app, db_session, name="Vera Vos")
    assignment = make_assignment(db_session, help_request=help_request, volunteer=volunteer)

    body = api.get(f"/requests/{help_request.id}").get_json()

    assert body["reference"] == help_request.reference
    assert body["municipality"] == "Heverlee"
    assert body["assignments"] == [
        {
            "id": assignment.id,
            "request_id": help_request.id,
            "volunteer_id": volunteer.id,
            "status": "offered",
            "assigned_by_id": None,
            "created_at": assignment.created_at.isoformat(),
            "responded_at": None,
        }
    ]
    assert body["history"] == []


def test_an_unknown_request_is_a_json_404(api):
    response = api.get("/requests/999999")

    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_a_status_change_is_audited_in_the_name_of_the_tokens_account(app, db_session, staff, api):
    help_request = make_request(app, db_session, status="new")

    response = api.post(f"/requests/{help_request.id}/status", json={"status": "triaged"})

    assert response.status_code == 200
    assert response.get_json()["status"] == "triaged"
    db_session.refresh(help_request)
    assert help_request.status == "triaged"
    (event,) = history(db_session, help_request_id=help_request.id)
    assert event.operator_id == staff["olga"]
    assert event.detail == {"from": "new", "to": "triaged"}
    assert response.get_json()["history"][0]["operator_id"] == staff["olga"]


def test_an_illegal_status_change_is_a_409_and_changes_nothing(app, db_session, api):
    help_request = make_request(app, db_session, status="done")

    response = api.post(f"/requests/{help_request.id}/status", json={"status": "triaged"})

    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "illegal_transition"
    assert (body["current_status"], body["allowed"]) == ("done", [])
    db_session.refresh(help_request)
    assert help_request.status == "done"
    assert history(db_session, help_request_id=help_request.id) == []


def test_cancelling_by_api_needs_a_reason_and_keeps_numbers_out_of_it(app, db_session, api):
    help_request = make_request(app, db_session, status="triaged")
    path = f"/requests/{help_request.id}/status"

    refused = api.post(path, json={"status": "cancelled"})
    response = api.post(
        path, json={"status": "cancelled", "reason": "Resident called: bel 0470 11 22 33"}
    )

    assert refused.status_code == 400
    assert refused.get_json()["code"] == "reason_required"
    assert response.status_code == 200
    db_session.refresh(help_request)
    assert help_request.cancel_reason == "Resident called: bel [number]"
    (event,) = history(db_session, help_request_id=help_request.id)
    assert "0470" not in str(event.detail)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"status": "assigned"}, "invalid_status"),
        ({"status": "flying"}, "invalid_status"),
        ({}, "invalid_status"),
        (["triaged"], "invalid_body"),
        ({"status": "done", "reason": 42}, "invalid_reason"),
    ],
)
def test_a_status_change_that_makes_no_sense_is_a_400(app, db_session, api, body, code):
    help_request = make_request(app, db_session, status="triaged")

    response = api.post(f"/requests/{help_request.id}/status", json=body)

    assert response.status_code == 400
    assert response.get_json()["code"] == code


def test_a_status_change_without_json_is_a_400(app, db_session, api):
    help_request = make_request(app, db_session, status="triaged")

    response = api.post(f"/requests/{help_request.id}/status", data="status=done")

    assert response.status_code == 400


# --- volunteers and assignments ---------------------------------------------------------


def test_volunteers_are_listed_without_phone_numbers(app, db_session, api):
    make_volunteer(app, db_session, name="Vera Vos", number=VOLUNTEER_NUMBERS[0])
    make_volunteer(app, db_session, name="Anton Aerts", number=None)

    items = api.get("/volunteers").get_json()["items"]

    assert [(v["name"], v["has_phone"]) for v in items] == [
        ("Anton Aerts", False),
        ("Vera Vos", True),
    ]
    assert all("phone" not in key or key == "has_phone" for v in items for key in v)


def test_volunteers_can_be_filtered_by_language_skill_area_and_activity(app, db_session, api):
    vera = make_volunteer(
        app, db_session, name="Vera", languages=["nl", "fr"], skills=["groceries", "dog"]
    )
    make_volunteer(app, db_session, name="Anton", languages=["nl"], skills=["talk"], number=None)
    make_volunteer(
        app, db_session, name="Bert", postcode="3010", active=False, number=VOLUNTEER_NUMBERS[1]
    )

    def names(query: str) -> list[str]:
        response = api.get("/volunteers" + query)
        assert response.status_code == 200, response.get_json()
        return [v["name"] for v in response.get_json()["items"]]

    assert names("?language=fr") == ["Vera"]
    assert names("?skill=dog&language=nl") == ["Vera"]
    assert names("?skill=dog,talk") == []  # all of them
    assert names("?postcode=3010") == ["Bert"]
    assert names("?active=true") == ["Anton", "Vera"]
    assert names("?active=false") == ["Bert"]
    assert api.get("/volunteers?active=maybe").status_code == 400
    detail = api.get(f"/volunteers/{vera.id}").get_json()
    assert (detail["name"], detail["open_assignments"]) == ("Vera", 0)
    assert api.get("/volunteers/999999").status_code == 404


def test_assignments_can_be_filtered_by_request_volunteer_and_status(app, db_session, api):
    first = make_request(app, db_session, status="assigned")
    second = make_request(app, db_session, status="accepted", number=CALLER_NUMBERS[1])
    vera = make_volunteer(app, db_session, name="Vera")
    bert = make_volunteer(app, db_session, name="Bert", number=VOLUNTEER_NUMBERS[1])
    declined = make_assignment(db_session, help_request=first, volunteer=vera, status="declined")
    offered = make_assignment(db_session, help_request=first, volunteer=bert)
    accepted = make_assignment(db_session, help_request=second, volunteer=vera, status="accepted")

    def ids(query: str) -> set[int]:
        response = api.get("/assignments" + query)
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}

    assert ids(f"?request_id={first.id}") == {declined.id, offered.id}
    assert ids(f"?volunteer_id={vera.id}") == {declined.id, accepted.id}
    assert ids(f"?volunteer_id={vera.id}&status=accepted") == {accepted.id}
    assert ids("?status=offered,accepted") == {offered.id, accepted.id}
    assert api.get("/assignments?status=lost").status_code == 400
    assert api.get("/assignments?request_id=abc").status_code == 400
    assert api.get(f"/volunteers/{vera.id}").get_json()["open_assignments"] == 1


def test_the_statistics_are_counts_only(app, db_session, api):
    make_request(app, db_session, status="new", category="meal", language="fr")
    make_request(app, db_session, status="done", number=CALLER_NUMBERS[1])

    body = api.get("/statistics?line=leuven").get_json()

    assert body["open_total"] == 1
    assert body["open_by_category"] == {"meal": 1}
    assert body["waiting_by_language"] == {"fr": 1}
    assert len(body["requests_per_day"]) == 14
    assert body["requests_per_day"][-1]["count"] == 2
    assert body["timezone"] == "Europe/Brussels"


# --- errors and privacy -----------------------------------------------------------------


def test_unknown_paths_and_wrong_methods_are_answered_in_json(api):
    unknown = api.get("/nothing/here")
    wrong_method = api.post("/requests")

    assert unknown.status_code == 404
    assert unknown.mimetype == "application/problem+json"
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "GET"
    assert wrong_method.get_json()["status"] == 405


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_no_phone_number_appears_in_any_api_response(app, db_session, api):
    requests_ = [
        make_request(
            app,
            db_session,
            number=number,
            category="groceries",
            postcode="3000",
            language="nl",
            message=f"Mijn nummer is {number[:3]} {number[3:6]} {number[6:]}",
        )
        for number in CALLER_NUMBERS
    ]
    requests_[0].notes = "Terugbellen op 0470/11.22.33 na 14u"
    requests_[0].transcript = "bel mij op nul vier zeventig of 0471445566"
    db_session.add(requests_[0])
    db_session.commit()
    volunteers = [
        make_volunteer(app, db_session, name=f"Volunteer {n}", number=number)
        for n, number in enumerate(VOLUNTEER_NUMBERS)
    ]
    make_assignment(db_session, help_request=requests_[0], volunteer=volunteers[0])
    api.post(f"/requests/{requests_[1].id}/status", json={"status": "triaged"})
    api.post(
        f"/requests/{requests_[2].id}/status",
        json={"status": "cancelled", "reason": "dubbel, zie +32 472 77 88 99"},
    )
    stored = db_session.exec(select(HelpRequest)).all()
    assert all(r.contact_id and r.caller_hash for r in stored)  # the numbers are in the vault

    paths = ["/requests", "/volunteers", "/assignments", "/statistics", "/me"]
    paths += [f"/requests/{r.id}" for r in requests_]
    paths += [f"/volunteers/{v.id}" for v in volunteers]
    bodies = {path: api.get(path).get_data(as_text=True) for path in paths}

    for path, body in bodies.items():
        for number in CALLER_NUMBERS + VOLUNTEER_NUMBERS:
            national = number[3:]  # 470112233: however it was written, without +32 or 0
            assert national not in _digits(body), f"{number} shows in {path}"
        for secret_field in ("caller_hash", "contact_id", "call_sid", "encrypted"):
            assert secret_field not in body, f"{secret_field} shows in {path}"
    for r in stored:
        assert r.caller_hash not in "".join(bodies.values())
    assert "[number]" in bodies[f"/requests/{requests_[0].id}"]


# --- the OpenAPI document ---------------------------------------------------------------


def _api_routes(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route on the api blueprint."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        if rule.endpoint == "api.unknown_path":  # the JSON 404/405 catch-all, not an endpoint
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def test_the_openapi_document_needs_no_token(app):
    response = app.test_client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")


def test_every_api_route_is_described_in_the_openapi_document(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    described = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }

    routes = _api_routes(app)

    assert routes, "the api blueprint has no routes?"
    assert routes == described
    for method, path in routes:
        operation = document["paths"][path][method]
        declared = {p["name"] for p in operation.get("parameters", []) if "name" in p}
        assert set(re.findall(r"{(\w+)}", path)) <= declared, (method, path)
        assert "200" in operation["responses"]
        if operation.get("security") != []:
            assert "401" in operation["responses"], (method, path)


def test_the_openapi_document_is_well_formed(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()

    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    # Every reference points at something that exists.
    text = str(document)
    for kind, name in re.findall(r"#/components/(\w+)/(\w+)", text):
        assert name in document["components"][kind], f"dangling $ref {kind}/{name}"
    operation_ids = [
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_the_openapi_document_passes_the_openapi_validator(app):
    validator = pytest.importorskip("openapi_spec_validator")
    document = app.test_client().get("/api/v1/openapi.json").get_json()

    validator.validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_real_responses_match_their_documented_schemas(app, db_session, api, staff):
    jsonschema = pytest.importorskip("jsonschema")
    document = api.get("/openapi.json").get_json()
    help_request = make_request(
        app, db_session, status="triaged", category="meal", postcode="3000", language="nl"
    )
    volunteer = make_volunteer(app, db_session, name="Vera", availability={"mon": ["09:00-12:00"]})
    make_assignment(db_session, help_request=help_request, volunteer=volunteer)
    api.post(f"/requests/{help_request.id}/status", json={"status": "done"})

    def check(path: str, schema: str, status: int = 200, method: str = "get", **kwargs):
        response = getattr(api, method)(path, **kwargs)
        assert response.status_code == status, response.get_json()
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
        )
        validator.validate(response.get_json())

    check("/me", "Operator")
    check("/requests", "HelpRequestPage")
    check(f"/requests/{help_request.id}", "HelpRequestDetail")
    check("/volunteers", "VolunteerPage")
    check(f"/volunteers/{volunteer.id}", "VolunteerDetail")
    check("/assignments", "AssignmentPage")
    check("/statistics", "Statistics")
    check("/requests/999999", "Problem", 404)
    check(f"/requests/{help_request.id}/status", "Problem", 409, "post", json={"status": "triaged"})


def test_cancelling_through_the_api_withdraws_the_volunteers_open_offer(app, db_session, api):
    from hotline.dispatch import assign_volunteer
    from hotline.models import Assignment
    from tests.volunteers_helpers import leuven, make_request, make_volunteer

    help_request = make_request(app, db_session)
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=make_volunteer(app, db_session),
        operator_id=None,
    )
    response = api.post(
        f"/requests/{help_request.id}/status",
        json={"status": "cancelled", "reason": "the family helps"},
    )
    assert response.status_code == 200
    db_session.expire_all()
    assert db_session.get(Assignment, offer.id).status == "cancelled"
