"""Security headers: every answer forbids framing, sniffing and foreign or inline scripts.

The UI is built to run under that policy: no page carries an inline script, an on…= handler
or a style="…" attribute, and every free-text field reminds the operator what not to write.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import render_template

from callcenter_ui.live_calls import LoggedCallForm
from hotline import create_app
from hotline.access.api_tokens import create_token
from tests.conftest import LEUVEN_NUMBER, StaffClient
from tests.volunteers_helpers import make_request, make_volunteer

TEMPLATES = Path(__file__).resolve().parent.parent / "callcenter_ui" / "templates"
REMINDER = (
    "Please write only what the help needs: no names, addresses or phone numbers, "
    "and no health details beyond that."
)
# What a CSP without 'unsafe-inline' would block in a page (or that needs 'unsafe-eval').
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)
# Blueprints that answer JSON, text or files, not pages.
NOT_PAGES = ("api", "observability", "static", "ui")
TRIGGER_FILTER = re.compile(r'hx-trigger="[^"]*\[')


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def assert_secured(response) -> None:
    """The headers every answer of the app carries, whatever it is."""
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    csp = policy(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]


@pytest.fixture
def api_token(db_session, staff) -> str:
    return create_token(db_session, operator_id=staff["olga"], name="weekly report")


def test_a_staff_page_the_login_page_and_a_stylesheet_carry_the_headers(app, operator):
    for response in (
        operator.get("/requests/"),
        app.test_client().get("/login"),
        operator.get("/static/ui/callcenter.css"),
    ):
        assert response.status_code == 200
        assert_secured(response)


def test_an_api_answer_and_an_api_refusal_carry_the_headers(app, api_token):
    client = app.test_client()
    answered = client.get("/api/v1/requests", headers={"Authorization": f"Bearer {api_token}"})
    refused = client.get("/api/v1/requests")
    assert (answered.status_code, refused.status_code) == (200, 401)
    assert_secured(answered)
    assert_secured(refused)


def test_a_twilio_webhook_still_answers_twiml_with_the_headers(app, twilio):
    call = {"CallSid": "CA" + "5" * 32, "From": "+32470123456", "To": LEUVEN_NUMBER}
    answered = twilio.post("/twilio/voice", call)
    forged = twilio.post("/twilio/voice", call, signature="forged")
    assert answered.status_code == 200
    assert answered.mimetype == "text/xml" and b"<Response>" in answered.data
    assert forged.status_code == 403
    assert_secured(answered)
    assert_secured(forged)


def test_health_and_a_missing_page_carry_the_headers(app):
    client = app.test_client()
    assert client.get("/health").status_code == 200
    assert_secured(client.get("/health"))
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert_secured(missing)


def test_the_policy_allows_no_inline_script_no_eval_and_only_the_apps_own_media(app):
    csp = policy(app.test_client().get("/login"))
    every_source = [source for sources in csp.values() for source in sources]
    assert "'unsafe-inline'" not in every_source and "'unsafe-eval'" not in every_source
    assert csp["style-src"] == ["'self'"]
    # The request page's <audio> plays /requests/<id>/recording, the app's own proxy.
    assert csp["media-src"] == ["'self'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]


def test_hsts_is_sent_over_https_only(app):
    client = app.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    over_https = client.get("/login", base_url="https://localhost")
    assert over_https.headers["Strict-Transport-Security"].startswith("max-age=")


def test_behind_a_trusted_proxy_hsts_follows_the_scheme_the_visitor_used(app_config):
    app = create_app({**app_config, "trust_proxy": True})
    client = app.test_client()
    via_https = client.get("/health", headers={"X-Forwarded-Proto": "https"})
    via_http = client.get("/health", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" in via_https.headers
    assert "Strict-Transport-Security" not in via_http.headers
    app.extensions["hotline.engine"].dispose()


def test_the_demo_on_plain_http_is_not_redirected_and_its_operators_can_log_in(app_config, staff):
    app = create_app({**app_config, "public_base_url": "http://localhost:5000"})
    login = app.test_client().get("/login")
    assert login.status_code == 200  # no redirect to https
    assert "Secure" not in login.headers["Set-Cookie"]
    olga = StaffClient(app, "olga")  # logs in over http and reaches the queue
    assert olga.get("/requests/").status_code == 200
    app.extensions["hotline.engine"].dispose()


def test_no_template_holds_an_inline_script_handler_or_style(app):
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        source = template.read_text()
        for pattern in (
            INLINE_SCRIPT,
            EVENT_HANDLER,
            STYLE_ATTRIBUTE,
            STYLE_ELEMENT,
            TRIGGER_FILTER,
        ):
            found += [
                f"{template.relative_to(TEMPLATES)}: {m.group(0)}" for m in pattern.finditer(source)
            ]
    assert found == []


def test_no_staff_page_holds_anything_the_policy_would_block(app, db_session, coordinator):
    volunteer = make_volunteer(app, db_session, name="Mia Claes")
    help_request = make_request(app, db_session, message="Boodschappen voor vrijdag")
    ids = {"request_id": help_request.id, "volunteer_id": volunteer.id}
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.split(".")[0] in NOT_PAGES:
            continue
        if set(rule.arguments) <= set(ids):
            pages.append(rule.build({name: ids[name] for name in rule.arguments})[1])
    assert len(pages) > 12 and f"/requests/{help_request.id}" in pages

    for path in pages:
        response = coordinator.get(path)  # a coordinator may open every page
        assert response.status_code in (200, 302, 404), path
        if response.status_code != 200 or response.mimetype != "text/html":
            continue  # a redirect, a recording that is not there
        assert_secured(response)
        html = response.get_data(as_text=True)
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, STYLE_ATTRIBUTE, STYLE_ELEMENT):
            assert not pattern.search(html), (path, pattern.search(html).group(0))


def reminder_for(html: str, field_id: str) -> bool:
    """The field points its aria-describedby at a reminder that says the sentence."""
    field = re.search(rf'<(?:textarea|input)[^>]*\bid="{field_id}"[^>]*>', html)
    hint = re.search(r'aria-describedby="([^"]+)"', field.group(0)) if field else None
    if hint is None:
        return False
    reminder = re.search(rf'<p[^>]*\bid="{hint.group(1)}"[^>]*>([^<]*)</p>', html)
    return reminder is not None and reminder.group(1) == REMINDER


def test_every_field_for_what_a_resident_said_reminds_the_operator_what_not_to_write(
    app, db_session, operator
):
    help_request = make_request(app, db_session)
    new_request = operator.get("/requests/new").get_data(as_text=True)
    request_page = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)

    assert reminder_for(new_request, "message")
    assert reminder_for(request_page, "t-notes")  # triage notes
    assert reminder_for(request_page, "c-reason")  # why it was cancelled
    assert not reminder_for(new_request, "postcode")  # a chosen area needs no reminder


def test_the_card_of_a_call_taken_live_reminds_the_operator_too(app):
    # English, like the logged-in staff of the other tests (the default would be Dutch)
    with app.test_request_context("/requests/", headers={"Accept-Language": "en"}):
        form = LoggedCallForm(meta={"csrf": False})
        for name in ("language", "category", "postcode", "urgency"):
            form[name].choices = [("", "—")]
        html = render_template("live_calls/_form.html", call_id=7, live=True, form=form)
    assert reminder_for(html, "call-7-notes")
