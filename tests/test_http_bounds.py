"""Numbers at the edges: an id or a number out of range is a 404 or a 400, never a 500.

A huge id used to reach the database (``OverflowError`` on SQLite, "integer out of
range" on PostgreSQL). The app's ``int`` converter now matches only 0..2**31-1, for
every blueprint at once; query and form values with ids are bounded where they are read.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from hotline.http_bounds import MAX_ID
from tests.volunteers_helpers import make_request, make_volunteer

OUT_OF_RANGE = ["99999999999999999999", str(MAX_ID + 1), "1" + "0" * 400, "²", "١٢"]


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        if any(type(c).__name__ == "BoundedIntegerConverter" for c in rule._converters.values()):
            yield rule


def _path(rule, value: str) -> str:
    return re.sub(r"<int:\w+>", value, rule.rule)


def test_every_int_route_of_the_app_uses_the_bounded_converter(app):
    written = {rule.rule for rule in app.url_map.iter_rules() if "<int:" in rule.rule}
    bounded = {rule.rule for rule in _int_rules(app)}

    assert written, "no route with an id?"
    assert written == bounded


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_coordinator_asking_for_a_huge_id_on_any_page_gets_a_404(app, coordinator, value):
    for rule in _int_rules(app):
        if rule.rule.startswith(("/twilio", "/api")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = coordinator.client.open(_path(rule, value), method=method)
            assert response.status_code == 404, (method, rule.rule, response.status)


def test_the_largest_id_that_fits_is_looked_up_and_not_found(app, coordinator):
    for rule in _int_rules(app):
        if rule.rule.startswith(("/twilio", "/api")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": coordinator.csrf_token} if method == "POST" else None
            response = coordinator.client.open(_path(rule, str(MAX_ID)), method=method, data=data)
            assert response.status_code in (302, 400, 403, 404), (
                method,
                rule.rule,
                response.status,
            )


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_huge_id_in_a_signed_webhook_url_is_a_404(app, twilio, value):
    for rule in _int_rules(app):
        if not rule.rule.startswith("/twilio"):
            continue
        response = twilio.post(_path(rule, value), {"CallSid": "CA" + "0" * 32})
        assert response.status_code == 404, (rule.rule, response.status)


def test_the_api_answers_a_huge_id_with_a_json_404(app, db_session, staff):
    from hotline.access.api_tokens import create_token

    token = create_token(db_session, operator_id=staff["cor"], name="probe")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/requests/{}", "/volunteers/{}"):
        for value in OUT_OF_RANGE:
            response = client.get("/api/v1" + path.format(value), headers=headers)
            assert response.status_code == 404, (path, value)
            assert response.mimetype == "application/problem+json"
        response = client.post(
            f"/api/v1/requests/{OUT_OF_RANGE[0]}/status", headers=headers, json={"status": "done"}
        )
        assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "/requests?offset=99999999999999999999",
        "/requests?limit=99999999999999999999",
        "/requests?offset=²",
        f"/requests?offset={MAX_ID + 1}",
        "/assignments?request_id=99999999999999999999",
        "/assignments?volunteer_id=99999999999999999999",
        "/assignments?volunteer_id=0",
        "/requests?updated_since=2026-13-01T00:00:00Z",
        "/requests?updated_since=",
        "/requests?limit=",
        "/requests?status=",
        "/requests?postcode=30%0000",
        "/requests?postcode=" + "3" * 101,
        "/volunteers?" + "&".join(["language=nl"] * 51),
    ],
)
def test_api_query_values_out_of_range_are_a_400(app, db_session, staff, query):
    from hotline.access.api_tokens import create_token

    token = create_token(db_session, operator_id=staff["cor"], name="probe")
    response = app.test_client().get(
        "/api/v1" + query, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2016-12-31T23:59:60z"]
)
def test_the_first_and_last_moments_and_a_leap_second_are_moments_too(
    app, db_session, staff, moment
):
    from hotline.access.api_tokens import create_token

    token = create_token(db_session, operator_id=staff["cor"], name="probe")
    response = app.test_client().get(
        "/api/v1/requests",
        query_string={"updated_since": moment},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.get_json()


def test_the_largest_offset_that_fits_gives_an_empty_page(app, db_session, staff):
    from hotline.access.api_tokens import create_token

    token = create_token(db_session, operator_id=staff["cor"], name="probe")
    response = app.test_client().get(
        f"/api/v1/requests?offset={MAX_ID}", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    assert response.get_json()["items"] == []


@pytest.mark.parametrize("volunteer_id", ["99999999999999999999", str(MAX_ID + 1), "-1", "²"])
def test_assigning_a_volunteer_id_out_of_range_asks_to_choose_a_volunteer(
    app, db_session, operator, volunteer_id
):
    from hotline.models import Assignment

    help_request = make_request(app, db_session)
    make_volunteer(app, db_session)

    response = operator.post(
        f"/requests/{help_request.id}/assign",
        {"volunteer_id": volunteer_id},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "Choose a volunteer to assign." in response.get_data(as_text=True)
    assert db_session.exec(select(Assignment)).all() == []


@pytest.mark.parametrize("seen", ["1" * 5000 + "L", "99999999999999999999E", "²L", "-", ""])
def test_the_taken_calls_poll_survives_any_seen_token(app, operator, seen):
    response = operator.get("/calls/taken", query_string={"seen": seen})

    assert response.status_code in (200, 204)


def test_a_nul_character_in_a_filter_or_a_form_is_a_400_and_changes_nothing(
    app, db_session, operator
):
    help_request = make_request(app, db_session)

    assert operator.get("/requests/", query_string={"postcode": "30\x0000"}).status_code == 400
    assert operator.get("/volunteers/", query_string={"q": "Ve\x00ra"}).status_code == 400
    assert operator.get("/volunteers/?q=Vera&q=Ve%00ra").status_code == 400
    response = operator.post(
        f"/requests/{help_request.id}/cancel", {"reason": "the family\x00 helps"}
    )
    assert response.status_code == 400
    db_session.refresh(help_request)
    assert help_request.status == "new"


def test_a_transcript_with_control_characters_is_stored_without_them(app, db_session, twilio):
    # PostgreSQL cannot store a NUL in text: the webhook would answer 500 there.
    help_request = make_request(app, db_session)
    help_request.recording_sid = "RE" + "0" * 32
    db_session.add(help_request)
    db_session.commit()

    response = twilio.post(
        "/twilio/voice/transcription",
        {"RecordingSid": "RE" + "0" * 32, "TranscriptionText": "boodschappen\x00 graag\x07"},
    )

    assert response.status_code == 204
    db_session.refresh(help_request)
    assert help_request.transcript == "boodschappen  graag "


@pytest.mark.parametrize("path", ["/requests/%0A8", "/requests/1%0A", "/%0A"])
def test_an_api_path_that_matches_no_rule_at_all_is_a_json_404(app, db_session, staff, path):
    from hotline.access.api_tokens import create_token

    token = create_token(db_session, operator_id=staff["cor"], name="probe")
    response = app.test_client().get("/api/v1" + path, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_page_that_does_not_exist_is_still_the_usual_404_page(app, operator):
    response = operator.get("/requests/%0A8")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
