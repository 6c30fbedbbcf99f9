"""The call centre: logging in, permissions, CSRF, the live queue, triage and live intake."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlmodel import select

from hotline.models import AuditEvent, Contact, HelpRequest, Operator
from tests.conftest import LEUVEN_NUMBER, STAFF_PASSWORD, StaffClient
from tests.test_walking_skeleton import SHOPPING_TODAY_IN_LEUVEN, walk_to_a_request

STAFF_PAGES = ["/requests/", "/requests/call-backs", "/requests/new", "/volunteers/",
               "/dashboard/", "/accounts/me"]  # fmt: skip


def csrf_from(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def log_in(app, username: str, password: str):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the login page follows the browser
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    return client, response


def make_call_request(twilio, db_session, caller: str = "+32470123456", call_sid: str = "1"):
    """A resident calls the line and asks for groceries today (signed webhooks)."""
    import tests.test_walking_skeleton as skeleton

    skeleton_caller, skeleton_sid = skeleton.CALLER, skeleton.CALL_SID
    skeleton.CALLER, skeleton.CALL_SID = caller, "CA" + call_sid * 32
    try:
        walk_to_a_request(twilio, SHOPPING_TODAY_IN_LEUVEN)
    finally:
        skeleton.CALLER, skeleton.CALL_SID = skeleton_caller, skeleton_sid
    db_session.rollback()
    return db_session.exec(select(HelpRequest).order_by(HelpRequest.id.desc())).first()


@pytest.mark.parametrize("page", STAFF_PAGES + ["/accounts/"])
def test_anonymous_visitors_are_sent_to_the_login_page(app, page):
    response = app.test_client().get(page)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_login_page_and_the_health_check_need_no_login(app):
    client = app.test_client()
    assert client.get("/login").status_code == 200
    assert client.get("/health").get_json() == {"status": "ok"}


def test_an_operator_logs_in_and_lands_on_the_queue(app, staff):
    client, response = log_in(app, "olga", STAFF_PASSWORD)
    assert response.headers["Location"] == "/requests/"
    page = client.get("/requests/").get_data(as_text=True)
    assert "Olga Peeters" in page


def test_a_wrong_password_is_refused_with_a_message(app, staff):
    client, response = log_in(app, "olga", "not the password")
    assert response.status_code == 401
    assert "Unknown username or wrong password." in response.get_data(as_text=True)
    assert client.get("/requests/").status_code == 302


def test_repeated_failures_lock_the_account_and_the_page_says_so(app, staff, db_session):
    for _ in range(4):
        log_in(app, "olga", "guess")
    _client, fifth = log_in(app, "olga", "guess")
    assert "Too many failed attempts. This account is locked until" in fifth.get_data(as_text=True)
    # Even the right password waits until the lock ends.
    _client, right = log_in(app, "olga", STAFF_PASSWORD)
    assert right.status_code == 401
    assert "locked until" in right.get_data(as_text=True)
    olga = db_session.exec(select(Operator).where(Operator.username == "olga")).one()
    assert olga.failed_logins == 5 and olga.locked_until is not None


def test_a_form_without_its_csrf_token_is_refused(operator, db_session, twilio):
    help_request = make_call_request(twilio, db_session)
    response = operator.post(
        f"/requests/{help_request.id}/cancel", {"reason": "test", "csrf_token": None}
    )
    assert response.status_code == 400
    db_session.refresh(help_request)
    assert help_request.status == "new"


def test_an_operator_cannot_manage_accounts(operator):
    assert operator.get("/accounts/").status_code == 403
    response = operator.post(
        "/accounts/",
        {"username": "mallory", "display_name": "M", "password": "x" * 12, "locale": "nl"},
    )
    assert response.status_code == 403


def test_a_coordinator_creates_an_operator_who_can_then_log_in(app, coordinator):
    response = coordinator.post(
        "/accounts/",
        {"username": "Jan", "display_name": "Jan Maes", "password": "lang genoeg wachtwoord",
         "locale": "en"},
    )  # fmt: skip
    assert response.status_code == 302
    assert "Jan Maes" in coordinator.get("/accounts/").get_data(as_text=True)
    _client, login = log_in(app, "jan", "lang genoeg wachtwoord")
    assert login.status_code == 302


def test_a_coordinator_deactivates_an_account_and_it_can_no_longer_log_in(app, coordinator, staff):
    response = coordinator.post(f"/accounts/{staff['olga']}", {"role": "operator"})
    assert response.status_code == 302
    _client, login = log_in(app, "olga", STAFF_PASSWORD)
    assert login.status_code == 401


def test_a_coordinator_cannot_lock_themselves_out(coordinator, staff):
    coordinator.post(f"/accounts/{staff['cor']}", {"role": "operator", "active": "y"})
    page = coordinator.get("/accounts/").get_data(as_text=True)
    assert "cannot remove your own coordinator rights" in page


def test_an_operator_keeps_their_phone_in_the_vault_and_never_sees_it_again(
    operator, db_session, staff
):
    response = operator.post(
        "/accounts/me",
        {"display_name": "Olga P.", "locale": "en", "phone_number": "0470 11 22 33"},
    )
    assert response.status_code == 302
    olga = db_session.get(Operator, staff["olga"])
    assert olga.contact_id is not None and olga.locale == "en"
    page = operator.get("/accounts/me").get_data(as_text=True)
    assert "A number is on file." in page
    assert "11 22 33" not in page and "470112233" not in page


def test_the_ui_follows_the_operators_language(operator):
    operator.post("/accounts/me", {"display_name": "Olga", "locale": "nl"})
    dutch = operator.get("/requests/").get_data(as_text=True)
    operator.post("/accounts/me", {"display_name": "Olga", "locale": "en"})
    english = operator.get("/requests/").get_data(as_text=True)
    assert "Queue" in english
    assert "Wachtrij" in dutch


def test_a_request_made_by_phone_appears_in_the_queue_without_a_number(
    operator, twilio, db_session
):
    help_request = make_call_request(twilio, db_session)
    rows = operator.get("/requests/", headers={"HX-Request": "true"}).get_data(as_text=True)
    # Only the part that htmx swaps in every few seconds.
    assert rows.lstrip().startswith('<div id="queue"') and "<html" not in rows
    assert help_request.reference in rows
    assert "470123456" not in rows and "470 12 34 56" not in rows


def test_the_queue_puts_urgent_requests_first_then_the_oldest(operator, db_session, twilio):
    first = make_call_request(twilio, db_session, call_sid="1")
    second = make_call_request(twilio, db_session, caller="+32470654321", call_sid="2")
    first.urgency = "coming_days"
    db_session.add(first)
    db_session.commit()
    page = operator.get("/requests/").get_data(as_text=True)
    assert page.index(second.reference) < page.index(first.reference)


def test_the_queue_shows_who_called_before_and_filters_by_category(operator, db_session, twilio):
    make_call_request(twilio, db_session, call_sid="1")
    again = make_call_request(twilio, db_session, call_sid="2")  # same caller
    rows = operator.get("/requests/?category=groceries", headers={"HX-Request": "true"})
    row = re.search(rf'data-reference="{again.reference}">(.*?)</tr>', rows.get_data(as_text=True),
                    re.S).group(1)  # fmt: skip
    assert row.rstrip().endswith("<td>yes</td>") or "<td>ja</td>" in row
    empty = operator.get("/requests/?category=dog", headers={"HX-Request": "true"})
    assert again.reference not in empty.get_data(as_text=True)


def test_triage_corrects_the_request_and_the_history_says_who(operator, db_session, twilio):
    help_request = make_call_request(twilio, db_session)
    response = operator.post(
        f"/requests/{help_request.id}/triage",
        {"category": "meal", "postcode": "3010", "urgency": "coming_days", "language": "nl",
         "notes": "Belt liefst na 10 uur"},
    )  # fmt: skip
    assert response.status_code == 302
    db_session.refresh(help_request)
    assert (help_request.category, help_request.postcode, help_request.status) == (
        "meal", "3010", "triaged",
    )  # fmt: skip
    page = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)
    assert "Olga Peeters" in page
    assert "Corrected what is needed: groceries or pharmacy → a meal" in page  # words, no codes
    assert "notes changed" in page and "Belt liefst" not in page.split('class="history"')[1]
    events = db_session.exec(select(AuditEvent.action)).all()
    assert events == ["triaged", "status"]


def test_triage_refuses_a_postcode_the_line_does_not_serve(operator, db_session, twilio):
    help_request = make_call_request(twilio, db_session)
    response = operator.post(
        f"/requests/{help_request.id}/triage",
        {"category": "meal", "postcode": "1000", "urgency": "today", "language": "nl"},
    )
    assert response.status_code == 400
    db_session.refresh(help_request)
    assert help_request.postcode == "3000"


def test_a_duplicate_is_closed_and_points_at_the_original(operator, db_session, twilio):
    original = make_call_request(twilio, db_session, call_sid="1")
    duplicate = make_call_request(twilio, db_session, call_sid="2")
    operator.post(f"/requests/{duplicate.id}/duplicate", {"original_reference": original.reference})
    db_session.refresh(duplicate)
    assert (duplicate.status, duplicate.duplicate_of_id) == ("cancelled", original.id)
    assert duplicate.cancel_reason == f"duplicate of {original.reference}"


def test_cancelling_needs_a_reason_and_a_cancelled_request_stays_closed(
    operator, db_session, twilio
):
    help_request = make_call_request(twilio, db_session)
    assert operator.post(f"/requests/{help_request.id}/cancel", {"reason": ""}).status_code == 400
    operator.post(f"/requests/{help_request.id}/cancel", {"reason": "Familie helpt al"})
    db_session.refresh(help_request)
    assert help_request.status == "cancelled"
    again = operator.post(
        f"/requests/{help_request.id}/triage",
        {"category": "meal", "postcode": "3000", "urgency": "today", "language": "nl"},
    )
    assert "The request is cancelled already" in again.get_data(as_text=True)


def test_a_call_taken_by_hand_becomes_a_request_and_its_number_goes_to_the_vault(
    operator, db_session
):
    response = operator.post(
        "/requests/new",
        {"phone_number": "016 12 34 56", "language": "nl", "category": "dog",
         "postcode": "3012", "urgency": "today", "message": "Hond Max moet 2x per dag buiten"},
    )  # fmt: skip
    assert response.status_code == 302
    help_request = db_session.exec(select(HelpRequest)).one()
    assert (help_request.source, help_request.status, help_request.category) == (
        "live", "triaged", "dog",
    )  # fmt: skip
    assert help_request.contact_id is not None
    page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "Hond Max" in page
    assert "12 34 56" not in page and "16123456" not in page


def test_a_live_call_with_an_invalid_number_is_refused_and_nothing_is_stored(operator, db_session):
    response = operator.post(
        "/requests/new",
        {"phone_number": "12", "language": "nl", "category": "dog", "postcode": "3012",
         "urgency": "today"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "not a valid phone number" in response.get_data(as_text=True)
    assert db_session.exec(select(HelpRequest)).all() == []
    assert db_session.exec(select(Contact)).all() == []


def test_call_back_requests_have_their_own_list(operator, db_session, app):
    from hotline.db import line_row
    from hotline.intake import create_help_request

    settings = app.extensions["hotline.settings"]
    line = line_row(db_session, settings, "leuven")
    callback = create_help_request(db_session, line=line, contact=None, source="callback")
    ordinary = create_help_request(db_session, line=line, contact=None, category="meal")
    db_session.commit()
    page = operator.get("/requests/call-backs").get_data(as_text=True)
    assert callback.reference in page and ordinary.reference not in page


def test_operator_add_creates_an_account_from_the_command_line(app, db_session):
    from flask.cli import ScriptInfo

    from hotline.cli import cli

    runner = CliRunner()
    script = ScriptInfo(create_app=lambda: app)
    result = runner.invoke(
        cli,
        ["operator", "add", "els", "--name", "Els Peeters", "--coordinator", "--password-stdin"],
        input="een lang wachtwoord\n",
        obj=script,
    )
    assert result.exit_code == 0, result.output
    els = db_session.exec(select(Operator).where(Operator.username == "els")).one()
    assert els.role == "coordinator" and els.display_name == "Els Peeters"
    short = runner.invoke(
        cli, ["operator", "add", "kim", "--password-stdin"], input="kort\n", obj=script
    )
    assert short.exit_code == 1 and "at least 10 characters" in short.output


def test_a_staff_page_never_shows_the_hotline_callers_number(app, operator, twilio, db_session):
    help_request = make_call_request(twilio, db_session)
    for page in STAFF_PAGES + [f"/requests/{help_request.id}"]:
        body = operator.get(page).get_data(as_text=True)
        assert "470123456" not in body and "0470 12" not in body, page
    assert LEUVEN_NUMBER  # the line's own public number may appear; a resident's never


def test_staff_client_sanity(app, staff):
    # The helper used by these tests really logs in (guards against vacuous tests).
    client = StaffClient(app, "cor")
    assert client.get("/accounts/").status_code == 200


@pytest.mark.parametrize(
    "next_url", ["//evil.example", "/\t/evil.example", "/\\evil.example",
                 "https://evil.example/", "/\\\\evil.example"],
)  # fmt: skip
def test_the_login_never_sends_you_to_another_site(app, staff, next_url):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={"username": "olga", "password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/requests/"


def test_the_login_returns_you_to_the_page_you_asked_for(app, staff):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=/volunteers/",
        data={"username": "olga", "password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/volunteers/"


def test_numbers_typed_into_notes_messages_or_reasons_are_not_kept(operator, db_session):
    operator.post(
        "/requests/new",
        {"phone_number": "016 12 34 56", "language": "nl", "category": "dog",
         "postcode": "3012", "urgency": "today", "message": "Bel mijn dochter op 0471 22 33 44"},
    )  # fmt: skip
    help_request = db_session.exec(select(HelpRequest)).one()
    operator.post(
        f"/requests/{help_request.id}/triage",
        {"category": "dog", "postcode": "3012", "urgency": "today", "language": "nl",
         "notes": "dochter: 0470 99 88 77"},
    )  # fmt: skip
    operator.post(f"/requests/{help_request.id}/cancel", {"reason": "buur 0472/11.22.33 helpt"})
    db_session.expire_all()
    stored = db_session.get(HelpRequest, help_request.id)
    assert stored.message == "Bel mijn dochter op [number]"
    assert stored.notes == "dochter: [number]"
    assert stored.cancel_reason == "buur [number] helpt"
    audit = " ".join(str(detail) for detail in db_session.exec(select(AuditEvent.detail)))
    assert "99 88 77" not in audit and "11.22.33" not in audit
    page = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)
    for digits in ("22 33 44", "99 88 77", "11.22.33", "12 34 56"):
        assert digits not in page


TWO_LINES = """
[hotline]
flows_dir = "{flows}"

