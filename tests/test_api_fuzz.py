"""Schemathesis against the API's own OpenAPI document: 0 × 5xx, answers as documented.

Every operation of /api/v1/openapi.json gets data that fits the document (positive) and
data that does not (negative: wrong types, numbers out of range, huge values), sent with
a coordinator's token to a database holding requests, volunteers and assignments. Every
answer must be a 2xx or a documented 4xx, with the documented content type and schema;
data the document says is invalid must be refused. Hypothesis runs derandomized with a
bounded number of examples, so CI sees the same cases on every run.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Request, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from werkzeug.datastructures import ImmutableMultiDict

from hotline.access.api_tokens import create_token
from tests.stats_api_data import make_assignment, make_request, make_volunteer

EXAMPLES = {GenerationMode.POSITIVE: 150, GenerationMode.NEGATIVE: 100}
KNOWN_IDS = {"request_id": 2, "volunteer_id": 1}  # made by the token fixture


@pytest.fixture
def token(app, db_session, staff) -> str:
    """A coordinator's token, on a database with a few requests, volunteers and assignments."""
    vera = make_volunteer(app, db_session, name="Vera", availability={"mon": ["09:00-12:00"]})
    wim = make_volunteer(app, db_session, name="Wim", number=None, active=False)
    for status, volunteer in (("new", None), ("triaged", vera), ("assigned", wim), ("done", vera)):
        help_request = make_request(
            app, db_session, status=status, category="meal", postcode="3000", language="nl"
        )
        if volunteer is not None:
            make_assignment(db_session, help_request=help_request, volunteer=volunteer)
    return create_token(db_session, operator_id=staff["cor"], name="fuzz")


@pytest.fixture
def schema(app):
    """The API's document, as the running app serves it (the token is sent by the test)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)
    return schema


def _operations(schema):
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {"GET /requests", "POST /requests/{request_id}/status", "GET /statistics"} <= labels
    return operations


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(EXAMPLES), ids=str)
def test_no_api_operation_answers_a_5xx_or_strays_from_its_document(schema, token, mode):
    headers = {"Authorization": f"Bearer {token}"}
    statuses: dict[str, list[int]] = {}
    for operation in _operations(schema):
        raw = operation.definition.raw
        if mode == GenerationMode.NEGATIVE and not (raw.get("parameters") or "requestBody" in raw):
            continue  # nothing in the request to make invalid (GET /me)

        cases = operation.as_strategy(generation_mode=mode)
        path_names = [p["name"] for p in raw.get("parameters", []) if p.get("in") == "path"]
        known = {name: KNOWN_IDS[name] for name in path_names}
        if known:  # random ids are all unknown: half of the cases ask for rows that exist
            cases = st.one_of(cases, operation.as_strategy(mode, path_parameters=known))

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES[mode],
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            response = case.call_and_validate(headers=headers)
            statuses.setdefault(case.operation.label, []).append(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path)

        call()

    # Every operation was really exercised: valid data was answered, invalid data refused.
    assert set(statuses) >= {"GET /requests", "GET /requests/{request_id}", "GET /statistics"}
    for label, seen in statuses.items():
        if mode == GenerationMode.POSITIVE:
            assert 200 in seen or label == "GET /openapi.json", (label, sorted(set(seen)))
        else:
            assert any(400 <= status < 500 for status in seen), (label, sorted(set(seen)))


def test_an_unauthenticated_fuzzed_call_is_always_a_401(schema):
    # Without a token nothing but the document itself answers (and it never says more).
    for operation in _operations(schema):
        if operation.path == "/openapi.json":
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=5, derandomize=True, deadline=None, database=None)
        def call(case):
            response = case.call()
            assert response.status_code == 401, (case.method, case.formatted_path)

        call()


class RecordingArgs(ImmutableMultiDict):
    """Query arguments that note every name a handler asks for."""

    asked: set[str]

    def get(self, key, *args, **kwargs):
        self.asked.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key, *args, **kwargs):
        self.asked.add(key)
        return super().getlist(key, *args, **kwargs)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


class RecordingBody(dict):
    """A JSON body that notes every member a handler asks for."""

    asked: set[str]

    def get(self, key, *args):
        self.asked.add(key)
        return super().get(key, *args)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)


def test_the_document_names_exactly_the_parameters_and_members_each_handler_reads(
    app, token, monkeypatch
):
    asked: set[str] = set()

    @app.before_request
    def _record_args():
        args = RecordingArgs(request.args)
        args.asked = asked
        request.args = args

    get_json = Request.get_json

    def recording_get_json(self, *args, **kwargs):
        body = get_json(self, *args, **kwargs)
        if isinstance(body, dict):
            body = RecordingBody(body)
            body.asked = asked
        return body

    monkeypatch.setattr(Request, "get_json", recording_get_json)
    client = app.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    shared = document["components"]["parameters"]
    headers = {"Authorization": f"Bearer {token}"}
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            parameters = [
                shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
                for p in operation.get("parameters", [])
            ]
            documented = {p["name"] for p in parameters if p["in"] == "query"}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                schema = document["components"]["schemas"][body["schema"]["$ref"].rsplit("/")[-1]]
                documented |= set(schema["properties"])
            url = "/api/v1" + path.replace("{request_id}", "2").replace("{volunteer_id}", "1")
            asked.clear()
            response = client.open(
                url, method=method.upper(), headers=headers, json={"status": "done"}
            )
            assert response.status_code < 500, (method, path)
            assert asked - documented == set(), (method, path, "read, but not documented")
            assert documented - asked == set(), (method, path, "documented, but never read")
            checked += 1

    assert checked >= 8