[lines.leuven]
name = "Leuven Helpt"
phone_number = "+32 16 27 27 72"
flow = "leuven"
languages = ["nl", "fr", "en"]
[lines.leuven.postcodes]
3000 = "Leuven"

[lines.herent]
name = "Herent Helpt"
phone_number = "+32 16 85 20 00"
flow = "leuven"
languages = ["nl", "fr", "en"]
[lines.herent.postcodes]
3020 = "Herent"
"""


def test_an_operator_of_one_line_sees_only_that_lines_requests(app_config, tmp_path):
    from sqlmodel import Session

    from hotline import create_app
    from hotline.access.accounts import create_operator
    from hotline.db import line_row
    from hotline.intake import create_help_request
    from tests.conftest import ROOT

    config = tmp_path / "two-lines.toml"
    config.write_text(TWO_LINES.format(flows=ROOT / "ivr_flows"))
    app = create_app({**app_config, "config_file": config})
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        create_operator(session, username="hanne", display_name="Hanne", locale="en",
                        password=STAFF_PASSWORD, lines=["herent"])  # fmt: skip
        leuven = create_help_request(session, line=line_row(session, settings, "leuven"),
                                     contact=None, postcode="3000")  # fmt: skip
        herent = create_help_request(session, line=line_row(session, settings, "herent"),
                                     contact=None, postcode="3020")  # fmt: skip
        session.commit()
        leuven_id, leuven_ref, herent_id, herent_ref = (
            leuven.id, leuven.reference, herent.id, herent.reference,
        )  # fmt: skip
    hanne = StaffClient(app, "hanne")
    queue = hanne.get("/requests/").get_data(as_text=True)
    assert herent_ref in queue and leuven_ref not in queue
    assert hanne.get(f"/requests/{herent_id}").status_code == 200
    assert hanne.get(f"/requests/{leuven_id}").status_code == 404  # another line's: as if none
    assert hanne.post(f"/requests/{leuven_id}/cancel", {"reason": "x"}).status_code == 404
    assert hanne.get("/dashboard/?line=leuven").status_code == 404
    app.extensions["hotline.engine"].dispose()
